/// <reference types="vite/client" />
/**
 * GET /openapi.json against the Worker that serves it. The document is the one src/http/openapi.ts
 * builds (test/logic/openapi-document.test.ts validates it with an OpenAPI validator in Node, which
 * this runtime cannot run). Here its schemas meet the Worker's real answers: README's example
 * requests, sent as a client would, and requests that reach every action and error code the
 * endpoint can be brought to, each answer validated against the response the document gives for
 * its path and status and, on the endpoint, for its action (`x-actions`). JSON Schema 2020-12 by
 * Ajv, as OpenAPI 3.1 uses it.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import readme from "../../README.md?raw";
import { MAX_BODY_BYTES } from "../../src/http/api-schema";
import { ERROR_STATUS, type ErrorCode } from "../../src/http/errors";
import { ENDPOINT_PATH, openApiDocument } from "../../src/http/openapi";
import worker from "../../src/index";
import { documentSchemas, readmeExamples } from "../support/openapi-examples";
import { AUTH, call, ENDPOINT, uniqueId, waitForStatus } from "./http";

const ORIGIN = new URL(ENDPOINT).origin;
const examples = readmeExamples(readme);
const readmeRequests = examples.filter((e) => e.kind === "request" && !e.skipped);

interface Operation {
  responses: Record<string, { content?: Record<string, unknown>; headers?: Record<string, unknown> }>;
  "x-actions"?: Record<string, { request: { $ref: string }; responses: Record<string, { $ref: string }>; errorCodes: string[] }>;
}
let document: { paths: Record<string, Record<string, Operation>> };
let schemaAt: ReturnType<typeof documentSchemas>;

beforeAll(async () => {
  const response = await exports.default.fetch(`${ORIGIN}/openapi.json`);
  document = await response.json();
  schemaAt = documentSchemas(document);
});

const refPointer = (ref: { $ref: string }) => ref.$ref.slice(2).split("/");

/**
 * What is wrong with an answer, by the document: its status undocumented for the operation, its
 * body invalid under that status's schema, or on the endpoint, not the action's own answer (a
 * success) or not one of the action's codes (an error). [] when nothing is.
 */
function problems(method: string, path: string, answer: { status: number; headers: Headers; body: unknown }, action?: string): string[] {
  const operation = document.paths[path]![method]!;
  const documented = operation.responses[String(answer.status)];
  if (!documented) return [`${method.toUpperCase()} ${path} documents no ${answer.status}`];
  const found = schemaAt(["paths", path, method, "responses", String(answer.status), "content", "application/json", "schema"])(answer.body);
  for (const header of Object.keys(documented.headers ?? {})) if (!answer.headers.has(header)) found.push(`no ${header} header`);
  const documentedAction = action === undefined ? undefined : operation["x-actions"]![action];
  if (documentedAction && answer.status < 300) {
    const own = documentedAction.responses[String(answer.status)];
    if (!own) found.push(`${action} documents no ${answer.status}`);
    else found.push(...schemaAt(refPointer(own))(answer.body));
  }
  if (documentedAction && answer.status >= 400) {
    const { code } = answer.body as { code: ErrorCode };
    if (!documentedAction.errorCodes.includes(code)) found.push(`${action} does not document ${code}`);
  }
  return found;
}

async function send(body: unknown, headers: Record<string, string> = AUTH, overrides: Partial<Env> = {}) {
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(ENDPOINT, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) }),
    { ...env, ...overrides },
    ctx,
  );
  const answer = { status: response.status, headers: response.headers, body: (await response.json()) as { code?: string } };
  await waitOnExecutionContext(ctx);
  return answer;
}

describe("GET /openapi.json", () => {
  it("serves the document openapi.ts builds, without a key, to any origin", async () => {
    const response = await exports.default.fetch(`${ORIGIN}/openapi.json`, { headers: { origin: "https://explorer.example" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    const served = await response.json();
    expect(served).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
    expect(problems("get", "/openapi.json", { status: 200, headers: response.headers, body: served })).toEqual([]);
  });
});

describe("README's examples against the Worker", () => {
  // JOB_TYPES=* as the examples' graphs (my_agent, approval, conversation) are no seed type: they are
  // then enqueued, as under `npm start` with those graphs, rather than refused.
  it(`answers each of README's ${readmeRequests.length} example requests as documented, with a key and without`, async () => {
    expect(readmeRequests.length).toBeGreaterThanOrEqual(10);
    const request = schemaAt(["paths", ENDPOINT_PATH, "post", "requestBody", "content", "application/json", "schema"]);
    const seen: string[] = [];
    for (const example of readmeRequests) {
      const { action } = example.json as { action: string };
      const where = `README.md:${example.line} (${action})`;
      expect({ where, errors: request(example.json) }).toEqual({ where, errors: [] });
      const own = document.paths[ENDPOINT_PATH]!.post!["x-actions"]![action]!.request;
      expect({ where, errors: schemaAt(refPointer(own))(example.json) }).toEqual({ where, errors: [] });

      const refused = await send(example.json, {});
      expect({ where, status: refused.status, problems: problems("post", ENDPOINT_PATH, refused, action) }).toEqual({ where, status: 401, problems: [] });
      const answer = await send(example.json, AUTH, { JOB_TYPES: "*" });
      expect({ where, problems: problems("post", ENDPOINT_PATH, answer, action) }).toEqual({ where, problems: [] });
      seen.push(`${action} ${answer.status}${answer.body.code ? ` ${answer.body.code}` : ""}`);
    }
    // The seed's job, its status and history, stats and lists: the README's own walk-through answers.
    expect(seen).toEqual(expect.arrayContaining(["enqueue 201", "status 200", "stats 200", "list 200", "history 200"]));
    // README's operator actions pause the queue: the jobs of the tests after this one must run.
    for (const queueName of env.QUEUE_NAMES.split(",")) expect((await send({ action: "unpause", queueName })).status).toBe(200);
  });
});

describe("every action and error code of the endpoint, against the document", () => {
  it("answers as documented, success and refusal alike", async () => {
    const seen = new Set<string>();
    const expectDocumented = (body: { action?: string }, answer: Awaited<ReturnType<typeof call>>, status: number) => {
      const action = typeof body === "object" && body.action ? body.action : undefined;
      const where = `${JSON.stringify(body).slice(0, 80)} → ${answer.status} ${answer.body.code ?? ""}`;
      expect({ where, status: answer.status, problems: problems("post", ENDPOINT_PATH, answer, action) }).toEqual({ where, status, problems: [] });
      seen.add(answer.status < 300 ? `${action} ${answer.status}` : String(answer.body.code));
      return answer.body;
    };
    const ask = async (body: any, status: number, headers = AUTH) => expectDocumented(body, await call(body, headers), status);

    const job = (id: string, payload: object = { topic: id }) => ({ id, type: "research_workflow", payload });
    const id = uniqueId("openapi");
    await ask({ action: "enqueue", job: job(id) }, 201);
    await ask({ action: "enqueue", job: job(id) }, 200);
    await ask({ action: "enqueue", job: job(id, { other: true }) }, 409);
    const batch = [job(uniqueId("batch")), job(uniqueId("batch"))];
    await ask({ action: "enqueueBatch", jobs: batch }, 201);
    await ask({ action: "enqueueBatch", jobs: batch }, 200);
    // More new jobs than the queue's capacity (30 here): refused whole.
    await ask({ action: "enqueueBatch", jobs: Array.from({ length: 31 }, () => job(uniqueId("full"))) }, 429);

    await waitForStatus(id, ["completed"]);
    await ask({ action: "status", jobId: id }, 200);
    await ask({ action: "history", jobId: id }, 200);
    await ask({ action: "cancel", jobId: id }, 409);
    await ask({ action: "resume", jobId: id, value: { approved: true } }, 409);
    await ask({ action: "retry", jobId: id }, 409);
    const long = uniqueId("long");
    await ask({ action: "enqueue", job: job(long, { delayMs: 10_000 }) }, 201);
    await ask({ action: "cancel", jobId: long }, 200);
    await ask({ action: "status", jobId: long }, 200);
    await ask({ action: "stats", queueName: "reports" }, 200);
    await ask({ action: "throughput" }, 200);
    const page = (await ask({ action: "list", limit: 1 }, 200)) as { data: { nextCursor: string } };
    await ask({ action: "list", limit: 1, cursor: page.data.nextCursor }, 200);

    await ask({ action: "status", jobId: uniqueId("missing") }, 404);
    await ask({ action: "resume", jobId: uniqueId("missing"), value: 1 }, 404);
    await ask({ action: "launch" }, 400);
    await ask({ action: "enqueue", job: { type: "unknown_type", payload: {} } }, 400);
    await ask({ action: "stats", queueName: "no-such-queue" }, 400);
    await ask({ action: "stats" }, 401, { authorization: "Bearer wrong" });
    expectDocumented({}, await call("{not json"), 400);
    expectDocumented({}, await call(JSON.stringify({ action: "enqueue", job: job(uniqueId("big"), { text: "x".repeat(MAX_BODY_BYTES) }) })), 413);

    const successes = [...seen].filter((entry) => /^\w+ 20\d$/.test(entry));
    // resume's answer needs an interrupted job, which the workflows flavour never makes (unit tests resume them).
    expect(new Set(successes.map((entry) => entry.split(" ")[0]))).toEqual(new Set(["enqueue", "enqueueBatch", "status", "stats", "cancel", "list", "history", "throughput"]));
    const endpointCodes = Object.values(document.paths[ENDPOINT_PATH]!.post!["x-actions"]!).flatMap((action) => action.errorCodes);
    // INVALID_RESUME needs an interrupted job too; INTERNAL_ERROR a bug.
    const unreached = [...new Set(endpointCodes)].filter((code) => !seen.has(code)).sort();
    expect(unreached).toEqual(["INTERNAL_ERROR", "INVALID_RESUME"]);
  });

  it("answers the health routes and an unknown route as documented", async () => {
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const response = await exports.default.fetch(`${ORIGIN}${path}`, { headers });
      return { status: response.status, headers: response.headers, body: await response.json() };
    };
    expect(problems("get", "/health", await get("/health"))).toEqual([]);
    const ready = await get("/health/ready", AUTH);
    expect({ status: ready.status, problems: problems("get", "/health/ready", ready) }).toEqual({ status: 200, problems: [] });
    const refused = await get("/health/ready");
    expect({ status: refused.status, problems: problems("get", "/health/ready", refused) }).toEqual({ status: 401, problems: [] });
    const unknown = await get("/functions/v1/nowhere");
    expect(unknown.status).toBe(ERROR_STATUS.NOT_FOUND);
    expect(schemaAt(["components", "schemas", "ErrorResponse"])(unknown.body)).toEqual([]);
    expect((unknown.body as { code: string }).code).toBe("NOT_FOUND");
  });
});
