/**
 * Human in the loop: a run that stopped at the graph's interrupt() leaves its job `interrupted`,
 * its slot freed but its place under capacity kept, until a resume queues it again (the next
 * claim carries the answer), a cancel ends it, or INTERRUPT_TIMEOUT_SECONDS (7 days by default)
 * passes. Time is passed in as `now`.
 */
import { describe, expect, it } from "vitest";
import type { PendingInterrupt } from "../../src/coordinator/protocol";
import { freshCoordinator, job, statusOf } from "../support/jobs";

const DAY_MS = 86_400_000;
const question: PendingInterrupt = { id: "a".repeat(32), value: { question: "Publish this draft?" }, node: "review" };
const legal: PendingInterrupt = { id: "b".repeat(32), value: { question: "Legal OK?" }, node: "legal_review" };

/** A job whose first attempt ran and stopped at `interrupts`. */
async function interrupted(id: string, interrupts: PendingInterrupt[] = [question]) {
  const queue = freshCoordinator();
  const now = Date.now();
  await queue.enqueue(job(id, { type: "approval" }), now);
  expect(await queue.claim(id, 1, now)).toMatchObject({ ok: true });
  expect(await queue.interrupted(id, 1, interrupts, now + 1000)).toEqual({ ok: true, data: { state: "interrupted" } });
  return { queue, now: now + 1000 };
}

const events = async (queue: ReturnType<typeof freshCoordinator>, id: string) => {
  const history = await queue.history(id);
  return history.ok ? history.data.events : [];
};

describe("an interrupted job", () => {
  it("shows its interrupts and frees its slot at once, still counting against capacity", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    // MAX_CONCURRENCY is 2 here: two running jobs fill the slots, a third waits.
    for (const id of ["asks", "busy", "next"]) await queue.enqueue(job(id), now);
    await queue.claim("asks", 1, now);
    await queue.claim("busy", 1, now);
    expect(await statusOf(queue, "next")).toMatchObject({ status: "queued", queuePosition: 1 });

    await queue.interrupted("asks", 1, [question], now + 500);
    expect(await statusOf(queue, "asks")).toMatchObject({
      status: "interrupted", interrupts: [question], interruptExpiresAt: new Date(now + 500 + 7 * DAY_MS).toISOString(),
    });
    // The freed slot went to the next job at once.
    expect(await queue.claim("next", 1, now + 600)).toMatchObject({ ok: true });
    expect(await queue.stats()).toMatchObject({ runningJobs: 2, interruptedJobs: 1, queuedJobs: 0, totalJobs: 3 });
    const list = await queue.list({ status: "interrupted", limit: 10 });
    expect(list.jobs.map((j) => j.jobId)).toEqual(["asks"]);
    // Reports of the interrupted attempt are refused: its run is over.
    expect(await queue.report("asks", 1, { progress: 50 }, now + 700)).toMatchObject({ ok: false, code: "STALE_ATTEMPT" });
    expect((await events(queue, "asks")).map((e) => e.event)).toEqual(["queued", "dispatched", "started", "interrupted"]);
  });

  it("is queued again by a resume, whose answer the next claim carries, without spending a retry", async () => {
    const { queue, now } = await interrupted("resumed");
    expect(await queue.resume("resumed", { approved: true }, now + 1000)).toEqual({ ok: true, data: { jobId: "resumed", status: "queued" } });
    const claim = await queue.claim("resumed", 2, now + 1100);
    expect(claim).toMatchObject({ ok: true, data: { attempt: 2, retryCount: 0, firstRun: false } });
    const answer = JSON.parse((claim.ok && claim.data.resumeJson) || "null");
    expect(answer).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), value: { approved: true } });
    expect(await statusOf(queue, "resumed")).toMatchObject({ status: "running", retryCount: 0 });
    expect((await statusOf(queue, "resumed")).interrupts).toBeUndefined();
    // Interrupted again, then resumed again: each in the history; the new interrupt clears the old answer.
    await queue.interrupted("resumed", 2, [{ ...question, id: "c".repeat(32) }], now + 2000);
    await queue.resume("resumed", "second answer", now + 3000);
    const again = await queue.claim("resumed", 3, now + 3100);
    // A new answer, with an id of its own: the run that takes it says so.
    expect(JSON.parse((again.ok && again.data.resumeJson) || "null")).toEqual({ id: expect.not.stringMatching(answer.id), value: "second answer" });
    await queue.complete("resumed", 3, { published: true }, now + 4000);
    expect((await events(queue, "resumed")).map((e) => e.event)).toEqual([
      "queued", "dispatched", "started", "interrupted", "resumed", "dispatched", "started", "interrupted", "resumed", "dispatched", "started", "completed",
    ]);
  });

  it("no longer counts the run that stopped at the interrupt as the job's once resumed: the sweep cannot take its state for the result", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    await queue.enqueue(job("swept", { type: "approval" }), now);
    await queue.claim("swept", 1, now);
    await queue.report("swept", 1, { runId: "run-asked" }, now + 10);
    await queue.interrupted("swept", 1, [question], now + 20);
    await queue.resume("swept", "yes", now + 30);
    await queue.claim("swept", 2, now + 40);
    // The resumed attempt's run is not known yet (its report may be lost): nothing for the sweep to check.
    expect((await queue.runsToCheck(now + 50)).unfinished).toEqual([]);
  });

  it("takes a map by interrupt id when several are pending, or one value for all, and refuses a map naming others", async () => {
    const { queue, now } = await interrupted("two", [question, legal]);
    const wrongMap = await queue.resume("two", { [question.id]: "yes", ["f".repeat(32)]: "no" }, now);
    expect(wrongMap).toMatchObject({ ok: false, code: "INVALID_RESUME", message: expect.stringContaining("ffff") });
    expect(await statusOf(queue, "two")).toMatchObject({ status: "interrupted" });
    expect(await queue.resume("two", { [question.id]: "yes", [legal.id]: "ok" }, now)).toMatchObject({ ok: true });

    const plain = await interrupted("plain", [question, legal]);
    expect(await plain.queue.resume("plain", { approved: true }, plain.now)).toMatchObject({ ok: true });
  });

  it("refuses a resume of a job that is not interrupted, with its own code", async () => {
    const queue = freshCoordinator();
    await queue.enqueue(job("waiting"));
    expect(await queue.resume("waiting", "yes")).toMatchObject({ ok: false, code: "JOB_NOT_INTERRUPTED", message: expect.stringContaining("queued") });
    expect(await queue.resume("nobody", "yes")).toMatchObject({ ok: false, code: "JOB_NOT_FOUND" });
  });

  it("can be cancelled", async () => {
    const { queue, now } = await interrupted("cancelled");
    expect(await queue.cancel("cancelled", now + 1000)).toEqual({ ok: true, data: { jobId: "cancelled", status: "cancelled", previousStatus: "interrupted" } });
    expect(await queue.stats()).toMatchObject({ interruptedJobs: 0, cancelledJobs: 1 });
    expect(await queue.resume("cancelled", "too late")).toMatchObject({ ok: false, code: "JOB_NOT_INTERRUPTED" });
  });

  it("fails once left waiting past INTERRUPT_TIMEOUT_SECONDS, saying so", async () => {
    const { queue, now } = await interrupted("forgotten");
    await queue.runTimers(now + 7 * DAY_MS - 1);
    expect(await statusOf(queue, "forgotten")).toMatchObject({ status: "interrupted" });
    await queue.runTimers(now + 7 * DAY_MS);
    expect(await statusOf(queue, "forgotten")).toMatchObject({ status: "failed", retryCount: 0, error: expect.stringMatching(/^interrupted: no resume within INTERRUPT_TIMEOUT_SECONDS \(604800s\)/) });
  });
});

describe("a job's own time limit", () => {
  it("fails the attempt once its run outlasts timeoutSeconds, without a retry", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    await queue.enqueue(job("slow", { timeoutSeconds: 30 }), now);
    await queue.claim("slow", 1, now);
    // A redelivery does not move the deadline.
    await queue.claim("slow", 1, now + 10_000);
    await queue.report("slow", 1, { progress: 10 }, now + 29_000);
    await queue.runTimers(now + 29_999);
    expect(await statusOf(queue, "slow")).toMatchObject({ status: "running", timeoutSeconds: 30 });
    await queue.runTimers(now + 30_000);
    expect(await statusOf(queue, "slow")).toMatchObject({
      status: "failed", retryCount: 0, error: "timed out: the run took longer than the job's timeoutSeconds (30s)",
    });
  });

  it("runs from each attempt's claim, and no longer applies once the attempt ended", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    await queue.enqueue(job("retried", { timeoutSeconds: 30 }), now);
    await queue.claim("retried", 1, now);
    await queue.fail("retried", 1, { error: "boom", retryable: true }, now + 20_000);
    const retryAt = Date.parse((await statusOf(queue, "retried")).nextRetryAt!);
    await queue.runTimers(retryAt);
    await queue.claim("retried", 2, retryAt + 1000);
    await queue.runTimers(retryAt + 30_000);
    expect(await statusOf(queue, "retried")).toMatchObject({ status: "running", retryCount: 1 });
    await queue.complete("retried", 2, { ok: true }, retryAt + 31_000);
    await queue.runTimers(retryAt + 40_000);
    expect(await statusOf(queue, "retried")).toMatchObject({ status: "completed" });
  });
});
