/**
 * What authentication must never do: write a credential to the log, or let a refused request
 * reach storage. (Which credentials are accepted is in api.test.ts.)
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { call, ENDPOINT, recordingEnv, uniqueId, waitForStatus } from "./http";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("credentials in logs", () => {
  it("never logs an API key or bearer token, wrong or right", async () => {
    // The Durable Objects and the Queue consumer run in this isolate too, so this sees their lines.
    const lines: string[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(args.map(String).join(" "));
      });
    }
    // Each with a random part, looked for on its own too, so that a key logged in pieces shows.
    const [bearerPart, apiKeyPart, jwtPart] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    const wrongBearer = `wrong-bearer-${bearerPart}`;
    const wrongApiKey = `wrong-apikey-${apiKeyPart}`;
    const jwt = `eyJ.${jwtPart}.sig`;
    const id = uniqueId("logged");

    const refused = [
      await call({ action: "stats" }, { authorization: `Bearer ${wrongBearer}` }),
      await call({ action: "stats" }, { apikey: wrongApiKey }),
      await call({ action: "stats" }, { authorization: `Basic ${wrongBearer}` }),
    ];
    for (const response of refused) expect(response.status).toBe(401);
    // Right keys, through a whole job's life and a refused request, so every component logs.
    const headers = { authorization: `Bearer ${jwt}`, apikey: "test-key-2" };
    expect((await call({ action: "enqueue", job: { id, type: "data_sync", payload: {} } }, { authorization: "Bearer test-key-1" })).status).toBe(201);
    await waitForStatus(id, ["completed"]);
    expect((await call({ action: "cancel", jobId: id }, headers)).status).toBe(409);
    expect((await call({ action: "status", jobId: "nope" }, headers)).status).toBe(404);

    // The spy saw the refusals and the job's own lines: it was listening where the logs go.
    expect(lines.filter((line) => line.includes('"code":"UNAUTHORIZED"'))).toHaveLength(3);
    expect(lines.some((line) => line.includes(id))).toBe(true);
    for (const secret of [wrongBearer, wrongApiKey, jwt, bearerPart, apiKeyPart, jwtPart, "test-key-1", "test-key-2"]) {
      expect(lines.filter((line) => line.includes(secret))).toEqual([]);
    }
  });
});

describe("a refused request touches no storage", () => {

  async function send(testEnv: Env, body: unknown, headers: Record<string, string>) {
    const ctx = createExecutionContext();
    const request = new Request(ENDPOINT, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
    const response = await worker.fetch(request, testEnv, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  }

  it("answers 401 before any Durable Object or Queue is reached, for every action", async () => {
    const queueName = uniqueId("auth-probe");
    const bodies = [
      { action: "enqueue", queueName, job: { type: "data_sync", payload: {} } },
      { action: "status", queueName, jobId: "x" },
      { action: "stats", queueName },
      { action: "cancel", queueName, jobId: "x" },
      { action: "list", queueName },
      { action: "history", queueName, jobId: "x" },
      { action: "retry", queueName, jobId: "x" },
      { action: "retry", queueName, status: "failed" },
      { action: "throughput", queueName },
      // Unpaused again at once: the job enqueued above must run.
      { action: "pause", queueName },
      { action: "unpause", queueName },
    ];
    for (const headers of [{}, { authorization: "Bearer wrong" }, { apikey: "wrong" }] as Record<string, string>[]) {
      for (const body of bodies) {
        const { env: testEnv, touched } = recordingEnv({ QUEUE_NAMES: `${env.QUEUE_NAMES},${queueName}` });
        const response = await send(testEnv, body, headers);
        expect(response.status).toBe(401);
        expect(touched, `${JSON.stringify(headers)} ${body.action}`).toEqual([]);
      }
    }
    // The same requests with a right key do reach the coordinator: the recording works.
    const { env: probeEnv } = recordingEnv({ QUEUE_NAMES: `${env.QUEUE_NAMES},${queueName}` });
    for (const body of bodies) {
      const { env: testEnv, touched } = recordingEnv({ QUEUE_NAMES: `${env.QUEUE_NAMES},${queueName}` });
      await send(testEnv, body, { authorization: "Bearer test-key-1" });
      expect(touched).toContain("QUEUE_COORDINATOR.getByName");
    }
    // Let the job that enqueue made finish before the test ends.
    await expect.poll(async () => {
      const jobs = await send(probeEnv, { action: "list", queueName, status: "completed" }, { authorization: "Bearer test-key-1" });
      return ((await jobs.json()) as { data: { jobs: unknown[] } }).data.jobs.length;
    }, { timeout: 10_000, interval: 50 }).toBe(1);
  });
});
