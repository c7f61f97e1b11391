/**
 * enqueueBatch: many jobs in one transaction, all or nothing. QUEUE_CAPACITY=20 and
 * MAX_CONCURRENCY=2 here, and nobody consumes the Queue.
 */
import { describe, expect, it } from "vitest";
import { freshCoordinator, job, statusOf } from "../support/jobs";

const batch = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => job(`${prefix}-${i}`));

describe("enqueueBatch", () => {
  it("enqueues every job in order, answers each, and dispatches the best of them", async () => {
    const queue = freshCoordinator();
    const outcome = await queue.enqueueBatch([...batch("b", 3), job("urgent", { priority: "high" })]);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.data.map((r) => [r.data.jobId, r.created])).toEqual([["b-0", true], ["b-1", true], ["b-2", true], ["urgent", true]]);
    // One dispatch after the whole batch: the high-priority job and the oldest medium one.
    expect((await statusOf(queue, "urgent")).queuePosition).toBe(0);
    expect((await statusOf(queue, "b-0")).queuePosition).toBe(0);
    expect(await statusOf(queue, "b-1")).toMatchObject({ status: "queued", queuePosition: 1 });
    expect((await queue.stats()).totalJobs).toBe(4);
  });

  it("is idempotent per job: jobs that exist with the same body are answered as they stand", async () => {
    const queue = freshCoordinator();
    await queue.enqueue(job("old"));
    const outcome = await queue.enqueueBatch([job("old"), job("new"), job("new")]);
    expect(outcome.ok && outcome.data.map((r) => r.created)).toEqual([false, true, false]);
    expect((await queue.stats()).totalJobs).toBe(2);
  });

  it("writes nothing when the new jobs do not all fit under capacity", async () => {
    const queue = freshCoordinator();
    await queue.enqueueBatch(batch("first", 15));
    const before = await queue.stats();
    const outcome = await queue.enqueueBatch(batch("second", 6));
    expect(outcome).toMatchObject({ ok: false, code: "QUEUE_FULL", retryAfterSeconds: expect.any(Number) });
    expect(!outcome.ok && outcome.message).toMatch(/room for 5 more jobs, not 6/);
    expect(await queue.stats()).toEqual(before);
    expect((await queue.status("second-0")).ok).toBe(false);
    // Five fit.
    expect((await queue.enqueueBatch(batch("second", 5))).ok).toBe(true);
  });

  it("writes nothing when one id is taken by another body, or named twice with two bodies", async () => {
    const queue = freshCoordinator();
    await queue.enqueue(job("taken"));
    const clash = await queue.enqueueBatch([job("free"), job("taken", { payload: { other: true } })]);
    expect(clash).toMatchObject({ ok: false, code: "JOB_ID_CONFLICT" });
    const twice = await queue.enqueueBatch([job("twice"), job("twice", { type: "data_sync" })]);
    expect(twice).toMatchObject({ ok: false, code: "JOB_ID_CONFLICT" });
    expect((await queue.stats()).totalJobs).toBe(1);
  });
});
