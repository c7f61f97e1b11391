/**
 * Conversations: jobs on a thread the client chose run one at a time, in enqueue order, while
 * other jobs use the free slots; a later job waits (clients see it queued) until the one ahead
 * of it ends. Also what a job's run options are: stored, shown, part of its body.
 */
import { describe, expect, it } from "vitest";
import { freshCoordinator, job, statusOf } from "../support/jobs";

const events = async (queue: ReturnType<typeof freshCoordinator>, id: string) => {
  const history = await queue.history(id);
  return history.ok ? history.data.events.map((e) => e.event) : [];
};

describe("jobs on one thread", () => {
  it("run one at a time in enqueue order, while other jobs take the free slots", async () => {
    const queue = freshCoordinator();
    const threadId = crypto.randomUUID();
    const now = Date.now();
    // High priority for the later turns: a turn still never overtakes the one before it.
    await queue.enqueue(job("turn-1", { threadId }), now);
    await queue.enqueue(job("turn-2", { threadId, priority: "high" }), now);
    await queue.enqueue(job("turn-3", { threadId, priority: "high" }), now);
    await queue.enqueue(job("other", { priority: "low" }), now);
    // MAX_CONCURRENCY is 2: turn 1 and the other job run; turns 2 and 3 wait for the thread, shown as queued.
    expect(await queue.claim("turn-1", 1, now)).toMatchObject({ ok: true, data: { threadId, sharedThread: true, firstRun: true } });
    expect(await queue.claim("other", 1, now)).toMatchObject({ ok: true, data: { sharedThread: false } });
    expect(await statusOf(queue, "turn-2")).toMatchObject({ status: "queued", threadId });
    expect(await queue.stats()).toMatchObject({ runningJobs: 2, queuedJobs: 2 });
    const queued = await queue.list({ status: "queued", limit: 10 });
    expect(queued.jobs.map((j) => j.jobId)).toEqual(["turn-2", "turn-3"]);

    // The other job ends: its slot stays free, as no waiting turn may take it.
    await queue.complete("other", 1, { done: true }, now + 1000);
    expect(await queue.claim("turn-2", 1, now + 1000)).toMatchObject({ ok: false, code: "STALE_ATTEMPT" });
    // Turn 1 ends: turn 2 goes, and only it.
    await queue.complete("turn-1", 1, { turns: 1 }, now + 2000);
    expect(await queue.claim("turn-2", 1, now + 2000)).toMatchObject({ ok: true, data: { threadId } });
    expect(await statusOf(queue, "turn-3")).toMatchObject({ status: "queued" });
    expect(await events(queue, "turn-2")).toEqual(["queued", "thread_free", "dispatched", "started"]);
    // A failed turn hands the thread on too, as does a cancelled one.
    await queue.fail("turn-2", 1, { error: "bad input", retryable: false }, now + 3000);
    expect(await queue.claim("turn-3", 1, now + 3000)).toMatchObject({ ok: true });
  });

  it("hands the thread on when the job holding it is cancelled, even interrupted; a cancelled waiting job hands nothing on", async () => {
    const queue = freshCoordinator();
    const threadId = crypto.randomUUID();
    const now = Date.now();
    for (const id of ["asks", "dropped", "after"]) await queue.enqueue(job(id, { threadId }), now);
    await queue.claim("asks", 1, now);
    await queue.interrupted("asks", 1, [{ id: "a".repeat(32), value: "ok?", node: "review" }], now + 100);
    // Interrupted, it keeps the thread: the next turn still waits.
    expect(await queue.claim("dropped", 1, now + 200)).toMatchObject({ ok: false });
    expect(await queue.cancel("dropped", now + 300)).toMatchObject({ ok: true, data: { previousStatus: "queued" } });
    expect(await statusOf(queue, "after")).toMatchObject({ status: "queued" });
    expect(await queue.claim("after", 1, now + 300)).toMatchObject({ ok: false });
    await queue.cancel("asks", now + 400);
    expect(await queue.claim("after", 1, now + 400)).toMatchObject({ ok: true });
  });

  it("queues a job at once on a thread no active job holds, and in a batch puts the later turns behind the first", async () => {
    const queue = freshCoordinator();
    const threadId = crypto.randomUUID();
    const batch = await queue.enqueueBatch([job("b-1", { threadId }), job("b-2", { threadId }), job("solo")]);
    expect(batch.ok).toBe(true);
    expect(await queue.claim("b-1", 1)).toMatchObject({ ok: true });
    expect(await queue.claim("solo", 1)).toMatchObject({ ok: true });
    expect(await queue.claim("b-2", 1)).toMatchObject({ ok: false });
    await queue.complete("b-1", 1, {});
    expect(await queue.claim("b-2", 1)).toMatchObject({ ok: true });
    await queue.complete("b-2", 1, {});
    // The thread is free again: a new turn is queued, not waiting.
    await queue.enqueue(job("b-3", { threadId }));
    expect(await queue.claim("b-3", 1)).toMatchObject({ ok: true, data: { firstRun: true } });
  });

  it("waits out a thread LangGraph says is busy without spending a retry, up to JOB_TIMEOUT_SECONDS, looking again ever less often", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    await queue.enqueue(job("busy", { threadId: crypto.randomUUID(), maxRetries: 1 }), now);
    const busy = { error: "LangGraph answered 422: Thread is already running a task", retryable: true, threadBusy: true };
    let at = now;
    const waits: number[] = [];
    // JOB_TIMEOUT_SECONDS is an hour: RETRY_BASE_MS (200 ms here) at first, then half the time waited so far, RETRY_MAX_MS (1 s) at most.
    for (let attempt = 1; at - now < 3_600_000; attempt++) {
      expect(await queue.claim("busy", attempt, at)).toMatchObject({ ok: true });
      expect(await queue.fail("busy", attempt, busy, at + 100)).toMatchObject({ ok: true, data: { state: "delayed" } });
      const status = await statusOf(queue, "busy");
      expect(status).toMatchObject({ status: "queued", retryCount: 0 });
      waits.push(Date.parse(status.nextRetryAt!) - (at + 100));
      at = Date.parse(status.nextRetryAt!);
      await queue.runTimers(at);
      if (attempt === 4) at = now + 3_599_000; // skip ahead: the hour is nearly over
    }
    expect(waits.slice(0, 3)).toEqual([200, 200, 300]);
    expect(Math.max(...waits)).toBe(1000);
    // Past the hour, a busy thread is the job's failure: not retried, saying how long it waited.
    const attempt = waits.length + 1;
    await queue.claim("busy", attempt, at);
    expect(await queue.fail("busy", attempt, busy, at + 100)).toMatchObject({ ok: true, data: { state: "failed" } });
    expect(await statusOf(queue, "busy")).toMatchObject({ retryCount: 0, error: expect.stringMatching(/^the thread stayed busy for more than 3600s/) });
    expect(await events(queue, "busy")).toContain("thread_busy");
  });

  it("forgets a busy thread once the job has a run: the next busy spell waits from the start", async () => {
    const queue = freshCoordinator();
    const now = Date.now();
    await queue.enqueue(job("spells", { threadId: crypto.randomUUID() }), now);
    await queue.claim("spells", 1, now);
    await queue.fail("spells", 1, { error: "busy", retryable: true, threadBusy: true }, now + 3_000_000 - 1);
    await queue.runTimers(now + 3_000_000 + 5000);
    await queue.claim("spells", 2, now + 3_000_000 + 5000);
    await queue.report("spells", 2, { runId: "run-1" }, now + 3_000_000 + 5100);
    await queue.fail("spells", 2, { error: "boom", retryable: true }, now + 3_000_000 + 6000);
    const retryAt = Date.parse((await statusOf(queue, "spells")).nextRetryAt!);
    await queue.runTimers(retryAt);
    await queue.claim("spells", 3, retryAt);
    // Busy again, long after the first spell began: still a wait, not a failure.
    expect(await queue.fail("spells", 3, { error: "busy", retryable: true, threadBusy: true }, now + 3_700_000)).toMatchObject({ ok: true, data: { state: "delayed" } });
  });
});

describe("a job's run options", () => {
  it("are stored with it, shown by status and carried by each claim", async () => {
    const queue = freshCoordinator();
    const options = { config: { configurable: { model: "small" }, tags: ["t1"], recursion_limit: 40 }, context: { userId: "u1" }, metadata: { team: "a" } };
    await queue.enqueue(job("opts", { assistantId: "my-assistant", timeoutSeconds: 90, ...options }));
    expect(await statusOf(queue, "opts")).toMatchObject({ type: "research_workflow", assistantId: "my-assistant", timeoutSeconds: 90, ...options });
    expect(await queue.claim("opts", 1)).toMatchObject({ ok: true, data: { assistantId: "my-assistant", runOptionsJson: JSON.stringify(options) } });
    // Without options: the type is the assistant, and nothing else is shown.
    await queue.enqueue(job("plain"));
    const plain = await statusOf(queue, "plain");
    expect(plain).toMatchObject({ assistantId: "research_workflow", timeoutSeconds: null });
    expect(plain).not.toHaveProperty("config");
  });

  it("are part of the job's body: the same id with other options, or another thread, is a conflict", async () => {
    const queue = freshCoordinator();
    const threadId = crypto.randomUUID();
    await queue.enqueue(job("same", { threadId, config: { tags: ["a"] } }));
    expect(await queue.enqueue(job("same", { threadId, config: { tags: ["a"] } }))).toMatchObject({ ok: true, created: false });
    expect(await queue.enqueue(job("same", { threadId, config: { tags: ["b"] } }))).toMatchObject({ ok: false, code: "JOB_ID_CONFLICT" });
    expect(await queue.enqueue(job("same", { config: { tags: ["a"] } }))).toMatchObject({ ok: false, code: "JOB_ID_CONFLICT" });
    expect(await queue.enqueue(job("same", { threadId, config: { tags: ["a"] }, timeoutSeconds: 5 }))).toMatchObject({ ok: false, code: "JOB_ID_CONFLICT" });
  });
});
