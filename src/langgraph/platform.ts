/**
 * The LangGraph Server API (LangGraph Platform, `langgraphjs dev`), through @langchain/langgraph-sdk.
 *
 * A job has a thread of its own (the coordinator picks its id at enqueue) or one the client chose
 * (a conversation's, which other jobs use too), the same for every attempt; the job's runs are
 * told apart by their metadata (`jobKey`). `start` is what a Queue consumer does, a few quick
 * calls: a job's first attempt creates the run (and the thread, if need be) in one request; a
 * resumed job's attempt delivers the answer once; a later attempt first looks at the job's latest
 * run: one still going is followed again, never interrupted (it may be alive), one that succeeded
 * is the result (it finished while nobody listened) or the interrupt it stopped at, and after one
 * that failed, a new run with `input: null` resumes from the job's checkpoint, so finished nodes do
 * not run again. `follow` is what the run follower does for as long as the run lasts: it streams
 * the run's events into progress, and, after an outage, moves the job to a copy of its own thread
 * only once its run is proven lost.
 */
import { Client, type Run } from "@langchain/langgraph-sdk";
import { classify, networkFetch, retryingCall, type Endpoint } from "./calls";
import { ACTIVE, LostRunWatch, RunEndWatch } from "./run-end-watch";
import { runErrorOf, ThreadReader, type RunError } from "./thread-reader";
import {
  errorMessage, probe, type AttemptFailed, type ClientSettings, type FollowContext, type LangGraphClient,
  type LangGraphHealth, type LangGraphJob, type RunCheck, type RunOutcome, type StartOutcome, type StopReason,
} from "./client";

const STREAM_MODES: ("updates" | "custom")[] = ["updates", "custom"];
/**
 * How long one request to LangGraph may take (streams excepted): a call that hangs must not
 * hold a consumer, or outlast the attempt's lease.
 */
const REQUEST_TIMEOUT_MS = 10_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** How many times a stream that breaks while its run goes on is rejoined in one follow. */
const MAX_REJOINS = 3;

/** The run a follow follows: the job's own, or its replacement in a copy of the thread. */
interface FollowedRun {
  threadId: string;
  runId: string;
}

/** What a run is created from: the job's payload, nothing (continue from the checkpoint), or the answer to an interrupt. */
type RunStart = { input: LangGraphJob["payload"] | null } | { command: { resume: unknown } };

export class PlatformClient implements LangGraphClient {
  readonly flavor = "platform";
  private readonly client: Client;
  private readonly endpoint: Endpoint;
  /** What LangGraph says of a job's thread and runs (thread-reader.ts). */
  private readonly threads: ThreadReader;

  constructor(private readonly settings: ClientSettings) {
    // No SDK-level retries: the coordinator owns retrying, with backoff, as job attempts.
    this.client = new Client({
      apiUrl: settings.baseUrl, apiKey: settings.apiKey ?? null, callerOptions: { maxRetries: 0, fetch: networkFetch }, timeoutMs: REQUEST_TIMEOUT_MS,
    });
    this.endpoint = { baseUrl: settings.baseUrl, apiKey: settings.apiKey };
    this.threads = new ThreadReader(this.client);
  }

  async start(job: LangGraphJob): Promise<StartOutcome> {
    const { threadId } = job;
    try {
      if (!job.firstRun) {
        // With its graph (an assistant's UUID is no graph), so that a thread LangGraph lost while
        // keeping its checkpoints (the JS dev server killed mid-run) shows those checkpoints again.
        const graphId = UUID.test(job.assistantId) ? undefined : job.assistantId;
        await this.client.threads.create({ threadId, ifExists: "do_nothing", graphId, metadata: { queueName: job.queueName, jobId: job.jobId } });
        const runs = await this.threads.jobRuns(threadId, job);
        // Resumed, and no run took the answer yet: it goes to the interrupt the job stopped at.
        // Once a run took it, a later attempt finds that run as any other, and never gives a new
        // question (a later interrupt, even one with the same id) the old answer.
        const { resume } = job;
        if (resume && !runs.some((run) => run.metadata?.resumeId === resume.id)) {
          const thread = await this.client.threads.get(threadId);
          if (thread.status === "interrupted") {
            // A graph paused at a breakpoint (interruptBefore/After) has no interrupt to answer: it goes on from its checkpoint.
            const asks = Object.values(thread.interrupts ?? {}).flat().length > 0;
            return await this.createRun(job, asks ? { command: { resume: resume.value } } : { input: null }, { resumeId: resume.id });
          }
        }
        const latest = runs[0];
        // Its run ended well while nobody listened: what it left is the job's outcome, unless
        // another job's run has moved the client's thread on since (an operator retried a job
        // whose turn had ended): then the job runs again.
        if (latest?.status === "success" && (await this.threads.hasCheckpointOf(job))) return await this.threads.finalState(threadId);
        // Still going: rejoined, whatever an earlier attempt met. It may be alive (its follower
        // died, or a call failed on the way); interrupting it would not stop a node that ignores
        // the signal, and a second run would run that node again. Should LangGraph have lost it,
        // the follower proves so (LostRunWatch) and only then moves the job.
        if (latest && ACTIVE.has(latest.status)) return { status: "started", runId: latest.run_id, rejoined: true };
        // After a failed run (or none: LangGraph may lose a run yet keep its checkpoints), resume
        // from the job's checkpoint; with none, `input: null` would fail: start from the payload.
        return await this.resume(job);
      }
      return await this.createRun(job, { input: job.payload });
    } catch (error) {
      return this.failure(error, job);
    }
  }

  /** A new run from the job's own checkpoint, or from the payload when the thread has none of the job's. */
  private async resume(job: LangGraphJob): Promise<StartOutcome & { status: "started"; runId: string }> {
    return this.createRun(job, { input: (await this.threads.hasCheckpointOf(job)) ? null : job.payload });
  }

  /**
   * One request: the thread is created with the run when it does not exist yet. The job's own
   * config, context and metadata go with it; the queue's metadata (which names the job's runs) wins.
   */
  private async createRun(job: LangGraphJob, start: RunStart, marks: { resumeId?: string } = {}): Promise<StartOutcome & { status: "started"; runId: string }> {
    const { config, context, metadata } = job.runOptions ?? {};
    const run = await this.client.runs.create(job.threadId, job.assistantId, {
      ...start,
      ...(config && { config }),
      ...(context && { context }),
      ifNotExists: "create",
      multitaskStrategy: "reject",
      streamMode: STREAM_MODES,
      metadata: { ...metadata, ...marks, queueName: job.queueName, jobId: job.jobId, jobKey: job.jobKey, attempt: job.attempt },
    });
    return { status: "started", runId: run.run_id };
  }

  async follow(job: LangGraphJob, knownRunId: string | null, context: FollowContext): Promise<RunOutcome> {
    let runId = knownRunId;
    if (!runId) {
      // A follow that moved the job to a copy of its thread died before it knew the copy's run:
      // the copy's run, if it got one, is the job's; with none, the next attempt resumes there.
      try {
        const [latest] = await this.threads.jobRuns(job.threadId, job);
        if (!latest || !ACTIVE.has(latest.status)) return { status: "failed", error: `no LangGraph run going on thread ${job.threadId} to follow`, retryable: true };
        runId = latest.run_id;
      } catch (error) {
        return this.failure(error, job);
      }
      context.onProgress({ runId });
      context.onRunMoved?.(job.threadId, runId);
    }
    // One signal for "stop listening": the attempt was stopped, or this invocation's time is up.
    const stopListening = AbortSignal.any([context.signal, AbortSignal.timeout(Math.max(0, context.deadlineMs - Date.now()))]);
    // A status check or read that fails on the way is made again: a blip must not cost the attempt.
    const call = <T>(fn: () => Promise<T>) => retryingCall(fn, this.endpoint, job.assistantId, stopListening);
    let followed: FollowedRun = { threadId: job.threadId, runId };
    let lostWatch = this.lostRunWatch(job, followed);
    let runError: RunError | undefined;
    let streamBreak: string | undefined;
    let endedRun: Run | undefined;
    try {
      // Follow the run until it ends, the deadline passes or the attempt is stopped. A stream
      // that breaks while its run goes on is rejoined.
      for (let joins = 0; joins <= MAX_REJOINS && !stopListening.aborted; joins++) {
        const { threadId, runId } = followed;
        const endWatch = new RunEndWatch(() => this.client.runs.get(threadId, runId));
        try {
          const signal = AbortSignal.any([stopListening, endWatch.signal, ...(lostWatch ? [lostWatch.signal] : [])]);
          for await (const part of this.client.runs.joinStream(threadId, runId, { signal, streamMode: STREAM_MODES })) {
            lostWatch?.event(part.event);
            const event = interpret(part);
            if (event.progress) context.onProgress(event.progress);
            if (event.error) runError = event.error;
            endWatch.after(part.event);
          }
        } catch (error) {
          if (stopListening.aborted) break;
          if (!endWatch.signal.aborted && !lostWatch?.lost) streamBreak = errorMessage(error);
        } finally {
          endWatch.stop();
        }
        if (stopListening.aborted) break;
        if (lostWatch?.lost) {
          lostWatch = undefined;
          const moved = await this.moveLostRun(job, threadId, call, context, stopListening);
          if (!moved) break;
          followed = moved;
          context.onProgress({ runId: followed.runId });
          context.onRunMoved?.(followed.threadId, followed.runId);
          joins = -1;
          streamBreak = runError = undefined;
          continue;
        }
        const run = endWatch.endedRun ?? (await call(() => this.client.runs.get(threadId, runId)));
        if (!ACTIVE.has(run.status)) {
          endedRun = run;
          break;
        }
      }
    } catch (error) {
      if (!stopListening.aborted) return this.failure(error, job);
    } finally {
      lostWatch?.stop();
    }

    if (context.signal.aborted) {
      const reason = context.signal.reason as StopReason | undefined;
      // The job is over: its run must not go on. A newer attempt may be following it otherwise.
      if (reason?.jobOver) await this.cancelRun(followed.threadId, followed.runId);
      return { status: "failed", error: `stopped: ${reason?.code ?? "aborted"}`, retryable: false };
    }
    return this.settle({ ...job, threadId: followed.threadId }, followed.runId, endedRun, call, { runError, streamBreak, deadlinePassed: stopListening.aborted });
  }

  /**
   * Watches the run for proof that LangGraph lost it, only where that can happen: after an outage
   * (the job met one before this attempt: a run LangGraph still calls going may be one it lost),
   * and only with LANGGRAPH_LOST_RUN_SECONDS set (the JS dev server; never on LangGraph Platform).
   */
  private lostRunWatch(job: LangGraphJob, { threadId, runId }: FollowedRun): LostRunWatch | undefined {
    const quietMs = this.settings.lostRunMs ?? 0;
    // A thread the client chose is the conversation's: the job cannot move to a copy of it.
    if (!(quietMs > 0) || !job.afterOutage || job.sharedThread) return undefined;
    return new LostRunWatch(quietMs, async () => {
      const [run, state] = await Promise.all([this.client.runs.get(threadId, runId), this.client.threads.getState(threadId)]);
      return { status: run.status, checkpointId: state.checkpoint?.checkpoint_id ?? null };
    });
  }

  /**
   * LangGraph lost the thread's run (proven by LostRunWatch): it will never end, and the thread
   * takes no other run. The job goes on from the same checkpoint in a copy of the thread, which
   * has the checkpoints and not the lost run; no node of the lost run can still be running.
   */
  private async moveLostRun(
    job: LangGraphJob, threadId: string, call: <T>(fn: () => Promise<T>) => Promise<T>, context: FollowContext, stopListening: AbortSignal,
  ): Promise<FollowedRun | null> {
    const copy = await call(() => this.client.threads.copy(threadId));
    // The copy is the job's thread from now on, before any run starts on it: should the rest
    // fail (or this follower die), the next attempt or the rejoin goes on in the copy (finding a
    // run started there), and never copies the lost run's thread, and starts its nodes, again.
    context.onProgress({ threadId: copy.thread_id });
    context.onRunMoved?.(copy.thread_id, null);
    if (stopListening.aborted) return null;
    const hasCheckpoint = await call(() => this.threads.hasCheckpoint(copy.thread_id));
    // Not retried: a second create after one whose answer was lost would be refused (the thread is busy).
    const { runId } = await this.createRun({ ...job, threadId: copy.thread_id }, { input: hasCheckpoint ? null : job.payload });
    return { threadId: copy.thread_id, runId };
  }

  /** After the stream ends: the run's own status says how it went (a join does not report errors). */
  private async settle(
    job: LangGraphJob,
    runId: string,
    endedRun: Run | undefined,
    call: <T>(fn: () => Promise<T>) => Promise<T>,
    { runError, streamBreak, deadlinePassed }: { runError?: RunError; streamBreak?: string; deadlinePassed: boolean },
  ): Promise<RunOutcome> {
    let run;
    try {
      run = endedRun ?? (await call(() => this.client.runs.get(job.threadId, runId)));
    } catch (error) {
      const failed = await this.failure(error, job);
      return { ...failed, error: `could not read run ${runId}: ${failed.error}` };
    }
    switch (run.status) {
      case "success":
        try {
          return await call(() => this.threads.finalState(job.threadId));
        } catch (error) {
          return this.failure(error, job);
        }
      case "pending":
      case "running":
        // Still going: past the deadline we let go and rejoin later; otherwise the stream kept breaking.
        return deadlinePassed
          ? { status: "detached" }
          : { status: "failed", error: `the stream of run ${runId} kept breaking while the run was ${run.status}: ${streamBreak}`, retryable: true };
      case "timeout":
        return { status: "failed", error: `LangGraph run ${runId} timed out`, retryable: true };
      case "error": {
        const error = runError ?? (await this.threads.threadError(job.threadId));
        // An error the graph calls final (NON_RETRYABLE_ERRORS) fails the job: retrying cannot help.
        const final = error?.name !== undefined && (this.settings.nonRetryableErrors?.has(error.name) ?? false);
        const what = error ? `${error.name ? `${error.name}: ` : ""}${error.message}` : "no error message";
        return { status: "failed", error: `LangGraph run ${runId} failed: ${what}${final ? " (a final error: not retried)" : ""}`, retryable: !final };
      }
      case "interrupted":
        return { status: "failed", error: `LangGraph run ${runId} was interrupted on the server`, retryable: true };
    }
  }

  async checkRun(threadId: string, runId: string): Promise<RunCheck> {
    try {
      const run = await this.client.runs.get(threadId, runId);
      if (ACTIVE.has(run.status)) return { status: "active" };
      if (run.status !== "success") return { status: "ended" };
      // One that stopped at an interrupt is found by the job's next attempt (its lease lapses).
      const outcome = await this.threads.finalState(threadId);
      const runMs = Math.max(0, Date.parse(run.updated_at) - Date.parse(run.created_at));
      return outcome.status === "completed" ? { ...outcome, runMs } : { status: "ended" };
    } catch (error) {
      return { status: "unknown", error: errorMessage(error) };
    }
  }

  async cancelRun(threadId: string, runId: string): Promise<void> {
    await this.client.runs.cancel(threadId, runId, false, "interrupt").catch(() => {
      // Already finished, or LangGraph is down: the sweep checks stopped jobs' runs again.
    });
  }

  health(): Promise<LangGraphHealth> {
    return probe(`${this.settings.baseUrl}/ok`, this.settings.apiKey, this.flavor);
  }

  /** What a failed call means for the attempt: see classify (an outage only when /ok does not answer either). */
  private async failure(error: unknown, job: LangGraphJob): Promise<AttemptFailed> {
    return (await classify(error, this.endpoint, job.assistantId)).failure;
  }
}

/** What one stream part means for the job: progress and step, or the run's error. */
function interpret(part: { event: string; data: unknown }): { progress?: { progress?: number; currentStep?: string }; error?: RunError } {
  const data = part.data as Record<string, unknown> | null;
  if (part.event === "custom" && data && typeof data === "object") {
    const progress = typeof data.progress === "number" ? data.progress : undefined;
    const step = typeof data.step === "string" ? data.step : undefined;
    return { progress: { ...(progress !== undefined && { progress }), ...(step !== undefined && { currentStep: step }) } };
  }
  if (part.event === "updates" && data && typeof data === "object") {
    const node = Object.keys(data).find((key) => !key.startsWith("__"));
    return node ? { progress: { currentStep: node } } : {};
  }
  if (part.event === "error") return { error: data && typeof data === "object" ? runErrorOf(data) : { message: String(data) } };
  return {};
}
