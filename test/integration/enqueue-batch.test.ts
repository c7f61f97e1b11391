/** The enqueueBatch action over HTTP: up to 100 jobs per request, a result per job. */
import { describe, expect, it } from "vitest";
import { call, uniqueId } from "./http";

const seedJob = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: "research_workflow", payload: { itemName: id }, ...extra });

describe("enqueueBatch", () => {
  it("answers 201 with each job's place, and 200 when every job already existed", async () => {
    const ids = [uniqueId("batch"), uniqueId("batch")];
    const first = await call({ action: "enqueueBatch", queueName: "reports", jobs: ids.map((id) => seedJob(id)) });
    expect(first.status).toBe(201);
    expect(first.body.data.jobs).toMatchObject(ids.map((jobId) => ({ jobId, status: "queued", priority: "medium", created: true })));
    const again = await call({ action: "enqueueBatch", queueName: "reports", jobs: ids.map((id) => seedJob(id)) });
    expect(again.status).toBe(200);
    expect(again.body.data.jobs.map((j: { created: boolean }) => j.created)).toEqual([false, false]);
  });

  it("gives ids to jobs that have none", async () => {
    const { status, body } = await call({ action: "enqueueBatch", queueName: "reports", jobs: [{ type: "data_sync", payload: {} }] });
    expect(status).toBe(201);
    expect(body.data.jobs[0].jobId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("refuses the whole batch when one job's id is taken by another body", async () => {
    const taken = uniqueId("taken");
    await call({ action: "enqueue", queueName: "reports", job: seedJob(taken) });
    const fresh = uniqueId("fresh");
    const { status, body } = await call({ action: "enqueueBatch", queueName: "reports", jobs: [seedJob(fresh), seedJob(taken, { type: "data_sync" })] });
    expect(status).toBe(409);
    expect(body.code).toBe("JOB_ID_CONFLICT");
    expect((await call({ action: "status", queueName: "reports", jobId: fresh })).body.code).toBe("JOB_NOT_FOUND");
  });

  it.each([
    ["no jobs", { jobs: [] }, "INVALID_REQUEST", /jobs.*1-100 jobs/],
    ["101 jobs", { jobs: Array.from({ length: 101 }, () => ({ type: "data_sync", payload: {} })) }, "INVALID_REQUEST", /jobs.*1-100 jobs/],
    ["an unknown type in the second job", { jobs: [{ type: "data_sync", payload: {} }, { type: "nope", payload: {} }] }, "INVALID_JOB_TYPE", /invalid job type/],
  ])("refuses %s with a clear error", async (_, body, code, message) => {
    const response = await call({ action: "enqueueBatch", queueName: "reports", ...body });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ success: false, code });
    expect(response.body.error).toMatch(message);
  });
});
