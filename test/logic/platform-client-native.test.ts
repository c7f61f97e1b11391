/**
 * The platform flavour's client (src/langgraph/platform.ts) with LangGraph-native jobs, against
 * the fake LangGraph server (test/support/langgraph-fake.ts), which shows threads, interrupts and
 * errors in the real server's shapes (langgraph/test/server-smoke.test.mjs pins them):
 *   - a run that stops at `interrupt()` (it ends `success`, its thread `interrupted`) is the
 *     interrupted outcome, its interrupts read from the thread's pending tasks, whether the follow
 *     sees the run end or a later attempt finds it ended;
 *   - a resumed job answers the interrupt with `command: {resume}` while the thread still waits
 *     for it, and goes the usual way (rejoin, final state, checkpoint) once a run took the answer;
 *   - on a thread a client chose, only the job's own runs (by their metadata's jobId) count, and
 *     another job's checkpoint is not the job's to resume from;
 *   - a run carries the job's assistant, config, context and metadata, the queue's metadata winning;
 *   - a final error (NON_RETRYABLE_ERRORS), from the stream or from the thread, is not retried;
 *   - a thread busy with another run is `threadBusy`, and a shared thread is never watched for
 *     a lost run (the job could not move to a copy of it).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PlatformClient } from "../../src/langgraph/platform";
import type { JsonValue } from "../../src/jobs";
import type { ClientSettings, FollowContext, LangGraphJob, RunOutcome, RunProgress } from "../../src/langgraph/client";
import { langGraphJob, sleep, until } from "../support/langgraph-jobs";
import { startFakeLangGraph, type FakeLangGraph, type FakeRun } from "../support/langgraph-fake";

let fake: FakeLangGraph;
beforeAll(async () => {
  fake = await startFakeLangGraph();
});
afterAll(() => fake?.close());

const client = (settings: Partial<ClientSettings> = {}) => new PlatformClient({ baseUrl: fake.url, apiKey: undefined, ...settings });

const job = langGraphJob;

/** The requests the client made for one thread, since `from`. */
const callsOf = (threadId: string, from = 0) => fake.calls.slice(from).filter((call) => call.includes(threadId));
const runCreations = (threadId: string, from = 0) => callsOf(threadId, from).filter((call) => call === `POST /threads/${threadId}/runs`);


/** Follows a run in the background, recording what the follow reported. */
function follow(platform: PlatformClient, followed: LangGraphJob, runId: string) {
  const progress: RunProgress[] = [];
  const moves: { threadId: string; runId: string | null }[] = [];
  const context: FollowContext = {
    signal: new AbortController().signal, deadlineMs: Date.now() + 60_000,
    onProgress: (update) => progress.push(update),
    onRunMoved: (threadId, movedRunId) => moves.push({ threadId, runId: movedRunId }),
  };
  const outcome: Promise<RunOutcome> = platform.follow(followed, runId, context);
  return { outcome, progress, moves };
}

const joins = (threadId: string, runId: string) => fake.calls.filter((call) => call === `GET /threads/${threadId}/runs/${runId}/stream`).length;

/** Follows a run once its stream is joined: the test then plays the graph. */
async function joined(platform: PlatformClient, followed: LangGraphJob, runId: string) {
  const following = follow(platform, followed, runId);
  await until("the stream to be joined", () => joins(followed.threadId, runId) === 1);
  return following;
}

/** The run `start` created (it answered `started` with a new run). */
function created(outcome: Awaited<ReturnType<PlatformClient["start"]>>): FakeRun {
  expect(outcome).toMatchObject({ status: "started", runId: expect.any(String) });
  expect(outcome.status === "started" && outcome.rejoined).toBeFalsy();
  return fake.runs.get((outcome as { runId: string }).runId)!;
}

/** A job's earlier attempt whose run stopped at `interrupt()` in these nodes: the thread waits for the answer. */
/** A job whose run stopped at `asks`; with `answer`, resumed with it (answering every interrupt pending then). */
function interruptedJob(asks: { node: string; value: unknown }[], { answer, ...fields }: Partial<LangGraphJob> & { answer?: JsonValue } = {}) {
  const asked = job({ firstRun: false, attempt: 2, ...fields });
  const run = fake.addRun(asked, "success");
  const tasks = fake.interrupt(asked.threadId, asks);
  const earlier: LangGraphJob = answer === undefined ? asked : { ...asked, resume: { id: randomUUID(), value: answer } };
  return { earlier, run, tasks };
}

describe("a run that stops at interrupt()", () => {
  it("followed to its end (success, its thread interrupted), gives the interrupted outcome: the interrupt's id, value and the node that asked", async () => {
    const followed = job({ firstRun: false });
    const run = fake.addRun(followed, "running");
    const { outcome } = await joined(client(), followed, run.run_id);
    fake.emit(run.run_id, "updates", { draft: { done: true } });
    const [task] = fake.interrupt(followed.threadId, [{ node: "review", value: { question: "Publish this draft?" } }]);
    expect(fake.threads.get(followed.threadId)!.status).toBe("busy"); // interrupted only once the run has ended
    fake.setStatus(run.run_id, "success");

    expect(await outcome).toEqual({ status: "interrupted", interrupts: [{ id: task!.interrupts[0]!.id, value: { question: "Publish this draft?" }, node: "review" }] });
    expect(task!.interrupts[0]!.id).toMatch(/^[0-9a-f]{32}$/);
    expect(callsOf(followed.threadId)).toContain(`GET /threads/${followed.threadId}/state`);
  });

  it("found by a later attempt (the job's latest run ended success, the thread interrupted), gives the same outcome and creates no run", async () => {
    const { earlier, tasks } = interruptedJob([
      { node: "review", value: { reviewer: "review" } },
      { node: "legal_review", value: { reviewer: "legal_review" } },
    ]);
    const from = fake.calls.length;
    expect(await client().start({ ...earlier, attempt: 3 })).toEqual({
      status: "interrupted",
      interrupts: tasks.map((task) => ({ id: task.interrupts[0]!.id, value: { reviewer: task.name }, node: task.name })),
    });
    expect(runCreations(earlier.threadId, from)).toEqual([]);
  });

  it("is not taken for completed by the sweep's check of its run: the job's next attempt finds it", async () => {
    const { earlier, run } = interruptedJob([{ node: "review", value: "ok?" }]);
    expect(await client().checkRun(earlier.threadId, run.run_id)).toEqual({ status: "ended" });
  });
});

describe("a resumed job", () => {
  it("on a thread still interrupted, creates a run with command {resume: value} and no input, with the job's run options", async () => {
    const { earlier } = interruptedJob([{ node: "review", value: "Publish?" }], {
      answer: { approved: true }, runOptions: { config: { tags: ["t"] }, context: { reviewer: "ann" } },
    });
    const run = created(await client().start(earlier));
    expect(run.body).toMatchObject({ command: { resume: { approved: true } }, config: { tags: ["t"] }, context: { reviewer: "ann" }, metadata: { jobId: earlier.jobId, attempt: 2 } });
    expect(run.body).not.toHaveProperty("input");
    // The run took the answer: the thread no longer waits for it.
    expect(fake.threads.get(earlier.threadId)!.status).toBe("busy");
  });

  it("once a run took the answer, a later attempt goes the usual way: rejoins it while it goes, resumes from the checkpoint with input null after it failed, gives its final state after it succeeded", async () => {
    const { earlier } = interruptedJob([{ node: "review", value: "Publish?" }], { answer: "yes" });
    const resumed = created(await client().start(earlier));

    // Still going: rejoined, not answered again.
    expect(await client().start({ ...earlier, attempt: 3 })).toEqual({ status: "started", runId: resumed.run_id, rejoined: true });
    // It failed after the interrupt: from the checkpoint, with no answer and no payload.
    fake.checkpoint(earlier.threadId, { answer: "yes" });
    fake.setStatus(resumed.run_id, "error");
    const retried = created(await client().start({ ...earlier, attempt: 4 }));
    expect(retried.body).toMatchObject({ input: null, metadata: { jobId: earlier.jobId, attempt: 4 } });
    expect(retried.body).not.toHaveProperty("command");
    // It succeeded: that is the result.
    fake.checkpoint(earlier.threadId, { published: true });
    fake.setStatus(retried.run_id, "success");
    const from = fake.calls.length;
    expect(await client().start({ ...earlier, attempt: 5 })).toEqual({ status: "completed", result: { answer: "yes", published: true } });
    expect(runCreations(earlier.threadId, from)).toEqual([]);
  });

  it("answering one of two interrupts by id, its run stops again at the other: the follow gives that one pending, same id", async () => {
    const { earlier, tasks } = interruptedJob([{ node: "review", value: "A?" }, { node: "legal_review", value: "B?" }]);
    const [review, legal] = tasks.map((task) => task.interrupts[0]!.id);
    const answering = { ...earlier, resume: { id: randomUUID(), value: { [review!]: true } } };
    const run = created(await client().start(answering));
    expect(run.body.command).toEqual({ resume: { [review!]: true } });

    const { outcome } = await joined(client(), answering, run.run_id);
    fake.setStatus(run.run_id, "success");
    expect(await outcome).toEqual({ status: "interrupted", interrupts: [{ id: legal, value: "B?", node: "legal_review" }] });
  });
});

describe("a stale answer", () => {
  it("is not given to a new interrupt: the resumed run stopped at another question whose report was lost, the next attempt reports that question", async () => {
    const { earlier } = interruptedJob([{ node: "review", value: "Publish?" }], { answer: "yes" });
    const resumed = created(await client().start(earlier));
    // The resumed run asks a new question and ends; its follower dies before reporting it.
    const [legal] = fake.interrupt(earlier.threadId, [{ node: "legal_review", value: "Legal OK?" }]);
    fake.setStatus(resumed.run_id, "success");
    const from = fake.calls.length;
    expect(await client().start({ ...earlier, attempt: 3 })).toEqual({
      status: "interrupted", interrupts: [{ id: legal!.interrupts[0]!.id, value: "Legal OK?", node: "legal_review" }],
    });
    expect(runCreations(earlier.threadId, from)).toEqual([]);
  });
});

describe("on a thread a client chose (sharedThread), only the job's own runs count", () => {
  /** A conversation's thread where an earlier job's run ended as given, leaving its checkpoint. */
  function sharedThreadAfter(status: "success" | "running", createdAt?: string) {
    const threadId = randomUUID();
    const other = fake.addRun({ threadId, jobId: `earlier-${randomUUID()}` }, status, createdAt === undefined ? {} : { createdAt });
    fake.checkpoint(threadId, { turns: 1 });
    return { threadId, other };
  }

  it("a job whose first attempt never got a run starts from its payload, though an earlier job's run succeeded and left a checkpoint", async () => {
    const { threadId } = sharedThreadAfter("success");
    const later = job({ threadId, sharedThread: true, firstRun: false, attempt: 2, payload: { message: "second turn" } });
    const run = created(await client().start(later));
    expect(run.body.input).toEqual({ message: "second turn" });
  });

  it("on a thread of its own, the same checkpoint without a run of the job is its own (LangGraph lost the run): input null", async () => {
    const { threadId } = sharedThreadAfter("success");
    const later = job({ threadId, firstRun: false, attempt: 2 });
    expect(created(await client().start(later)).body.input).toBeNull();
  });

  it("a job whose own run failed resumes from the checkpoint it wrote (input null); one whose run failed before writing any starts from its payload again", async () => {
    const wrote = job({ threadId: sharedThreadAfter("success").threadId, sharedThread: true, firstRun: false, attempt: 2 });
    fake.addRun(wrote, "error");
    expect(created(await client().start(wrote)).body.input).toBeNull();

    // The newest checkpoint is still the earlier job's: resuming from it would drop this job's input.
    const wroteNone = job({ threadId: sharedThreadAfter("success").threadId, sharedThread: true, firstRun: false, attempt: 2, payload: { message: "second turn" } });
    fake.addRun(wroteNone, "error", { wroteCheckpoint: false });
    expect(created(await client().start(wroteNone)).body.input).toEqual({ message: "second turn" });
  });

  it("an id enqueued again after its record expired is another job: the old record's runs on the thread are not its own", async () => {
    const threadId = randomUUID();
    const old = job({ threadId, sharedThread: true, jobKey: "q:1" });
    created(await client().start(old));
    fake.setStatus([...fake.runs.values()].find((run) => run.thread_id === threadId)!.run_id, "success");
    const again = job({ threadId, sharedThread: true, jobId: old.jobId, jobKey: "q:2", firstRun: false, attempt: 2, payload: { message: "new" } });
    // Not the old record's result: a run of its own, from its payload.
    expect(created(await client().start(again)).body.input).toEqual({ message: "new" });
  });

  it("a job retried after another job's turn moved its thread on does not take that turn's state for its own: it runs again, from its payload", async () => {
    const threadId = randomUUID();
    const retried = job({ threadId, sharedThread: true, firstRun: false, attempt: 2, payload: { message: "first turn, again" } });
    // Its own run ended well (at an interrupt nobody answered in time: the job failed), then the next job's turn ran.
    fake.addRun(retried, "success");
    fake.addRun({ threadId, jobId: `next-${randomUUID()}` }, "success");
    expect(created(await client().start(retried)).body.input).toEqual({ message: "first turn, again" });
  });

  it("a job whose run LangGraph lost, its checkpoint carrying the job's id, resumes from it with input null", async () => {
    const threadId = randomUUID();
    const lostRun = job({ threadId, sharedThread: true, firstRun: false, attempt: 2 });
    fake.runs.delete(fake.addRun(lostRun, "running").run_id);
    expect(fake.threads.get(threadId)!.checkpointMetadata).toEqual({ jobId: lostRun.jobId });
    expect(created(await client().start(lostRun)).body.input).toBeNull();
  });

  it("another job's run still going is not rejoined: the job's own run is refused, the thread busy (threadBusy, retryable)", async () => {
    const { threadId, other } = sharedThreadAfter("running");
    const later = job({ threadId, sharedThread: true, firstRun: false, attempt: 2 });
    expect(await client().start(later)).toMatchObject({ status: "failed", retryable: true, threadBusy: true });
    expect(fake.runs.get(other.run_id)!.status).toBe("running");
    expect([...fake.runs.values()].filter((run) => run.thread_id === threadId)).toEqual([other]);
  });
});

describe("a run's options", () => {
  it("go with the run: the job's assistant, config and context, and its metadata under the queue's own (queueName, jobId, attempt win)", async () => {
    const first = job({
      type: "research_workflow", assistantId: "research-assistant-7",
      runOptions: {
        config: { configurable: { model: "small" }, tags: ["nightly"], recursion_limit: 40 },
        context: { userId: "u-1" },
        metadata: { team: "docs", jobId: "not-this-one", queueName: "nor-this", attempt: 99 },
      },
    });
    const run = created(await client().start(first));
    expect(run.assistant_id).toBe("research-assistant-7");
    expect(run.body).toEqual({
      input: first.payload,
      config: { configurable: { model: "small" }, tags: ["nightly"], recursion_limit: 40 },
      context: { userId: "u-1" },
      metadata: { team: "docs", queueName: "q", jobId: first.jobId, jobKey: first.jobKey, attempt: 1 },
      assistant_id: "research-assistant-7",
      stream_mode: ["updates", "custom"],
      multitask_strategy: "reject",
      if_not_exists: "create",
    });
    expect(run.metadata).toEqual({ team: "docs", queueName: "q", jobId: first.jobId, jobKey: first.jobKey, attempt: 1 });

    // A later attempt's run (from the checkpoint) carries them too.
    fake.checkpoint(first.threadId);
    fake.setStatus(run.run_id, "error");
    const retried = created(await client().start({ ...first, firstRun: false, attempt: 2 }));
    expect(retried.body).toMatchObject({ input: null, config: first.runOptions!.config, context: first.runOptions!.context, assistant_id: "research-assistant-7" });
    expect(retried.metadata).toEqual({ team: "docs", queueName: "q", jobId: first.jobId, jobKey: first.jobKey, attempt: 2 });
  });

  it("a job without run options sends no config or context, and only the queue's metadata", async () => {
    const run = created(await client().start(job()));
    expect(run.body).not.toHaveProperty("config");
    expect(run.body).not.toHaveProperty("context");
    expect(Object.keys(run.body.metadata as object).sort()).toEqual(["attempt", "jobId", "jobKey", "queueName"]);
  });
});

describe("a run's final error", () => {
  const settings = { nonRetryableErrors: new Set(["NonRetryableError"]) };

  it("named in NON_RETRYABLE_ERRORS on the stream's error event fails the job for good, the error naming it", async () => {
    const followed = job({ firstRun: false });
    const run = fake.addRun(followed, "running");
    const { outcome } = await joined(client(settings), followed, run.run_id);
    fake.emit(run.run_id, "error", { error: "NonRetryableError", message: "transform failed for good" });
    fake.setStatus(run.run_id, "error");
    expect(await outcome).toEqual({
      status: "failed", retryable: false, error: `LangGraph run ${run.run_id} failed: NonRetryableError: transform failed for good (a final error: not retried)`,
    });
  });

  it("of another name is retried", async () => {
    const followed = job({ firstRun: false });
    const run = fake.addRun(followed, "running");
    const { outcome } = await joined(client(settings), followed, run.run_id);
    fake.emit(run.run_id, "error", { error: "ValueError", message: "draft failed on purpose" });
    fake.setStatus(run.run_id, "error");
    expect(await outcome).toEqual({ status: "failed", retryable: true, error: `LangGraph run ${run.run_id} failed: ValueError: draft failed on purpose` });
  });

  it("not on the stream (the follow joined after the run ended) is read from the thread: a final one is not retried, a plain text one is", async () => {
    const final = job({ firstRun: false });
    const finalRun = fake.addRun(final, "running");
    fake.setStatus(finalRun.run_id, "error", { error: "NonRetryableError", message: "bad record 7" });
    expect(await follow(client(settings), final, finalRun.run_id).outcome).toMatchObject({
      status: "failed", retryable: false, error: expect.stringMatching(/failed: NonRetryableError: bad record 7 \(a final error: not retried\)$/),
    });
    expect(callsOf(final.threadId)).toContain(`GET /threads/${final.threadId}`);

    const plain = job({ firstRun: false });
    const plainRun = fake.addRun(plain, "running");
    fake.setStatus(plainRun.run_id, "error", "something broke");
    expect(await follow(client(settings), plain, plainRun.run_id).outcome).toEqual({
      status: "failed", retryable: true, error: `LangGraph run ${plainRun.run_id} failed: something broke`,
    });

    const silent = job({ firstRun: false });
    const silentRun = fake.addRun(silent, "error");
    expect(await follow(client(settings), silent, silentRun.run_id).outcome).toMatchObject({ status: "failed", retryable: true, error: expect.stringMatching(/failed: no error message$/) });
  });
});

describe("a busy thread", () => {
  it("a run refused with 422 {detail: 'Thread is already running a task…'} is threadBusy: retryable, not the job's fault", async () => {
    const threadId = randomUUID();
    fake.addRun({ threadId, jobId: `other-${randomUUID()}` }, "running");
    const outcome = await client().start(job({ threadId, sharedThread: true }));
    expect(outcome).toEqual({
      status: "failed", retryable: true, threadBusy: true,
      error: 'LangGraph answered 422: HTTP 422: {"detail":"Thread is already running a task. Wait for it to finish or choose a different multitask strategy."}',
    });
  });
});

describe("a lost run on a thread a client chose", () => {
  it("is never watched for, even after an outage with LANGGRAPH_LOST_RUN_SECONDS set: no looks at the thread, no copy", async () => {
    const LOST_RUN_MS = 400;
    const followed = job({ firstRun: false, afterOutage: true, sharedThread: true });
    const run = fake.addRun(followed, "running");
    const { outcome, moves } = await joined(client({ lostRunMs: LOST_RUN_MS }), followed, run.run_id);
    await sleep(LOST_RUN_MS * 4);
    expect(callsOf(followed.threadId).filter((call) => call.endsWith("/state") || call.endsWith("/copy"))).toEqual([]);
    fake.emit(run.run_id, "updates", { reply: { done: true } });
    fake.checkpoint(followed.threadId, { turns: 2 });
    fake.setStatus(run.run_id, "success");
    expect(await outcome).toEqual({ status: "completed", result: { turns: 2 } });
    expect(moves).toEqual([]);
  });
});
