/**
 * Priority order, capacity and concurrency. This project's coordinator runs with
 * QUEUE_CAPACITY=20 and MAX_CONCURRENCY=2 (vitest.config.ts), and nobody consumes its
 * Queue, so a dispatched job holds its slot, shown as "queued" at position 0, until the test
 * claims it as a consumer would.
 */
import { describe, expect, it } from "vitest";
import { freshCoordinator, job, statusOf } from "../support/jobs";

describe("dispatch order", () => {
  it("runs the highest priority first, oldest first within a priority", async () => {
    const queue = freshCoordinator();
    // Two fillers take both slots, so the rest wait in the heap.
    await queue.enqueue(job("filler-1"));
    await queue.enqueue(job("filler-2"));
    for (const [id, priority] of [["low-1", "low"], ["high-1", "high"], ["medium-1", "medium"], ["high-2", "high"], ["low-2", "low"]] as const) {
      await queue.enqueue(job(id, { priority }));
    }

    // The dispatched fillers lead the queued list: they are leaving it.
    const queued = await queue.list({ status: "queued", limit: 10 });
    expect(queued.jobs.map((j) => j.jobId)).toEqual(["filler-1", "filler-2", "high-1", "high-2", "medium-1", "low-1", "low-2"]);
    const firstPage = await queue.list({ status: "queued", limit: 3 });
    const secondPage = await queue.list({ status: "queued", limit: 10, cursor: firstPage.nextCursor! });
    expect([...firstPage.jobs, ...secondPage.jobs]).toEqual(queued.jobs);
    const positions = await Promise.all(["filler-2", "high-1", "medium-1", "low-2"].map((id) => queue.status(id)));
    expect(positions.map((p) => p.ok && p.data.queuePosition)).toEqual([0, 1, 3, 5]);

    // Each freed slot goes to the best waiting job: it is dispatched (position 0) at once.
    const waiting = ["high-1", "high-2", "medium-1", "low-1", "low-2"];
    const order: string[] = [];
    for (const done of ["filler-1", "filler-2", "high-1", "high-2", "medium-1", "low-1"]) {
      const claim = await queue.claim(done, 1);
      expect(claim.ok).toBe(true);
      await queue.complete(done, 1, { done });
      for (const id of waiting) {
        if (!order.includes(id) && (await statusOf(queue, id)).queuePosition === 0) order.push(id);
      }
    }
    expect(order).toEqual(["high-1", "high-2", "medium-1", "low-1", "low-2"]);
  });

  it("never runs more than MAX_CONCURRENCY jobs", async () => {
    const queue = freshCoordinator();
    const ids = Array.from({ length: 6 }, (_, i) => `job-${i}`);
    await Promise.all(ids.map((id) => queue.enqueue(job(id))));
    // Only the two dispatched jobs can be taken on; the others have no attempt yet.
    const claims = await Promise.all(ids.map((id) => queue.claim(id, 1)));
    expect(claims.filter((claim) => claim.ok)).toHaveLength(2);
    const stats = await queue.stats();
    expect(stats.runningJobs).toBe(2);
    expect(stats.queuedJobs).toBe(4);
    expect(stats.concurrency).toBe(2);
  });

  it("shows a dispatched job as queued until a consumer takes it on, then running with its start time", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    await queue.enqueue(job("taken-on"), now);
    expect(await statusOf(queue, "taken-on")).toMatchObject({ status: "queued", queuePosition: 0, estimatedWaitTime: 0, startedAt: null });
    expect(await queue.stats()).toMatchObject({ queuedJobs: 1, runningJobs: 0 });
    expect(await queue.claim("taken-on", 1, now + 5)).toMatchObject({ ok: true, data: { firstRun: true } });
    expect(await statusOf(queue, "taken-on")).toMatchObject({ status: "running", startedAt: new Date(now + 5).toISOString() });
    expect(await queue.stats()).toMatchObject({ queuedJobs: 0, runningJobs: 1 });
  });

  it("answers enqueue with the position and an estimated wait", async () => {
    const queue = freshCoordinator();
    const first = await queue.enqueue(job("a"));
    await queue.enqueue(job("b"));
    const third = await queue.enqueue(job("c"));
    const fourth = await queue.enqueue(job("d", { priority: "high" }));
    // "a" got a free slot at once; "c" waits behind the two running jobs.
    expect(first).toMatchObject({ ok: true, created: true, data: { jobId: "a", status: "queued", queuePosition: 1, estimatedWaitTime: 0 } });
    expect(third).toMatchObject({ ok: true, data: { queuePosition: 1, estimatedWaitTime: 60 } });
    // A high-priority job goes before "c".
    expect(fourth).toMatchObject({ ok: true, data: { priority: "high", queuePosition: 1 } });
    const c = await queue.status("c");
    expect(c.ok && c.data.queuePosition).toBe(2);
  });
});

describe("capacity", () => {
  it("admits exactly QUEUE_CAPACITY of many concurrent enqueues, refusing the rest with a Retry-After", async () => {
    const queue = freshCoordinator();
    const results = await Promise.all(Array.from({ length: 35 }, (_, i) => queue.enqueue(job(`burst-${i}`))));
    const admitted = results.filter((r) => r.ok);
    const refused = results.filter((r) => !r.ok);
    expect(admitted).toHaveLength(20);
    expect(refused).toHaveLength(15);
    for (const r of refused) {
      expect(r).toMatchObject({ code: "QUEUE_FULL" });
      expect(!r.ok && r.code === "QUEUE_FULL" && r.retryAfterSeconds).toBeGreaterThan(0);
    }
    const stats = await queue.stats();
    expect(stats.queuedJobs + stats.runningJobs).toBe(20);
    expect(stats.totalJobs).toBe(20);
  });

  it("frees capacity when a queued job is cancelled", async () => {
    const queue = freshCoordinator();
    await Promise.all(Array.from({ length: 20 }, (_, i) => queue.enqueue(job(`fill-${i}`))));
    expect(await queue.enqueue(job("one-too-many"))).toMatchObject({ ok: false, code: "QUEUE_FULL" });
    expect(await queue.cancel("fill-10")).toMatchObject({ ok: true, data: { status: "cancelled", previousStatus: "queued" } });
    expect(await queue.enqueue(job("one-too-many"))).toMatchObject({ ok: true, created: true });
  });
});

describe("idempotent enqueue", () => {
  it("returns the existing job for the same id, type and payload (key order aside)", async () => {
    const queue = freshCoordinator();
    const first = await queue.enqueue(job("same", { payload: { a: 1, b: { c: 2, d: 3 } } }));
    const again = await queue.enqueue(job("same", { payload: { b: { d: 3, c: 2 }, a: 1 } }));
    expect(first).toMatchObject({ ok: true, created: true });
    expect(again).toMatchObject({ ok: true, created: false, data: { jobId: "same" } });
    expect((await queue.stats()).totalJobs).toBe(1);
  });

  it("refuses the same id with a different body", async () => {
    const queue = freshCoordinator();
    await queue.enqueue(job("taken", { payload: { a: 1 } }));
    expect(await queue.enqueue(job("taken", { payload: { a: 2 } }))).toMatchObject({ ok: false, code: "JOB_ID_CONFLICT" });
    expect(await queue.enqueue(job("taken", { type: "data_sync", payload: { a: 1 } }))).toMatchObject({ ok: false, code: "JOB_ID_CONFLICT" });
  });
});
