/**
 * Operator actions (coordinator/admin.ts): a retry takes a failed or cancelled job back to the
 * queue with a fresh retry budget, on its own thread, keeping its history; a bulk retry works
 * through a state's jobs a page at a time; a paused queue dispatches nothing (what runs finishes,
 * enqueues are accepted) and stays paused across a restart. Time is passed in as `now`.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { QueueCoordinator } from "../../src/queue-do";
import { freshCoordinator, job, statusOf } from "../support/jobs";

type Queue = DurableObjectStub<QueueCoordinator>;

const events = async (queue: Queue, id: string) => {
  const history = await queue.history(id);
  return history.ok ? history.data.events.map((e) => e.event) : [];
};

/** Runs the job's next attempt to a failure that is not retried. */
async function failFor(queue: Queue, id: string, attempt: number, now: number) {
  expect(await queue.claim(id, attempt, now)).toMatchObject({ ok: true });
  expect(await queue.fail(id, attempt, { error: "boom", retryable: false }, now + 10)).toEqual({ ok: true, data: { state: "failed" } });
}

describe("retry", () => {
  it("queues a failed job again with a fresh retry budget, on its own thread, its history kept", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    await queue.enqueue(job("broken", { maxRetries: 1 }), now);
    const first = await queue.claim("broken", 1, now);
    // A retryable failure spends the one retry; the second attempt fails for good.
    await queue.fail("broken", 1, { error: "flaky", retryable: true }, now + 10);
    await queue.runTimers(now + 5_000);
    await failFor(queue, "broken", 2, now + 6_000);
    expect(await statusOf(queue, "broken")).toMatchObject({ status: "failed", retryCount: 1, error: "boom" });

    expect(await queue.retry("broken", now + 7_000)).toEqual({ ok: true, data: { jobId: "broken", status: "queued", previousStatus: "failed" } });
    // Dispatched at once (a slot is free) as attempt 3; no record expiry while it is live again.
    const claim = await queue.claim("broken", 3, now + 7_100);
    expect(claim).toMatchObject({ ok: true, data: { attempt: 3, retryCount: 0, firstRun: false } });
    // The same thread: its next run continues from the checkpoint the failed ones left.
    expect(claim.ok && first.ok && claim.data.threadId).toBe(first.ok && first.data.threadId);
    expect(await statusOf(queue, "broken")).toMatchObject({ status: "running", retryCount: 0, error: null, completedAt: null });
    await queue.complete("broken", 3, { fixed: true }, now + 8_000);
    expect(await events(queue, "broken")).toEqual([
      "queued", "dispatched", "started", "retry_scheduled", "retry_due", "dispatched", "started", "failed",
      "retried", "dispatched", "started", "completed",
    ]);
    const history = await queue.history("broken");
    expect(history.ok && history.data.events[8]).toMatchObject({ event: "retried", attempt: 2, detail: { previousStatus: "failed", retryCount: 1 } });
  });

  it("queues a cancelled job again, and refuses one that has not failed or been cancelled", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    for (const id of ["cancelled", "running", "done"]) await queue.enqueue(job(id), now);
    await queue.cancel("cancelled", now);
    await queue.claim("running", 1, now);
    await queue.claim("done", 1, now);
    await queue.complete("done", 1, { ok: true }, now + 10);

    expect(await queue.retry("cancelled", now + 20)).toEqual({ ok: true, data: { jobId: "cancelled", status: "queued", previousStatus: "cancelled" } });
    expect(await statusOf(queue, "cancelled")).toMatchObject({ status: "queued" });
    for (const id of ["running", "done", "cancelled"]) {
      expect(await queue.retry(id, now + 30)).toMatchObject({ ok: false, code: "JOB_NOT_RETRYABLE", message: expect.stringContaining("only a failed or cancelled job") });
    }
    expect(await queue.retry("nobody", now + 30)).toMatchObject({ ok: false, code: "JOB_NOT_FOUND" });
  });

  it("counts against capacity: a full queue refuses it with a Retry-After", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    // QUEUE_CAPACITY is 20 here: one cancelled job, then twenty live ones.
    await queue.enqueue(job("cancelled"), now);
    await queue.cancel("cancelled", now);
    await queue.enqueueBatch(Array.from({ length: 20 }, (_, i) => job(`live-${i}`)), now);
    expect(await queue.retry("cancelled", now + 10)).toMatchObject({ ok: false, code: "QUEUE_FULL", retryAfterSeconds: expect.any(Number) });
    expect(await statusOf(queue, "cancelled")).toMatchObject({ status: "cancelled" });
  });

  it("waits for its turn on a thread the client chose that another job holds now", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    const threadId = crypto.randomUUID();
    await queue.enqueue(job("first", { threadId }), now);
    await failFor(queue, "first", 1, now);
    await queue.enqueue(job("second", { threadId }), now + 100);
    expect(await statusOf(queue, "second")).toMatchObject({ status: "queued", queuePosition: 0 });

    await queue.retry("first", now + 200);
    expect(await statusOf(queue, "first")).toMatchObject({ status: "queued", waitingForThread: true });
    await queue.claim("second", 1, now + 300);
    await queue.complete("second", 1, {}, now + 400);
    // The thread is free: the retried job goes on it.
    expect(await queue.claim("first", 2, now + 500)).toMatchObject({ ok: true, data: { threadId, sharedThread: true } });
    expect(await events(queue, "first")).toEqual(["queued", "dispatched", "started", "failed", "retried", "thread_free", "dispatched", "started"]);
  });
});

describe("bulk retry", () => {
  it("retries a state's jobs oldest first, a page at a time, until the cursor says none are left", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    await queue.enqueue(job("failed"), now);
    await failFor(queue, "failed", 1, now);
    const ids = ["a", "b", "c", "d", "e"];
    await queue.enqueueBatch(ids.map((id) => job(id)), now + 20);
    for (const id of ids) await queue.cancel(id, now + 20);
    const first = await queue.retryMany("cancelled", 2, undefined, now + 30);
    expect(first).toEqual({ ok: true, data: { jobIds: ["a", "b"], nextCursor: expect.stringMatching(/^\d+$/) } });
    const second = await queue.retryMany("cancelled", 2, first.ok ? first.data.nextCursor! : undefined, now + 40);
    expect(second).toMatchObject({ ok: true, data: { jobIds: ["c", "d"], nextCursor: expect.any(String) } });
    // The last page is short: nothing is left after it.
    expect(await queue.retryMany("cancelled", 2, second.ok ? second.data.nextCursor! : undefined, now + 50)).toEqual({ ok: true, data: { jobIds: ["e"], nextCursor: null } });
    expect(await queue.stats()).toMatchObject({ cancelledJobs: 0, failedJobs: 1 });
    // The filter keeps to its state: the failed job is retried by its own.
    expect(await queue.retryMany("failed", 100, undefined, now + 60)).toEqual({ ok: true, data: { jobIds: ["failed"], nextCursor: null } });
    expect(await queue.retryMany("failed", 100, undefined, now + 70)).toEqual({ ok: true, data: { jobIds: [], nextCursor: null } });
  });

  it("retries as many as capacity takes, and its cursor carries on from the first left behind", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    // Capacity 20: five cancelled, then seventeen live jobs leave room for three.
    await queue.enqueueBatch(["a", "b", "c", "d", "e"].map((id) => job(id)), now);
    for (const id of ["a", "b", "c", "d", "e"]) await queue.cancel(id, now);
    await queue.enqueueBatch(Array.from({ length: 17 }, (_, i) => job(`live-${i}`)), now);
    const page = await queue.retryMany("cancelled", 100, undefined, now + 10);
    expect(page).toEqual({ ok: true, data: { jobIds: ["a", "b", "c"], nextCursor: expect.any(String) } });
    expect(await queue.retryMany("cancelled", 100, page.ok ? page.data.nextCursor! : undefined, now + 20)).toMatchObject({ ok: false, code: "QUEUE_FULL" });
  });
});

describe("pause", () => {
  it("dispatches nothing while paused (what runs finishes, enqueues are accepted), then fills the slots at unpause", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    await queue.enqueue(job("running"), now);
    await queue.claim("running", 1, now);
    expect(await queue.setPaused(true, now + 10)).toEqual({ ok: true, data: { queueName: expect.any(String), paused: true } });
    expect(await queue.setPaused(true, now + 10)).toEqual({ ok: true, data: { queueName: expect.any(String), paused: true } });
    expect(await queue.enqueue(job("later"), now + 20)).toMatchObject({ ok: true, created: true, data: { status: "queued", queuePosition: 1 } });
    await queue.complete("running", 1, {}, now + 30);
    // A slot is free, the job is ready, and still nothing is sent.
    expect(await statusOf(queue, "later")).toMatchObject({ status: "queued", queuePosition: 1 });
    expect(await queue.stats()).toMatchObject({ paused: true, queuedJobs: 1, runningJobs: 0 });

    // A restart keeps the pause.
    await evictDurableObject(queue);
    expect(await queue.stats()).toMatchObject({ paused: true });
    await queue.runTimers(now + 60_000);
    expect(await statusOf(queue, "later")).toMatchObject({ queuePosition: 1 });

    expect(await queue.setPaused(false, now + 70_000)).toMatchObject({ ok: true, data: { paused: false } });
    expect(await statusOf(queue, "later")).toMatchObject({ status: "queued", queuePosition: 0 });
    expect(await queue.claim("later", 1, now + 70_100)).toMatchObject({ ok: true });
    expect(await queue.stats()).toMatchObject({ paused: false, runningJobs: 1 });
  });

  it("keeps the pause as a row of the queue's own storage, gone once unpaused", async () => {
    const queue = freshCoordinator();
    await queue.setPaused(true);
    const meta = await runInDurableObject(queue, (_instance: QueueCoordinator, state) =>
      state.storage.sql.exec<{ key: string; value: string }>("SELECT key, value FROM meta WHERE key = 'paused'").toArray());
    expect(meta).toEqual([{ key: "paused", value: "1" }]);
    await queue.setPaused(false);
    expect(await queue.stats()).toMatchObject({ paused: false });
    const after = await runInDurableObject(queue, (_instance: QueueCoordinator, state) => state.storage.sql.exec("SELECT key FROM meta WHERE key = 'paused'").toArray());
    expect(after).toEqual([]);
  });
});
