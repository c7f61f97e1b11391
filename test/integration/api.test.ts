/**
 * The HTTP API end to end inside workerd: router → coordinator → real Queue delivery →
 * consumer → the workflows test server. This project runs with QUEUE_CAPACITY=30,
 * MAX_CONCURRENCY=5, ENVIRONMENT=production and API_KEYS=test-key-1,test-key-2.
 */
import { createExecutionContext, createScheduledController, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { call, ENDPOINT, uniqueId, waitForStatus } from "./http";

const seedJob = (id: string) => ({
  id,
  type: "research_workflow",
  payload: { itemName: "무선 이어폰", itemId: "item_001", projectId: "proj_001" },
  priority: "high",
  maxRetries: 3,
});

describe("auth", () => {
  it("refuses a request without credentials or with a wrong key", async () => {
    const wrong: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }, { apikey: "wrong" }, { authorization: "Basic test-key-1" }];
    for (const headers of wrong) {
      const { status, body } = await call({ action: "stats" }, headers);
      expect(status).toBe(401);
      expect(body).toMatchObject({ success: false, code: "UNAUTHORIZED" });
    }
  });

  it("accepts either configured key, as a bearer token or as Supabase's apikey header", async () => {
    expect((await call({ action: "stats" }, { authorization: "Bearer test-key-2" })).status).toBe(200);
    expect((await call({ action: "stats" }, { apikey: "test-key-1" })).status).toBe(200);
    // supabase-js with a signed-in user: the bearer is the user's JWT, the key is in apikey.
    expect((await call({ action: "stats" }, { authorization: "Bearer eyJ.user.jwt", apikey: "test-key-1" })).status).toBe(200);
  });

  it("fails closed in production when no keys are configured, and is open in development", async () => {
    const request = () => new Request(ENDPOINT, { method: "POST", body: JSON.stringify({ action: "stats" }) });
    const ctx = createExecutionContext();
    const closed = await worker.fetch(request(), { ...env, API_KEYS: "" }, ctx);
    expect(closed.status).toBe(401);
    const open = await worker.fetch(request(), { ...env, API_KEYS: "", ENVIRONMENT: "development" }, ctx);
    expect(open.status).toBe(200);
    await waitOnExecutionContext(ctx);
  });
});

describe("enqueue → status → completed", () => {
  it("runs the seed's research job to completion with its result", async () => {
    const id = uniqueId("job");
    const enqueued = await call({ action: "enqueue", job: seedJob(id) });
    expect(enqueued.status).toBe(201);
    expect(enqueued.body).toEqual({
      success: true,
      data: { jobId: id, status: "queued", priority: "high", estimatedWaitTime: expect.any(Number), queuePosition: expect.any(Number) },
    });

    const done = await waitForStatus(id, ["completed", "failed"]);
    expect(done).toMatchObject({
      jobId: id, status: "completed", progress: 100, retryCount: 0, maxRetries: 3, error: null,
      result: { workflow: "research_workflow", input: seedJob(id).payload },
    });
    for (const field of ["enqueuedAt", "startedAt", "completedAt"]) expect(Date.parse(done[field])).not.toBeNaN();

    const history = await call({ action: "history", jobId: id });
    expect(history.body.data.events.map((e: { event: string }) => e.event)).toEqual(["queued", "dispatched", "started", "completed"]);
    expect(history.body.data.events[0]).toMatchObject({ attempt: 0, detail: { priority: "high" } });

    // Re-enqueueing the same job is idempotent: the existing job, 200.
    const again = await call({ action: "enqueue", job: seedJob(id) });
    expect(again.status).toBe(200);
    expect(again.body.data).toMatchObject({ jobId: id, status: "completed" });
    // …and a finished job cannot be cancelled.
    const cancel = await call({ action: "cancel", jobId: id });
    expect(cancel.status).toBe(409);
    expect(cancel.body.code).toBe("JOB_NOT_CANCELLABLE");
  });

  it("retries a job whose LangGraph call fails, and completes it", async () => {
    const id = uniqueId("flaky");
    await call({ action: "enqueue", job: { ...seedJob(id), payload: { failTimes: 1 } } });
    const done = await waitForStatus(id, ["completed", "failed"]);
    expect(done).toMatchObject({ status: "completed", retryCount: 1, result: { call: 2 } });
  });

  it("generates an id when the client sends none", async () => {
    const { status, body } = await call({ action: "enqueue", job: { type: "data_sync", payload: {} } });
    expect(status).toBe(201);
    expect(body.data.jobId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.data.priority).toBe("medium");
  });
});

describe("actions", () => {
  it("answers stats with every counter", async () => {
    const { body } = await call({ action: "stats", queueName: "langgraph-queue" });
    expect(Object.keys(body.data).sort()).toEqual([
      "averageProcessTime", "cancelledJobs", "capacity", "completedJobs", "concurrency", "failedJobs", "interruptedJobs", "langgraph",
      "paused", "queueName", "queuedJobs", "runningJobs", "successRate", "totalJobs",
    ]);
    expect(body.data).toMatchObject({ queueName: "langgraph-queue", capacity: 30, concurrency: 5 });
  });

  it("cancels a queued or running job", async () => {
    const id = uniqueId("cancel");
    await call({ action: "enqueue", queueName: "reports", job: { ...seedJob(id), payload: { delayMs: 3000 } } });
    const { status, body } = await call({ action: "cancel", queueName: "reports", jobId: id });
    expect(status).toBe(200);
    expect(body.data).toEqual({ jobId: id, status: "cancelled", previousStatus: expect.stringMatching(/^(queued|running)$/) });
    expect((await call({ action: "status", queueName: "reports", jobId: id })).body.data.status).toBe("cancelled");
  });

  it("lists jobs by status", async () => {
    const id = uniqueId("listed");
    await call({ action: "enqueue", queueName: "reports", job: seedJob(id) });
    await waitForStatus(id, ["completed"], "reports");
    const { body } = await call({ action: "list", queueName: "reports", status: "completed", limit: 100 });
    expect(body.data.jobs.map((j: { jobId: string }) => j.jobId)).toContain(id);
    expect(body.data).toHaveProperty("nextCursor");
  });
});

describe("errors", () => {
  const cases: [string, unknown, number, string, string?][] = [
    ["malformed JSON", "{not json", 400, "INVALID_REQUEST"],
    ["a body that is not an object", "[1,2]", 400, "INVALID_REQUEST"],
    ["an unknown action", { action: "explode" }, 400, "INVALID_REQUEST", "action"],
    ["no action", { jobId: "x" }, 400, "INVALID_REQUEST", "action"],
    ["an unknown job type", { action: "enqueue", job: { type: "mining", payload: {} } }, 400, "INVALID_JOB_TYPE", "job.type"],
    ["a bad priority", { action: "enqueue", job: { type: "data_sync", payload: {}, priority: "urgent" } }, 400, "INVALID_REQUEST", "job.priority"],
    ["too many retries", { action: "enqueue", job: { type: "data_sync", payload: {}, maxRetries: 11 } }, 400, "INVALID_REQUEST", "job.maxRetries"],
    ["a bad job id", { action: "enqueue", job: { id: "a b/c", type: "data_sync", payload: {} } }, 400, "INVALID_REQUEST", "job.id"],
    ["a payload that is not an object", { action: "enqueue", job: { type: "data_sync", payload: "x" } }, 400, "INVALID_REQUEST", "job.payload"],
    ["a payload nested too deep", { action: "enqueue", job: { type: "data_sync", payload: { a: JSON.parse("[".repeat(80) + "]".repeat(80)) } } }, 400, "INVALID_REQUEST", "job.payload"],
    ["a cursor list never gave", { action: "list", cursor: "abc" }, 400, "INVALID_REQUEST", "cursor"],
    ["status without jobId", { action: "status" }, 400, "INVALID_REQUEST", "jobId"],
    ["an unknown queue", { action: "stats", queueName: "nope" }, 400, "UNKNOWN_QUEUE"],
    ["an unknown job", { action: "status", jobId: "never-enqueued" }, 404, "JOB_NOT_FOUND"],
    ["cancel of an unknown job", { action: "cancel", jobId: "never-enqueued" }, 404, "JOB_NOT_FOUND"],
    ["history of an unknown job", { action: "history", jobId: "never-enqueued" }, 404, "JOB_NOT_FOUND"],
  ];

  it.each(cases)("answers %s with its code", async (_name, body, status, code, path) => {
    const response = await call(body);
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({ success: false, code, error: expect.any(String) });
    expect(response.body.error).not.toMatch(/at .*\.ts:\d+/);
    if (path) expect(response.body.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it("answers a reused id with a different body with JOB_ID_CONFLICT", async () => {
    const id = uniqueId("conflict");
    await call({ action: "enqueue", job: seedJob(id) });
    const { status, body } = await call({ action: "enqueue", job: { ...seedJob(id), payload: { other: true } } });
    expect(status).toBe(409);
    expect(body.code).toBe("JOB_ID_CONFLICT");
  });

  it("answers a body over 64 KiB with PAYLOAD_TOO_LARGE", async () => {
    const { status, body } = await call({ action: "enqueue", job: { type: "data_sync", payload: { blob: "x".repeat(70_000) } } });
    expect(status).toBe(413);
    expect(body.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("answers a full queue with QUEUE_FULL and Retry-After", async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `full_${i}_${crypto.randomUUID().slice(0, 6)}`);
    const job = (id: string) => ({ action: "enqueue", queueName: "reports", job: { id, type: "batch_processing", payload: { delayMs: 2000 } } });
    // Whatever else runs on "reports", fill it up to capacity, then one more.
    const results = await Promise.all(ids.map((id) => call(job(id))));
    const full = [...results, await call(job("one_more"))].filter((r) => r.status === 429);
    expect(full.length).toBeGreaterThan(0);
    expect(full[0]!.body.code).toBe("QUEUE_FULL");
    expect(Number(full[0]!.headers.get("retry-after"))).toBeGreaterThan(0);
    await Promise.all(ids.map((jobId) => call({ action: "cancel", queueName: "reports", jobId })));
  });

  it("never answers 500 to odd input", async () => {
    const bodies = ["", "null", "0", '"text"', "[]", "{}", '{"action":null}', '{"action":"enqueue","job":null}',
      '{"action":"enqueue","job":{"type":"data_sync","payload":{"a":' + "[".repeat(500) + "]".repeat(500) + "}}}",
      '{"action":"list","limit":-1}', '{"action":"list","cursor":"x:y"}', '{"action":"list","cursor":""}',
      '{"action":"status","jobId":"' + "a".repeat(200) + '"}',
      // Nesting deep enough to overflow a recursive serialiser, well inside the size limit.
      '{"action":"enqueue","job":{"type":"data_sync","payload":{"a":' + "[".repeat(10_000) + "]".repeat(10_000) + "}}}"];
    for (const body of bodies) {
      const { status, body: envelope } = await call(body);
      expect(status, body.slice(0, 40)).toBeLessThan(500);
      expect(envelope.success).toBe(envelope.code === undefined);
    }
  });

  it("answers an unknown route with a JSON 404", async () => {
    const response = await exports.default.fetch("https://queue.test/nowhere");
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ success: false, code: "NOT_FOUND" });
  });
});

describe("cron trigger", () => {
  it("sweeps every configured queue and re-arms its alarm", async () => {
    const id = uniqueId("swept");
    await call({ action: "enqueue", job: seedJob(id) });
    await waitForStatus(id, ["completed"]);
    const coordinator = env.QUEUE_COORDINATOR.getByName("langgraph-queue");
    await runInDurableObject(coordinator, (_, state) => state.storage.deleteAlarm());
    await worker.scheduled(createScheduledController({ cron: "* * * * *" }), env);
    // The completed job's retention timer is what the alarm waits for now.
    expect(await runInDurableObject(coordinator, (_, state) => state.storage.getAlarm())).toBeGreaterThan(Date.now());
  });
});
