/**
 * A job's LangGraph fields through the endpoint: the types JOB_TYPES accepts, run options and
 * threads as given, fields the API does not know refused by name (a typo must not silently
 * change what runs), the limits of each option, and the resume action's errors.
 */
import { describe, expect, it } from "vitest";
import { MAX_RUN_OPTION_BYTES } from "../../src/http/api-schema";
import { call, uniqueId } from "./http";

const enqueue = (job: Record<string, unknown>) => ({ action: "enqueue", job: { type: "data_sync", payload: {}, ...job } });

describe("job fields", () => {
  // [what, body, status, code, what the message must say, the path]
  const refused: [string, unknown, number, string, RegExp, string][] = [
    ["a misspelt field", enqueue({ threadid: crypto.randomUUID() }), 400, "INVALID_REQUEST", /job\.threadid: unknown field/, "job.threadid"],
    ["an unknown field in a batch's second job", { action: "enqueueBatch", jobs: [{ type: "data_sync", payload: {} }, { type: "data_sync", payload: {}, retries: 2 }] },
      400, "INVALID_REQUEST", /jobs\.1\.retries: unknown field/, "jobs.1.retries"],
    ["a threadId that is not a UUID", enqueue({ threadId: "my-thread" }), 400, "INVALID_REQUEST", /must be a UUID/, "job.threadId"],
    ["an unknown key of config", enqueue({ config: { recursionLimit: 5 } }), 400, "INVALID_REQUEST", /unknown field/, "job.config.recursionLimit"],
    ["a thread_id in config.configurable", enqueue({ config: { configurable: { thread_id: "x" } } }), 400, "INVALID_REQUEST", /threadId/, "job.config.configurable"],
    ["a context that is not an object", enqueue({ context: "u1" }), 400, "INVALID_REQUEST", /JSON object/, "job.context"],
    ["a timeoutSeconds of 0", enqueue({ timeoutSeconds: 0 }), 400, "INVALID_REQUEST", />=1/, "job.timeoutSeconds"],
    ["an assistantId with a slash", enqueue({ assistantId: "a/b" }), 400, "INVALID_REQUEST", /1-128 characters/, "job.assistantId"],
    ["a context over its limit", enqueue({ context: { blob: "x".repeat(MAX_RUN_OPTION_BYTES) } }), 413, "PAYLOAD_TOO_LARGE", /job\.context is \d+ bytes as JSON, over the 16384 byte limit/, "job.context"],
    ["metadata naming a key LangGraph gives meaning", enqueue({ metadata: { graph_id: "other_graph", team: "a" } }), 400, "INVALID_REQUEST", /must not set graph_id/, "job.metadata"],
    ["metadata naming a key of the queue's", enqueue({ metadata: { jobId: "someone-else" } }), 400, "INVALID_REQUEST", /must not set jobId/, "job.metadata"],
    ["a timeoutSeconds past JOB_TIMEOUT_SECONDS", enqueue({ timeoutSeconds: 3601 }), 400, "INVALID_REQUEST", /at most JOB_TIMEOUT_SECONDS \(3600\)/, "job.timeoutSeconds"],
    ["a job without a type", { action: "enqueue", job: { payload: {} } }, 400, "INVALID_REQUEST", /job\.type/, "job.type"],
    ["a resume with a null value", { action: "resume", jobId: "x", value: null }, 400, "INVALID_REQUEST", /other than null/, "value"],
    ["a resume value nested too deep", { action: "resume", jobId: "x", value: JSON.parse("[".repeat(3000) + "]".repeat(3000)) }, 400, "INVALID_REQUEST", /deeper than 64 levels/, "value"],
    ["a resume without a value", { action: "resume", jobId: "x" }, 400, "INVALID_REQUEST", /value/, "value"],
    ["a resume value over its limit", { action: "resume", jobId: "x", value: "x".repeat(MAX_RUN_OPTION_BYTES) }, 413, "PAYLOAD_TOO_LARGE", /value is \d+ bytes/, "value"],
  ];

  it.each(refused)("refuses %s, naming it", async (_what, body, status, code, message, path) => {
    const response = await call(body);
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({ success: false, code });
    expect(response.body.error).toMatch(message);
    const paths = Array.isArray(response.body.details) ? response.body.details.map((d: { path: string }) => d.path) : [response.body.details.path];
    expect(paths).toContain(path);
  });

  it("refuses a type JOB_TYPES does not list, before anything is stored, with the accepted types", async () => {
    const id = uniqueId("agent");
    const response = await call(enqueue({ id, type: "my_agent" }));
    expect(response.status).toBe(400);
    expect(response.body.code).toBe("INVALID_JOB_TYPE");
    expect(response.body.error).toMatch(/"my_agent" is not a type JOB_TYPES accepts; accepted: research_workflow, content_generation, batch_processing, data_sync/);
    expect(response.body.details).toContainEqual(expect.objectContaining({
      path: "job.type", acceptedTypes: ["research_workflow", "content_generation", "batch_processing", "data_sync"],
    }));
    expect((await call({ action: "status", jobId: id })).status).toBe(404);
  });

  it("takes a job's thread, assistant, run options and time limit, and shows them in its status", async () => {
    const id = uniqueId("options");
    const threadId = crypto.randomUUID();
    const options = { config: { configurable: { model: "small" }, tags: ["nightly"], recursion_limit: 50 }, context: { userId: "u1" }, metadata: { team: "growth" } };
    const created = await call(enqueue({ id, threadId, assistantId: "data_sync", timeoutSeconds: 600, ...options }));
    expect(created.status).toBe(201);
    const status = await call({ action: "status", jobId: id });
    expect(status.body.data).toMatchObject({ jobId: id, type: "data_sync", threadId, assistantId: "data_sync", timeoutSeconds: 600, ...options });
    // The same body again is the same job; another thread is a conflict.
    expect((await call(enqueue({ id, threadId, assistantId: "data_sync", timeoutSeconds: 600, ...options }))).status).toBe(200);
    expect((await call(enqueue({ id, threadId: crypto.randomUUID(), assistantId: "data_sync", timeoutSeconds: 600, ...options }))).body.code).toBe("JOB_ID_CONFLICT");
  });

  it("takes a threadId in any case as one thread: LangGraph's ids are lower case", async () => {
    const threadId = crypto.randomUUID();
    const id = uniqueId("upper");
    expect((await call(enqueue({ id, threadId: threadId.toUpperCase() }))).status).toBe(201);
    expect((await call({ action: "status", jobId: id })).body.data.threadId).toBe(threadId);
  });

  it("answers a resume of a job that is not interrupted with 409 JOB_NOT_INTERRUPTED, and of an unknown one with 404", async () => {
    const id = uniqueId("not-interrupted");
    await call(enqueue({ id, payload: { delayMs: 5000 } }));
    const response = await call({ action: "resume", jobId: id, value: { approved: true } });
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({ success: false, code: "JOB_NOT_INTERRUPTED", error: expect.stringContaining("not interrupted") });
    expect((await call({ action: "resume", jobId: uniqueId("nobody"), value: "yes" })).body.code).toBe("JOB_NOT_FOUND");
    await call({ action: "cancel", jobId: id });
  });

  it("lists interrupted jobs and counts them", async () => {
    const list = await call({ action: "list", status: "interrupted" });
    expect(list.status).toBe(200);
    expect(list.body.data.jobs).toEqual([]);
    expect((await call({ action: "stats" })).body.data.interruptedJobs).toBe(0);
  });
});
