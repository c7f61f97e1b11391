/**
 * Operator actions through the Worker: the answers and error codes of `retry` (one job, or a
 * page), `pause` and `unpause`, and what a malformed request is told. What each does to the
 * queue is the coordinator's (test/unit/coordinator-admin.test.ts, and the model test).
 */
import { describe, expect, it } from "vitest";
import { call, uniqueId, waitForStatus } from "./http";

describe("retry", () => {
  it("queues a cancelled job again, and runs it to its end", async () => {
    const jobId = uniqueId("retried");
    await call({ action: "pause", queueName: "reports" });
    try {
      await call({ action: "enqueue", queueName: "reports", job: { id: jobId, type: "data_sync", payload: { source: "a" } } });
      expect((await call({ action: "cancel", queueName: "reports", jobId })).status).toBe(200);
    } finally {
      await call({ action: "unpause", queueName: "reports" });
    }
    const answer = await call({ action: "retry", queueName: "reports", jobId });
    expect(answer).toMatchObject({ status: 200, body: { success: true, data: { jobId, status: "queued", previousStatus: "cancelled" } } });
    await waitForStatus(jobId, ["completed"], "reports");
    const history = await call({ action: "history", queueName: "reports", jobId });
    const events: string[] = history.body.data.events.map((e: { event: string }) => e.event);
    expect(events.slice(0, 5)).toEqual(["queued", "cancelled", "retried", "dispatched", "started"]);
    expect(events.at(-1)).toBe("completed");
  });

  it("answers JOB_NOT_FOUND (404) and JOB_NOT_RETRYABLE (409)", async () => {
    expect(await call({ action: "retry", jobId: uniqueId("ghost") })).toMatchObject({ status: 404, body: { success: false, code: "JOB_NOT_FOUND" } });
    const jobId = uniqueId("done");
    await call({ action: "enqueue", job: { id: jobId, type: "data_sync", payload: {} } });
    await waitForStatus(jobId, ["completed"]);
    const refused = await call({ action: "retry", jobId });
    expect(refused).toMatchObject({ status: 409, body: { success: false, code: "JOB_NOT_RETRYABLE", error: expect.stringContaining("is completed") } });
  });

  it("retries a page of jobs by status, and says where the next page starts", async () => {
    // The workflow answers 503 to its first call for the job: with no retries, the job fails; retried, it completes.
    const ids = [uniqueId("bulk"), uniqueId("bulk")];
    for (const jobId of ids) await call({ action: "enqueue", job: { id: jobId, type: "data_sync", payload: { failTimes: 1 }, maxRetries: 0 } });
    for (const jobId of ids) await waitForStatus(jobId, ["failed"]);
    const retried: string[] = [];
    let cursor: string | undefined;
    do {
      const answer = await call({ action: "retry", status: "failed", limit: 1, ...(cursor && { cursor }) });
      expect(answer).toMatchObject({ status: 200, body: { success: true } });
      expect(answer.body.data.jobIds.length).toBeLessThanOrEqual(1);
      retried.push(...answer.body.data.jobIds);
      cursor = answer.body.data.nextCursor ?? undefined;
    } while (cursor);
    expect(retried).toEqual(expect.arrayContaining(ids));
    for (const jobId of ids) await waitForStatus(jobId, ["completed"]);
  });

  it.each([
    [{ action: "retry" }, "(body): name either jobId (one job) or status (a page of jobs), not both"],
    [{ action: "retry", jobId: "a", status: "failed" }, "(body): name either jobId (one job) or status (a page of jobs), not both"],
    [{ action: "retry", jobId: "a", limit: 5 }, "(body): limit and cursor go with status only"],
    [{ action: "retry", status: "completed" }, "status: Invalid option"],
    [{ action: "retry", status: "failed", limit: 101 }, "limit: Too big"],
    [{ action: "retry", status: "failed", cursor: "12:3" }, "cursor: must be a nextCursor from an earlier bulk retry"],
  ])("refuses %j with INVALID_REQUEST", async (body, message) => {
    const answer = await call(body);
    expect(answer).toMatchObject({ status: 400, body: { success: false, code: "INVALID_REQUEST" } });
    expect(answer.body.error).toContain(message);
  });
});

describe("pause", () => {
  it("pauses and unpauses a queue, which stats show", async () => {
    const queueName = "reports";
    expect(await call({ action: "pause", queueName })).toMatchObject({ status: 200, body: { success: true, data: { queueName, paused: true } } });
    try {
      expect((await call({ action: "stats", queueName })).body.data).toMatchObject({ paused: true });
      // Enqueues are accepted while paused; nothing starts.
      const jobId = uniqueId("while-paused");
      expect((await call({ action: "enqueue", queueName, job: { id: jobId, type: "data_sync", payload: {} } })).status).toBe(201);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await call({ action: "status", queueName, jobId })).body.data).toMatchObject({ status: "queued" });
      expect(await call({ action: "unpause", queueName })).toMatchObject({ status: 200, body: { data: { queueName, paused: false } } });
      await waitForStatus(jobId, ["completed"], queueName);
    } finally {
      await call({ action: "unpause", queueName });
    }
    expect((await call({ action: "stats", queueName })).body.data).toMatchObject({ paused: false });
  });
});
