/**
 * The platform flavour's client (src/langgraph/platform.ts) against a small real LangGraph server
 * of our own (test/support/langgraph-fake.ts), for faults the dev server cannot produce on demand:
 *   - classification: nothing answers (an outage, `unreachable`), one call reset while LangGraph
 *     answers (retryable, not unreachable), a TypeError of our own (not LangGraph's at all);
 *   - a later attempt rejoins a run still going, after an outage too, without cancelling or
 *     copying it; a follow rides out a reset stream and a reset status check;
 *   - a lost run is proven only after an outage and only with LANGGRAPH_LOST_RUN_SECONDS > 0,
 *     and then the job moves, once, to a copy of its thread from its checkpoint.
 */
import { createServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PlatformClient } from "../../src/langgraph/platform";
import type { FollowContext, LangGraphJob, RunOutcome, RunProgress } from "../../src/langgraph/client";
import { langGraphJob, sleep, until } from "../support/langgraph-jobs";
import { startFakeLangGraph, type FakeLangGraph } from "../support/langgraph-fake";

let fake: FakeLangGraph;
beforeAll(async () => {
  fake = await startFakeLangGraph();
});
afterAll(() => fake?.close());

const client = (lostRunMs = 0, baseUrl = fake.url) => new PlatformClient({ baseUrl, apiKey: undefined, lostRunMs });

const job = langGraphJob;

/** The requests the client made for one thread (and /ok), since `from`. */
const callsOf = (threadId: string, from = 0) => fake.calls.slice(from).filter((call) => call.includes(threadId) || call === "GET /ok");


/** Follows a run in the background, recording what the follow reported. */
function follow(platform: PlatformClient, followed: LangGraphJob, runId: string) {
  const progress: RunProgress[] = [];
  const moves: { threadId: string; runId: string | null }[] = [];
  const stop = new AbortController();
  const context: FollowContext = {
    signal: stop.signal, deadlineMs: Date.now() + 60_000,
    onProgress: (update) => progress.push(update),
    onRunMoved: (threadId, movedRunId) => moves.push({ threadId, runId: movedRunId }),
  };
  const outcome: Promise<RunOutcome> = platform.follow(followed, runId, context);
  return { outcome, progress, moves, stop };
}

const joins = (threadId: string, runId: string) => fake.calls.filter((call) => call === `GET /threads/${threadId}/runs/${runId}/stream`).length;

/** Ends a run as a real one ends: its last node's update and checkpoint, then success. */
function succeed(threadId: string, runId: string) {
  fake.emit(runId, "updates", { draft: { done: true } });
  fake.checkpoint(threadId, { done: true });
  fake.setStatus(runId, "success");
}

describe("what a failed call means", () => {
  it("nothing answering (connection refused, /ok refused too) is an outage: unreachable", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const outcome = await client(0, `http://127.0.0.1:${port}`).start(job());
    expect(outcome).toMatchObject({ status: "failed", retryable: true, unreachable: true });
    expect(outcome.status === "failed" && outcome.error).toMatch(/^LangGraph unreachable at http:\/\/127\.0\.0\.1:\d+/);
  });

  it("one call reset while LangGraph answers /ok is one failed call: retryable, not unreachable", async () => {
    const started = job();
    fake.resetNext(new RegExp(`^POST /threads/${started.threadId}/runs$`));
    const outcome = await client().start(started);
    expect(outcome).toMatchObject({ status: "failed", retryable: true });
    expect(outcome.status === "failed" && outcome.unreachable).toBeFalsy();
    expect(outcome.status === "failed" && outcome.error).toMatch(/^a call to LangGraph failed/);
    expect(callsOf(started.threadId)).toEqual([`POST /threads/${started.threadId}/runs`, "GET /ok"]);
  });

  it("a TypeError thrown by our own code is an unexpected error, not LangGraph unreachable, and asks /ok nothing", async () => {
    // A runs list our code cannot sort (runs without created_at): the TypeError is ours.
    const later = job({ firstRun: false, afterOutage: true });
    fake.addRun(later, "error", { createdAt: null });
    fake.addRun(later, "error", { createdAt: null });
    const from = fake.calls.length;
    const outcome = await client().start(later);
    expect(outcome).toMatchObject({ status: "failed", retryable: true });
    expect(outcome.status === "failed" && outcome.unreachable).toBeFalsy();
    expect(outcome.status === "failed" && outcome.error).toMatch(/^unexpected error: .*null/);
    expect(fake.calls.slice(from)).not.toContain("GET /ok");
  });

  it("LangGraph going away while a run is followed (stream cut, nothing answers) is an outage", async () => {
    const followed = job({ firstRun: false });
    const run = fake.addRun(followed, "running");
    const { outcome } = follow(client(), followed, run.run_id);
    await until("the stream to be joined", () => joins(followed.threadId, run.run_id) === 1);
    fake.down = true;
    fake.cutStreams();
    try {
      expect(await outcome).toMatchObject({ status: "failed", retryable: true, unreachable: true });
    } finally {
      fake.down = false;
    }
  });
});

describe("a run that may be alive is rejoined, never interrupted or copied", () => {
  it("a later attempt after an outage rejoins the thread's running run: no cancel, no copy, no new run", async () => {
    const later = job({ firstRun: false, afterOutage: true });
    const run = fake.addRun(later, "running");
    const from = fake.calls.length;
    expect(await client(20_000).start(later)).toEqual({ status: "started", runId: run.run_id, rejoined: true });
    const asked = callsOf(later.threadId, from);
    expect(asked.filter((call) => /\/cancel$|\/copy$|^POST \/threads\/[^/]+\/runs$/.test(call))).toEqual([]);
    expect(run.status).toBe("running");
  });

  it("a follow rides out a reset stream and a reset status check while LangGraph answers: same run, to its end", async () => {
    const followed = job({ firstRun: false });
    const run = fake.addRun(followed, "running");
    const { outcome, moves } = follow(client(20_000), followed, run.run_id);
    await until("the stream to be joined", () => joins(followed.threadId, run.run_id) === 1);
    // The stream is cut, and so is the status check that follows.
    fake.resetNext(new RegExp(`^GET /threads/${followed.threadId}/runs/${run.run_id}$`));
    fake.cutStreams();
    await until("the stream to be joined again", () => joins(followed.threadId, run.run_id) === 2);
    succeed(followed.threadId, run.run_id);
    expect(await outcome).toEqual({ status: "completed", result: { done: true } });
    const asked = callsOf(followed.threadId);
    expect(asked).toContain("GET /ok"); // the reset call was told apart from an outage
    expect(asked.filter((call) => /\/cancel$|\/copy$|^POST \/threads\/[^/]+\/runs$/.test(call))).toEqual([]);
    expect(moves).toEqual([]);
  });
});

describe("a lost run (LANGGRAPH_LOST_RUN_SECONDS)", () => {
  const LOST_RUN_MS = 600;

  it("after an outage, a run silent that long while LangGraph answers is proven lost: the job moves to a copy of its thread, from its checkpoint, once", async () => {
    const followed = job({ firstRun: false, afterOutage: true });
    const lost = fake.addRun(followed, "running");
    const startedMs = Date.now();
    const { outcome, progress, moves } = follow(client(LOST_RUN_MS), followed, lost.run_id);
    await until("a run in a copy of the thread", () => [...fake.runs.values()].some((run) => run.thread_id !== followed.threadId && run.metadata.jobId === followed.jobId));
    const movedAfterMs = Date.now() - startedMs;
    const moved = [...fake.runs.values()].find((run) => run.thread_id !== followed.threadId && run.metadata.jobId === followed.jobId)!;
    await until("the new run's stream to be joined", () => joins(moved.thread_id, moved.run_id) === 1);
    succeed(moved.thread_id, moved.run_id);
    expect(await outcome).toEqual({ status: "completed", result: { done: true } });

    expect(movedAfterMs).toBeGreaterThanOrEqual(LOST_RUN_MS);
    expect(moved.input).toBeNull(); // from the checkpoint: finished nodes do not run again
    expect(fake.threads.get(moved.thread_id)!.checkpointId).not.toBeNull();
    // The copy is known (reported, and kept by the follower) before its run is created, then its run.
    expect(moves).toEqual([{ threadId: moved.thread_id, runId: null }, { threadId: moved.thread_id, runId: moved.run_id }]);
    const reported = progress.filter((update) => update.threadId !== undefined || update.runId !== undefined);
    expect(reported).toEqual([{ threadId: moved.thread_id }, { runId: moved.run_id }]);
    // The lost run was neither cancelled nor joined again; the thread was copied once.
    expect(fake.calls.filter((call) => call.endsWith("/cancel"))).not.toContain(`POST /threads/${followed.threadId}/runs/${lost.run_id}/cancel`);
    expect(callsOf(followed.threadId).filter((call) => call.endsWith("/copy"))).toHaveLength(1);
  });

  it("a run that shows signs of life (stream events, then new checkpoints) is not taken for lost, however long it runs", async () => {
    const followed = job({ firstRun: false, afterOutage: true });
    const run = fake.addRun(followed, "running");
    const { outcome, moves } = follow(client(LOST_RUN_MS), followed, run.run_id);
    await until("the stream to be joined", () => joins(followed.threadId, run.run_id) === 1);
    for (let i = 0; i < 5; i++, await sleep(300)) fake.emit(run.run_id, "custom", { progress: i * 10, step: "research" });
    for (let i = 0; i < 5; i++, await sleep(300)) fake.checkpoint(followed.threadId, { step: i });
    succeed(followed.threadId, run.run_id);
    expect(await outcome).toMatchObject({ status: "completed" });
    expect(moves).toEqual([]);
    expect(callsOf(followed.threadId).filter((call) => call.endsWith("/copy"))).toEqual([]);
  });

  it("without an outage before, or with LANGGRAPH_LOST_RUN_SECONDS 0 (LangGraph Platform), a silent run is never taken for lost", async () => {
    const noOutage = job({ firstRun: false, afterOutage: false });
    const platform = job({ firstRun: false, afterOutage: true });
    const runs = [fake.addRun(noOutage, "running"), fake.addRun(platform, "running")];
    const follows = [follow(client(LOST_RUN_MS), noOutage, runs[0]!.run_id), follow(client(0), platform, runs[1]!.run_id)];
    await sleep(LOST_RUN_MS * 4);
    succeed(noOutage.threadId, runs[0]!.run_id);
    succeed(platform.threadId, runs[1]!.run_id);
    for (const { outcome, moves } of follows) {
      expect(await outcome).toMatchObject({ status: "completed" });
      expect(moves).toEqual([]);
    }
    for (const threadId of [noOutage.threadId, platform.threadId]) {
      expect(callsOf(threadId).filter((call) => /\/copy$|\/cancel$/.test(call))).toEqual([]);
    }
  });
});

describe("a final state too large to send", () => {
  it("is reported by its size alone, so that the job can complete without it (a Workers RPC call carries 32 MiB)", async () => {
    const later = job({ firstRun: false, attempt: 2 });
    fake.addRun(later, "success");
    fake.checkpoint(later.threadId, { messages: "x".repeat(30 * 1024 * 1024) });
    const outcome = await client().start(later);
    expect(outcome).toEqual({ status: "completed", result: { unkeptResultBytes: 30 * 1024 * 1024 + '{"messages":""}'.length } });
  });
});

describe("a follow that does not know its run", () => {
  it("finds the run on the thread (a follower that died after moving the job to a copy of its thread), or fails for the next attempt to resume", async () => {
    const copy = job({ firstRun: false });
    const run = fake.addRun(copy, "running");
    const { outcome, progress, moves } = follow(client(), copy, null as unknown as string);
    await until("the copy's run to be joined", () => joins(copy.threadId, run.run_id) === 1);
    succeed(copy.threadId, run.run_id);
    expect(await outcome).toEqual({ status: "completed", result: { done: true } });
    expect(progress).toContainEqual({ runId: run.run_id });
    expect(moves).toEqual([{ threadId: copy.threadId, runId: run.run_id }]);

    const empty = job({ firstRun: false });
    fake.addRun(empty, "error");
    expect(await follow(client(), empty, null as unknown as string).outcome).toMatchObject({ status: "failed", retryable: true, error: expect.stringMatching(/no LangGraph run going/) });
  });
});
