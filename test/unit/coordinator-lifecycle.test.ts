/**
 * Claims, leases, retries, cancel, retention, the cron sweep and restarts. Time-dependent
 * methods take `now`, so these tests move the clock by passing it rather than waiting.
 * RETRY_BASE_MS=200 and RETRY_MAX_MS=1000 here (vitest.config.ts).
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MAX_HISTORY_BYTES } from "../../src/coordinator/job-store";
import { DISPATCH_LEASE_MS, LEASE_MS } from "../../src/queue-do";
import { freshCoordinator, job, statusOf } from "../support/jobs";

const HOUR_MS = 3_600_000;

/** Enqueues a job and claims its first attempt, as the consumer would. */
async function running(id: string, overrides: Parameters<typeof job>[1] = {}) {
  const queue = freshCoordinator();
  const now = Date.now();
  await queue.enqueue(job(id, overrides), now);
  const claim = await queue.claim(id, 1, now);
  // The job's thread: a UUID, as LangGraph requires.
  expect(claim).toMatchObject({ ok: true, data: { jobId: id, attempt: 1, retryCount: 0, threadId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/) } });
  return { queue, now, threadId: claim.ok ? claim.data.threadId : "" };
}


describe("claims", () => {
  it("answers a repeated delivery of the running attempt as a redelivery, so its hand-over can be finished, without a second start", async () => {
    const { queue, now } = await running("dup");
    // The first delivery claimed the attempt, then failed to hand the run over: the Queue delivers it again.
    expect(await queue.claim("dup", 1, now + 5000)).toMatchObject({ ok: true, data: { attempt: 1, redelivery: true, firstRun: false } });
    const history = await queue.history("dup");
    expect(history.ok && history.data.events.map((e) => e.event)).toEqual(["queued", "dispatched", "started", "redelivered"]);
    // The lease is renewed from the redelivery; the attempt's start time is the first claim's.
    expect(await statusOf(queue, "dup")).toMatchObject({ status: "running", retryCount: 0, startedAt: new Date(now).toISOString() });
    expect(await runInDurableObject(queue, (_, state) => state.storage.sql.exec("SELECT deliveries, lease_until_ms FROM jobs WHERE id = 'dup'").one()))
      .toEqual({ deliveries: 2, lease_until_ms: now + 5000 + LEASE_MS });
  });

  it("claims a whole delivery in one call, answering each message as a claim of its own would", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    await queue.enqueue(job("first"), now);
    await queue.enqueue(job("second"), now);
    const answers = await queue.claimBatch([
      { jobId: "first", attempt: 1 }, { jobId: "first", attempt: 1 }, { jobId: "second", attempt: 2 }, { jobId: "nope", attempt: 1 }, { jobId: "second", attempt: 1 },
    ], now);
    expect(answers.map((answer) => (answer.ok ? `${answer.data.jobId}${answer.data.redelivery ? " again" : ""}` : answer.code)))
      .toEqual(["first", "first again", "STALE_ATTEMPT", "JOB_NOT_FOUND", "second"]);
    for (const id of ["first", "second"]) {
      const history = await queue.history(id);
      expect(history.ok && history.data.events.filter((e) => e.event === "started")).toHaveLength(1);
      expect(await statusOf(queue, id)).toMatchObject({ status: "running" });
    }
    // The earliest lease is the alarm.
    expect(await runInDurableObject(queue, (_, state) => state.storage.getAlarm())).toBe(now + LEASE_MS);
  });

  it("refuses deliveries and reports for an attempt that is not current", async () => {
    const { queue } = await running("stale");
    expect(await queue.claim("stale", 2)).toMatchObject({ ok: false, code: "STALE_ATTEMPT" });
    expect(await queue.report("stale", 0, { progress: 10 })).toMatchObject({ ok: false, code: "STALE_ATTEMPT" });
    expect(await queue.claim("nope", 1)).toMatchObject({ ok: false, code: "JOB_NOT_FOUND" });
  });

  it("records progress, step and LangGraph ids, each in the history once", async () => {
    const { queue } = await running("progress");
    await queue.report("progress", 1, { runId: "r-1" });
    await queue.report("progress", 1, { progress: 30, currentStep: "research" });
    await queue.report("progress", 1, { progress: 45, currentStep: "research" });
    await queue.report("progress", 1, { progress: 140, currentStep: "draft" });
    expect(await statusOf(queue, "progress")).toMatchObject({ status: "running", progress: 100, currentStep: "draft" });
    const history = await queue.history("progress");
    expect(history.ok && history.data.events.map((e) => e.event)).toEqual([
      "queued", "dispatched", "started", "run_created", "progress", "progress",
    ]);
  });
});

describe("ended jobs", () => {
  it("refuses reports for a job that ended, so its consumer stops its run", async () => {
    const { queue, now } = await running("timed-out");
    await queue.sweep(now + 2 * HOUR_MS);
    expect(await queue.report("timed-out", 1, { progress: 90 })).toMatchObject({ ok: false, code: "JOB_ENDED" });
  });

  it("gives a job enqueued again after its record expired a new LangGraph thread", async () => {
    const { queue, now, threadId } = await running("reused");
    await queue.complete("reused", 1, {}, now);
    await queue.runTimers(now + 25 * HOUR_MS);
    expect((await queue.status("reused")).ok).toBe(false);
    await queue.enqueue(job("reused"), now + 25 * HOUR_MS);
    const claim = await queue.claim("reused", 1, now + 25 * HOUR_MS);
    expect(claim.ok && claim.data.threadId).not.toBe(threadId);
  });
});

describe("completion", () => {
  it("stores the result, frees the slot and counts the process time", async () => {
    const { queue, now } = await running("done");
    expect(await queue.complete("done", 1, { researchData: { a: 1 } }, now + 4000)).toMatchObject({ ok: true });
    expect(await statusOf(queue, "done")).toMatchObject({
      status: "completed", progress: 100, result: { researchData: { a: 1 } }, completedAt: new Date(now + 4000).toISOString(), error: null,
    });
    expect(await queue.stats()).toMatchObject({ completedJobs: 1, runningJobs: 0, averageProcessTime: 4, successRate: 1 });
    // A late duplicate of the same report changes nothing.
    expect(await queue.complete("done", 1, { other: true })).toMatchObject({ ok: false, code: "JOB_ENDED" });
  });

  it("completes a job whose result is over 1 MiB, keeping it in the bucket, counting bytes, not characters", async () => {
    const { queue } = await running("huge");
    // 600,000 two-byte characters: 1.2 MB of UTF-8, though only 600,000 UTF-16 units.
    expect(await queue.complete("huge", 1, { text: "é".repeat(600_000) })).toMatchObject({ ok: true, data: { state: "completed" } });
    // Too large for the row: the row names the object (test/unit/coordinator-results.test.ts has the rest).
    expect(await statusOf(queue, "huge")).toMatchObject({ status: "completed", result: null, resultRef: expect.stringMatching(/^results\/.*\/huge\/1-/), error: null });
  });
});

describe("retries", () => {
  it("waits out an exponential backoff as 'queued', then runs the next attempt", async () => {
    const { queue, now } = await running("flaky", { maxRetries: 2 });
    expect(await queue.fail("flaky", 1, { error: "LangGraph 503", retryable: true }, now)).toMatchObject({ ok: true, data: { state: "delayed" } });
    const waiting = await statusOf(queue, "flaky");
    expect(waiting).toMatchObject({ status: "queued", retryCount: 1, error: "LangGraph 503" });
    const retryAt = Date.parse(waiting.nextRetryAt!);
    // First retry: between half and all of RETRY_BASE_MS.
    expect(retryAt - now).toBeGreaterThanOrEqual(100);
    expect(retryAt - now).toBeLessThanOrEqual(200);
    // The slot is free while the job waits, and the alarm is set for the retry.
    expect((await queue.stats()).runningJobs).toBe(0);
    expect(await runInDurableObject(queue, (_, state) => state.storage.getAlarm())).toBe(retryAt);

    await queue.runTimers(retryAt - 1);
    expect((await statusOf(queue, "flaky")).status).toBe("queued");
    await queue.runTimers(retryAt);
    expect(await statusOf(queue, "flaky")).toMatchObject({ status: "queued", queuePosition: 0, nextRetryAt: null });
    // Not its first run: the consumer looks at the thread's earlier run before starting another.
    expect(await queue.claim("flaky", 2, retryAt)).toMatchObject({ ok: true, data: { attempt: 2, retryCount: 1, firstRun: false } });

    // Second failure: the nominal delay doubles.
    await queue.fail("flaky", 2, { error: "LangGraph 503 again", retryable: true }, retryAt);
    const second = await statusOf(queue, "flaky");
    expect(Date.parse(second.nextRetryAt!) - retryAt).toBeGreaterThanOrEqual(200);
    expect(Date.parse(second.nextRetryAt!) - retryAt).toBeLessThanOrEqual(400);
  });

  it("fails the job once retries are exhausted", async () => {
    const { queue, now } = await running("doomed", { maxRetries: 1 });
    await queue.fail("doomed", 1, { error: "boom", retryable: true }, now);
    await queue.runTimers(now + 1000);
    await queue.claim("doomed", 2, now + 1000);
    expect(await queue.fail("doomed", 2, { error: "boom again", retryable: true }, now + 1000)).toMatchObject({ ok: true, data: { state: "failed" } });
    expect(await statusOf(queue, "doomed")).toMatchObject({ status: "failed", retryCount: 1, error: "boom again" });
    expect(await queue.stats()).toMatchObject({ failedJobs: 1, successRate: 0 });
  });

  it("fails a non-retryable error at once", async () => {
    const { queue, now } = await running("rejected");
    await queue.fail("rejected", 1, { error: "LangGraph 400: unknown graph", retryable: false }, now);
    expect(await statusOf(queue, "rejected")).toMatchObject({ status: "failed", retryCount: 0, error: "LangGraph 400: unknown graph" });
  });
});

describe("leases", () => {
  it("returns a job whose follower went silent to the queue as a stall, spending no retry, up to 3 times; then a lapse is a retry", async () => {
    const { queue, now } = await running("crashed");
    await queue.report("crashed", 1, { progress: 50 }, now + 20_000);
    // The heartbeat moved the lease: nothing expires at the first lease's end.
    await queue.runTimers(now + LEASE_MS + 1);
    expect((await statusOf(queue, "crashed")).status).toBe("running");
    let at = now + 20_000 + LEASE_MS;
    await queue.runTimers(at);
    // Stalled, not failed: back in the queue (and, a slot being free, dispatched again) with its retries intact.
    expect(await statusOf(queue, "crashed")).toMatchObject({ status: "queued", retryCount: 0, error: null });
    // The silent follower's late report is refused: attempt 2 is current.
    expect(await queue.complete("crashed", 1, {})).toMatchObject({ ok: false, code: "STALE_ATTEMPT" });
    for (const attempt of [2, 3, 4]) {
      expect(await queue.claim("crashed", attempt, at)).toMatchObject({ ok: true });
      at += LEASE_MS;
      await queue.runTimers(at);
    }
    // The fourth lapse is past the stall limit: a failed attempt, with a retry spent.
    const after = await statusOf(queue, "crashed");
    expect(after).toMatchObject({ status: "queued", retryCount: 1 });
    expect(after.error).toMatch(/lease expired.*stalled 4 times/);
    const history = await queue.history("crashed");
    expect(history.ok && history.data.events.filter((e) => e.event === "stalled").map((e) => (e.detail as { stalls: number }).stalls)).toEqual([1, 2, 3]);
  });

  it("puts a dispatched job nobody claimed back in the queue without spending a retry", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    await queue.enqueue(job("lost-message"), now);
    await queue.runTimers(now + DISPATCH_LEASE_MS);
    // Back in the heap and dispatched again at once, as attempt 2, with no retry counted.
    expect(await statusOf(queue, "lost-message")).toMatchObject({ status: "queued", queuePosition: 0, retryCount: 0 });
    expect(await queue.claim("lost-message", 1)).toMatchObject({ ok: false, code: "STALE_ATTEMPT" });
    // Attempt 1 was never taken on, so the thread still has no run.
    expect(await queue.claim("lost-message", 2, now + DISPATCH_LEASE_MS)).toMatchObject({ ok: true, data: { firstRun: true } });
  });
});

describe("cancel", () => {
  it("stops a running job: its consumer's next report and its result are refused", async () => {
    const { queue } = await running("stop-me");
    expect(await queue.cancel("stop-me")).toMatchObject({ ok: true, data: { jobId: "stop-me", status: "cancelled", previousStatus: "running" } });
    expect(await queue.report("stop-me", 1, { progress: 80 })).toMatchObject({ ok: false, code: "JOB_CANCELLED" });
    expect(await queue.complete("stop-me", 1, { late: true })).toMatchObject({ ok: false, code: "JOB_CANCELLED" });
    expect(await statusOf(queue, "stop-me")).toMatchObject({ status: "cancelled", result: null });
    expect((await queue.stats()).runningJobs).toBe(0);
  });

  it("cancels a job waiting out its backoff", async () => {
    const { queue, now } = await running("backing-off");
    await queue.fail("backing-off", 1, { error: "503", retryable: true }, now);
    expect(await queue.cancel("backing-off")).toMatchObject({ ok: true, data: { previousStatus: "queued" } });
    await queue.runTimers(now + 10_000);
    expect((await statusOf(queue, "backing-off")).status).toBe("cancelled");
  });

  it("refuses to cancel a finished job, and is idempotent on a cancelled one", async () => {
    const { queue } = await running("finished");
    await queue.complete("finished", 1, {});
    expect(await queue.cancel("finished")).toMatchObject({ ok: false, code: "JOB_NOT_CANCELLABLE" });
    await queue.enqueue(job("twice"));
    await queue.cancel("twice");
    expect(await queue.cancel("twice")).toMatchObject({ ok: true, data: { previousStatus: "cancelled" } });
    expect(await queue.cancel("missing")).toMatchObject({ ok: false, code: "JOB_NOT_FOUND" });
  });
});

describe("retention", () => {
  it("deletes a finished job's record and history RESULT_TTL_SECONDS after it ended, by the alarm", async () => {
    const { queue, now } = await running("old");
    await queue.complete("old", 1, { big: "result" }, now);
    const expiresAt = now + 24 * HOUR_MS;
    // The alarm is never moved later (each move is a billed write): it stays at the lease the job
    // no longer holds, fires early, finds nothing due, and re-arms to the record's expiry.
    expect(await runInDurableObject(queue, (_, state) => state.storage.getAlarm())).toBe(now + LEASE_MS);
    expect(await runDurableObjectAlarm(queue)).toBe(true);
    expect((await queue.status("old")).ok).toBe(true);
    expect(await runInDurableObject(queue, (_, state) => state.storage.getAlarm())).toBe(expiresAt);
    await queue.runTimers(expiresAt - 1);
    expect((await queue.status("old")).ok).toBe(true);

    // Move the record's expiry into the past, then let the real alarm fire.
    await runInDurableObject(queue, (_, state) => {
      state.storage.sql.exec("UPDATE jobs SET expires_at_ms = ? WHERE id = 'old'", Date.now() - 1);
    });
    await runInDurableObject(queue, (_, state) => state.storage.setAlarm(Date.now()));
    expect(await runDurableObjectAlarm(queue)).toBe(true);
    expect(await queue.status("old")).toMatchObject({ ok: false, code: "JOB_NOT_FOUND" });
    expect(await queue.history("old")).toMatchObject({ ok: false, code: "JOB_NOT_FOUND" });
    // The history lived in the job's row: nothing of the job is left.
    const rows = await runInDurableObject(queue, (_, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM jobs").one().n);
    expect(rows).toBe(0);
    // Lifetime averages survive the record; the per-state count does not.
    expect(await queue.stats()).toMatchObject({ totalJobs: 0, completedJobs: 0, successRate: 1 });
    // Nothing is left to wait for, so no alarm stays set.
    expect(await runInDurableObject(queue, (_, state) => state.storage.getAlarm())).toBeNull();
  });
});

describe("the alarm", () => {
  it("is only moved earlier: a stream of jobs sets it twice, not for every claim and completion", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    const { alarmWrites: before } = await queue.storageIo();
    for (let i = 0; i < 20; i++) {
      await queue.enqueue(job(`job-${i}`), now + i);
      expect(await queue.claim(`job-${i}`, 1, now + i)).toMatchObject({ ok: true });
      expect(await queue.complete(`job-${i}`, 1, {}, now + i)).toMatchObject({ ok: true });
    }
    // The first dispatch lease, then the first (earlier) running lease. Moving it to the earliest
    // timer after every change was about three writes a job.
    expect((await queue.storageIo()).alarmWrites - before).toBe(2);
    expect(await runInDurableObject(queue, (_, state) => state.storage.getAlarm())).toBe(now + LEASE_MS);
    // Fired early, it finds nothing due and re-arms to the earliest timer: the first record's expiry.
    expect(await runDurableObjectAlarm(queue)).toBe(true);
    expect((await queue.stats()).completedJobs).toBe(20);
    expect(await runInDurableObject(queue, (_, state) => state.storage.getAlarm())).toBe(now + 24 * HOUR_MS);
  });
});

describe("history", () => {
  // About 1,400 reports one after another: seconds on a loaded machine.
  it("stops growing past its cap, but still records the end of the job", { timeout: 60_000 }, async () => {
    const { queue, now } = await running("chatty");
    // A graph that keeps changing step: each change is a progress event of about 100 bytes.
    const step = "a-step-name-long-enough-to-fill-the-history-quickly-".repeat(4);
    for (let i = 0; i < Math.ceil(MAX_HISTORY_BYTES / 200) + 50; i++) {
      await queue.report("chatty", 1, { currentStep: `${step}${i}` }, now);
    }
    await queue.complete("chatty", 1, { done: true }, now);
    const history = await queue.history("chatty");
    const events = history.ok ? history.data.events : [];
    // Stored: at most the cap, plus the event that crossed it and the one that ended the job.
    const stored = await runInDurableObject(queue, (_, state) => state.storage.sql.exec("SELECT length(history) AS n FROM jobs WHERE id = 'chatty'").one().n);
    expect(stored).toBeLessThan(MAX_HISTORY_BYTES + 1000);
    expect(events.filter((e) => e.event === "progress").length).toBeLessThan(Math.ceil(MAX_HISTORY_BYTES / 200) + 50);
    expect(events.at(-1)).toMatchObject({ event: "completed" });
    expect(await statusOf(queue, "chatty")).toMatchObject({ status: "completed", result: { done: true } });
  });
});

describe("cron sweep", () => {
  it("fails jobs running longer than JOB_TIMEOUT_SECONDS and re-arms the alarm", async () => {
    const { queue, now } = await running("stuck");
    // Keep the lease alive so only the timeout can catch it.
    await queue.report("stuck", 1, {}, now + HOUR_MS);
    await runInDurableObject(queue, (_, state) => state.storage.deleteAlarm());
    expect(await queue.sweep(now + HOUR_MS + 1000)).toEqual({ timedOut: 1 });
    expect(await statusOf(queue, "stuck")).toMatchObject({ status: "failed" });
    expect((await statusOf(queue, "stuck")).error).toMatch(/timed out/);
    expect(await runInDurableObject(queue, (_, state) => state.storage.getAlarm())).toBe(now + HOUR_MS + 1000 + 24 * HOUR_MS);
  });
});

describe("restart", () => {
  it("keeps the heap, the counters and every job across an eviction", async () => {
    const queue = freshCoordinator();
    for (const [id, priority] of [["r1", "low"], ["r2", "medium"], ["r3", "high"], ["r4", "high"]] as const) {
      await queue.enqueue(job(id, { priority }));
    }
    const before = await queue.stats();
    await evictDurableObject(queue);
    expect(await queue.stats()).toEqual(before);
    // r1 and r2 took the two slots on arrival (dispatched, listed first); the high-priority pair waits, in arrival order.
    expect((await queue.list({ status: "queued", limit: 10 })).jobs.map((j) => j.jobId)).toEqual(["r1", "r2", "r3", "r4"]);
    expect(await queue.claim("r1", 1)).toMatchObject({ ok: true });
  });
});

describe("dead letters", () => {
  it("puts back, unspent, a job none of whose deliveries reached the coordinator (a coordinator blip is not the job's fault)", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    await queue.enqueue(job("blip", { maxRetries: 0 }), now);
    // Every claim of attempt 1 failed to reach the coordinator; the Queue gave up on the message.
    expect(await queue.deadLetter("blip", 1, now + 15_000)).toBe("queued");
    expect(await statusOf(queue, "blip")).toMatchObject({ status: "queued", retryCount: 0, error: null });
    // Dispatched again at once (a slot is free): with maxRetries 0 it still gets its run.
    expect(await queue.claim("blip", 2, now + 15_000)).toMatchObject({ ok: true, data: { firstRun: true } });
    expect(await queue.deadLetter("blip", 1, now + 15_000)).toBeNull();
  });

  it("fails the attempt of a job whose claimed deliveries kept crashing the consumer, counting the deliveries that reached the coordinator", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    await queue.enqueue(job("poison", { maxRetries: 1 }), now);
    for (let delivery = 0; delivery < 3; delivery++) expect(await queue.claim("poison", 1, now + delivery * 2000)).toMatchObject({ ok: true });
    expect(await queue.deadLetter("poison", 1, now + 15_000)).toBe("delayed");
    const status = await statusOf(queue, "poison");
    expect(status).toMatchObject({ status: "queued", retryCount: 1 });
    expect(status.error).toBe("the consumer failed on all 3 deliveries of attempt 1 that reached the coordinator");
    expect(await queue.deadLetter("poison", 1, now + 15_000)).toBeNull();
  });
});

describe("list and history", () => {
  it("pages through jobs newest first with a cursor", async () => {
    const queue = freshCoordinator();
    for (let i = 0; i < 5; i++) await queue.enqueue(job(`p${i}`));
    const first = await queue.list({ limit: 2 });
    expect(first.jobs.map((j) => j.jobId)).toEqual(["p4", "p3"]);
    const second = await queue.list({ limit: 2, cursor: first.nextCursor! });
    expect(second.jobs.map((j) => j.jobId)).toEqual(["p2", "p1"]);
    const third = await queue.list({ limit: 2, cursor: second.nextCursor! });
    expect(third).toMatchObject({ jobs: [{ jobId: "p0" }], nextCursor: null });
  });
});

describe("long runs", () => {
  it("records a follower rejoining the run of the current attempt, and renews its lease, without a retry", async () => {
    const { queue, now } = await running("marathon");
    await queue.report("marathon", 1, { runId: "r-1", progress: 40 }, now + 1000);
    expect(await queue.report("marathon", 1, { rejoined: true }, now + LEASE_MS)).toMatchObject({ ok: true });
    // The lease now runs from the rejoin: a timer run just after the first lease would have ended changes nothing.
    await queue.runTimers(now + LEASE_MS + 1001);
    expect(await statusOf(queue, "marathon")).toMatchObject({ status: "running", progress: 40, retryCount: 0 });
    await queue.complete("marathon", 1, {}, now + LEASE_MS + 5000);
    const history = await queue.history("marathon");
    expect(history.ok && history.data.events.map((e) => e.event)).toEqual([
      "queued", "dispatched", "started", "run_created", "rejoined", "completed",
    ]);
  });
});

describe("reconciliation", () => {
  it("lists the runs to check, and records a run that finished while nobody listened", async () => {
    const { queue, now, threadId } = await running("orphan");
    await queue.report("orphan", 1, { runId: "r-9" }, now);
    await queue.enqueue(job("no-run-yet"), now);
    const { unfinished } = await queue.runsToCheck(now);
    expect(unfinished).toEqual([{ jobId: "orphan", attempt: 1, threadId, runId: "r-9" }]);
    // The follower lost the stream and a retry is waiting. The run had succeeded.
    await queue.fail("orphan", 1, { error: "the stream kept breaking", retryable: true }, now + LEASE_MS);
    expect((await statusOf(queue, "orphan")).status).toBe("queued");
    // The run took 4 s by LangGraph's clock: that, not the lease and backoff since the attempt began, is its process time.
    expect(await queue.recordFinishedRun("orphan", 1, { researchData: 1 }, 4000, now + 5 * LEASE_MS)).toBe(true);
    expect(await statusOf(queue, "orphan")).toMatchObject({ status: "completed", result: { researchData: 1 }, nextRetryAt: null });
    expect((await queue.stats()).averageProcessTime).toBe(4);
    expect(await queue.recordFinishedRun("orphan", 1, {}, 4000, now + 5 * LEASE_MS + 1)).toBe(false);
  });

  it("lists recently cancelled or failed jobs' runs, so the sweep can stop them", async () => {
    const { queue, now, threadId } = await running("cancelled-run");
    await queue.report("cancelled-run", 1, { runId: "r-5" }, now);
    await queue.cancel("cancelled-run", now);
    expect((await queue.runsToCheck(now + 60_000)).stopped).toEqual([{ jobId: "cancelled-run", attempt: 1, threadId, runId: "r-5" }]);
    expect((await queue.runsToCheck(now + 10 * 60_000)).stopped).toEqual([]);
  });
});

describe("estimates", () => {
  it("estimates a running job's completion from its job type's average time before it reports progress", async () => {
    const { queue, now } = await running("first", { type: "data_sync" });
    await queue.complete("first", 1, {}, now + 20_000);
    await queue.enqueue(job("second", { type: "data_sync" }), now + 30_000);
    await queue.claim("second", 1, now + 30_000);
    const second = await queue.status("second", now + 31_000);
    expect(second.ok && second.data.estimatedCompletion).toBe(new Date(now + 50_000).toISOString());
  });
});
