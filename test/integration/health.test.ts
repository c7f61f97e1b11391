/**
 * GET /health is liveness for anyone: it reaches no Durable Object and no LangGraph and shows no
 * address. GET /health/ready is readiness for callers with a key: LangGraph and each queue's
 * circuit, 503 when not ready.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { AUTH, recordingEnv, type Envelope } from "./http";

afterEach(() => {
  vi.restoreAllMocks();
});

/** GETs `path` from the Worker with `testEnv`, and the answer parsed. */
async function get(path: string, testEnv: Env, headers: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`https://queue.test${path}`, { headers }), testEnv, ctx);
  await waitOnExecutionContext(ctx);
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as Envelope };
}

describe("GET /health (liveness)", () => {
  it("answers a stranger ok, without waking a coordinator, calling LangGraph or naming an address", async () => {
    const outgoing = vi.spyOn(globalThis, "fetch");
    const { env: testEnv, touched } = recordingEnv();
    const { status, body, text } = await get("/health", testEnv);
    expect(status).toBe(200);
    expect(body).toEqual({ success: true, data: { status: "ok" } });
    expect(touched).toEqual([]);
    expect(outgoing).not.toHaveBeenCalled();
    expect(text).not.toContain(env.LANGGRAPH_API_URL);
    expect(text).not.toContain("127.0.0.1");
  });

  it("is the same answer with a key: liveness says nothing more", async () => {
    const { env: testEnv, touched } = recordingEnv();
    expect((await get("/health", testEnv, AUTH)).body).toEqual({ success: true, data: { status: "ok" } });
    expect(touched).toEqual([]);
  });
});

describe("GET /health/ready (readiness)", () => {
  it("refuses a missing or wrong key with 401, before any Durable Object or LangGraph call", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong" }, { apikey: "wrong" }] as Record<string, string>[]) {
      const outgoing = vi.spyOn(globalThis, "fetch");
      const { env: testEnv, touched } = recordingEnv();
      const { status, body, text } = await get("/health/ready", testEnv, headers);
      expect(status, JSON.stringify(headers)).toBe(401);
      expect(body).toMatchObject({ success: false, code: "UNAUTHORIZED" });
      expect(touched).toEqual([]);
      expect(outgoing).not.toHaveBeenCalled();
      expect(text).not.toContain(env.LANGGRAPH_API_URL);
      vi.restoreAllMocks();
    }
  });

  it("answers 200 with LangGraph's URL, flavour and latency and every queue's circuit when LangGraph answers", async () => {
    const { status, body } = await get("/health/ready", env, AUTH);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      success: true,
      data: {
        status: "ready",
        langgraph: { ok: true, flavor: "workflows", url: `${env.LANGGRAPH_API_URL}/health` },
        queues: { "langgraph-queue": { circuit: "closed" }, reports: { circuit: "closed" } },
      },
    });
    expect(body.data.langgraph.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it("answers 503 NOT_READY, with the same report, when LangGraph does not answer", async () => {
    // Port 1: nothing listens there, so the connection is refused at once.
    const deadUrl = "http://127.0.0.1:1";
    const { status, body } = await get("/health/ready", { ...env, LANGGRAPH_API_URL: deadUrl }, { apikey: "test-key-2" });
    expect(status).toBe(503);
    expect(body).toMatchObject({
      success: false,
      code: "NOT_READY",
      details: {
        status: "not_ready",
        langgraph: { ok: false, flavor: "workflows", url: `${deadUrl}/health` },
        queues: { "langgraph-queue": { circuit: "closed" }, reports: { circuit: "closed" } },
      },
    });
    expect(body.error).toMatch(/^not ready: LangGraph is not answering/);
    expect(body.details.langgraph.error).toBeTruthy();
  });
});
