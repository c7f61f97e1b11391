/**
 * The LangGraph Server API (LangGraph Platform, `langgraphjs dev`), through @langchain/langgraph-sdk.
 *
 * One thread per job (the coordinator picks its id at enqueue), so every attempt finds the same
 * thread. `start` is what a Queue consumer does, a few quick calls: a job's first attempt creates
 * the thread and its run in one request; a later attempt first looks at the thread's latest run:
 * one still going is followed again (its follower died), one that succeeded is the result (it
 * finished while nobody listened), and after one that failed, a new run with `input: null`
 * resumes from the checkpoint, so finished nodes do not run again. `follow` is what the run
 * follower does for as long as the run lasts: it streams the run's events into progress.
 */
import { Client, type Run } from "@langchain/langgraph-sdk";
import {
  errorMessage, isRetryableStatus, probe, type AttemptFailed, type ClientSettings, type FollowContext, type LangGraphClient,
  type LangGraphHealth, type LangGraphJob, type RunCheck, type RunOutcome, type StartOutcome, type StopReason,
} from "./shared";

const STREAM_MODES: ("updates" | "custom")[] = ["updates", "custom"];
const ACTIVE = new Set(["pending", "running"]);
/**
 * How long one request to LangGraph may take (streams excepted): a call that hangs must not
 * hold a consumer, or outlast the attempt's lease, and counts as LangGraph not answering.
 */
const REQUEST_TIMEOUT_MS = 10_000;
/** How long an interrupted run has to stop before it is taken for lost (recoverAfterOutage). */
const LOST_RUN_GRACE_MS = 2000;
/** How many times a stream that breaks while its run goes on is rejoined in one follow. */
const MAX_REJOINS = 3;
/**
 * After a node finishes, a quiet stream may mean the run has ended: its status is checked after
 * this long, then after twice as long, up to END_CHECK_LAST_MS. The LangGraph JS dev server
 * ends a joined stream only after 500 ms without events, so this finds the end sooner and
 * frees the slot for the next job; a server that ends its streams at once makes it moot.
 */
const END_CHECK_FIRST_MS = 10;
const END_CHECK_LAST_MS = 160;

export class PlatformClient implements LangGraphClient {
  readonly flavor = "platform";
  private readonly client: Client;

  constructor(private readonly settings: ClientSettings) {
    // No SDK-level retries: the coordinator owns retrying, with backoff, as job attempts.
    this.client = new Client({
      apiUrl: settings.baseUrl, apiKey: settings.apiKey ?? null, callerOptions: { maxRetries: 0 }, timeoutMs: REQUEST_TIMEOUT_MS,
    });
  }

  async start(job: LangGraphJob): Promise<StartOutcome> {
    const { threadId } = job;
    try {
      if (!job.firstRun) {
        // With its graph, so that a thread LangGraph lost while keeping its checkpoints (the JS dev
        // server killed mid-run) shows those checkpoints again.
        await this.client.threads.create({ threadId, ifExists: "do_nothing", graphId: job.type, metadata: { queueName: job.queueName, jobId: job.jobId } });
        const latest = await this.latestRun(threadId);
        if (latest?.status === "success") return await this.finalState(threadId);
        if (latest && ACTIVE.has(latest.status)) {
          return job.afterOutage ? await this.recoverAfterOutage(job, latest.run_id) : { status: "started", runId: latest.run_id };
        }
        // After a failed run (or none: LangGraph may lose a run yet keep its checkpoints), resume
        // from the checkpoint; with none, `input: null` would fail: start from the payload.
        return await this.resume(job);
      }
      return await this.createRun(job, job.payload);
    } catch (error) {
      return failure(error, job, this.settings.baseUrl);
    }
  }

  /**
   * After an outage the thread's run still says it is going, but LangGraph may have lost it (the
   * JS dev server, killed mid-run, keeps such a run "running" for ever and starts no other run on
   * its thread). A run that is alive stops when interrupted: then the attempt resumes on the same
   * thread from its checkpoint. One that does not is lost: the attempt resumes from the same
   * checkpoint in a copy of the thread, which has the checkpoints and not the lost run.
   */
  private async recoverAfterOutage(job: LangGraphJob, runId: string): Promise<StartOutcome> {
    await this.cancelRun(job.threadId, runId);
    for (const deadline = Date.now() + LOST_RUN_GRACE_MS; Date.now() < deadline; ) {
      if (!ACTIVE.has((await this.client.runs.get(job.threadId, runId)).status)) return this.resume(job);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const copy = await this.client.threads.copy(job.threadId);
    const started = await this.resume({ ...job, threadId: copy.thread_id });
    return started.status === "started" ? { ...started, threadId: copy.thread_id } : started;
  }

  /** A new run from the thread's checkpoint, or from the payload when it has none. */
  private async resume(job: LangGraphJob): Promise<StartOutcome> {
    return this.createRun(job, (await this.hasCheckpoint(job.threadId)) ? null : job.payload);
  }

  /** One request: the thread is created with the run when it does not exist yet. */
  private async createRun(job: LangGraphJob, input: LangGraphJob["payload"] | null): Promise<StartOutcome> {
    const run = await this.client.runs.create(job.threadId, job.type, {
      input,
      ifNotExists: "create",
      multitaskStrategy: "reject",
      streamMode: STREAM_MODES,
      metadata: { queueName: job.queueName, jobId: job.jobId, attempt: job.attempt },
    });
    return { status: "started", runId: run.run_id };
  }

  async follow(job: LangGraphJob, runId: string | null, context: FollowContext): Promise<RunOutcome> {
    const { threadId } = job;
    if (!runId) return { status: "failed", error: "no LangGraph run to follow", retryable: true };
    // One signal for "stop listening": the attempt was stopped, or this invocation's time is up.
    const stopListening = AbortSignal.any([context.signal, AbortSignal.timeout(Math.max(0, context.deadlineMs - Date.now()))]);
    let runError: string | undefined;
    let streamBreak: string | undefined;
    let endedRun: Run | undefined;
    try {
      // Follow the run until it ends, the deadline passes or the attempt is stopped. A stream
      // that breaks while its run goes on is rejoined.
      for (let joins = 0; joins <= MAX_REJOINS && !stopListening.aborted; joins++) {
        const endWatch = new RunEndWatch(() => this.client.runs.get(threadId, runId));
        try {
          const signal = AbortSignal.any([stopListening, endWatch.signal]);
          for await (const part of this.client.runs.joinStream(threadId, runId, { signal, streamMode: STREAM_MODES })) {
            const event = interpret(part);
            if (event.progress) context.onProgress(event.progress);
            if (event.error) runError = event.error;
            endWatch.after(part.event);
          }
        } catch (error) {
          if (stopListening.aborted) break;
          if (!endWatch.signal.aborted) streamBreak = errorMessage(error);
        } finally {
          endWatch.stop();
        }
        if (stopListening.aborted) break;
        const run = endWatch.endedRun ?? (await this.client.runs.get(threadId, runId));
        if (!ACTIVE.has(run.status)) {
          endedRun = run;
          break;
        }
      }
    } catch (error) {
      if (!stopListening.aborted) return failure(error, job, this.settings.baseUrl);
    }

    if (context.signal.aborted) {
      const reason = context.signal.reason as StopReason | undefined;
      // The job is over: its run must not go on. A newer attempt may be following it otherwise.
      if (reason?.jobOver) await this.cancelRun(threadId, runId);
      return { status: "failed", error: `stopped: ${reason?.code ?? "aborted"}`, retryable: false };
    }
    return this.settle(job, runId, endedRun, { runError, streamBreak, deadlinePassed: stopListening.aborted });
  }

  /** After the stream ends: the run's own status says how it went (a join does not report errors). */
  private async settle(
    job: LangGraphJob,
    runId: string,
    endedRun: Run | undefined,
    { runError, streamBreak, deadlinePassed }: { runError?: string; streamBreak?: string; deadlinePassed: boolean },
  ): Promise<RunOutcome> {
    let run;
    try {
      run = endedRun ?? (await this.client.runs.get(job.threadId, runId));
    } catch (error) {
      return { ...failure(error, job, this.settings.baseUrl), error: `could not read run ${runId}: ${errorMessage(error)}` };
    }
    switch (run.status) {
      case "success":
        return this.finalState(job.threadId);
      case "pending":
      case "running":
        // Still going: past the deadline we let go and rejoin later; otherwise the stream kept breaking.
        return deadlinePassed
          ? { status: "detached" }
          : { status: "failed", error: `the stream of run ${runId} kept breaking while the run was ${run.status}: ${streamBreak}`, retryable: true };
      case "error":
      case "timeout":
        return { status: "failed", error: `LangGraph run ${runId} ${run.status === "timeout" ? "timed out" : "failed"}: ${runError ?? "no error message"}`, retryable: true };
      case "interrupted":
        return { status: "failed", error: `LangGraph run ${runId} was interrupted on the server`, retryable: true };
    }
  }

  private async finalState(threadId: string): Promise<StartOutcome & RunOutcome> {
    const thread = await this.client.threads.get(threadId);
    if (thread.status === "interrupted") {
      return { status: "failed", error: "the graph stopped at an interrupt, waiting for human input, which a queued job cannot give", retryable: false };
    }
    return { status: "completed", result: thread.values ?? null };
  }

  /** The newest run of the thread. Servers differ in the order they list runs, so sort here. */
  private async latestRun(threadId: string) {
    const runs = await this.client.runs.list(threadId, { limit: 100 });
    return runs.sort((a, b) => b.created_at.localeCompare(a.created_at))[0];
  }

  private async hasCheckpoint(threadId: string): Promise<boolean> {
    return Boolean((await this.client.threads.getState(threadId)).checkpoint?.checkpoint_id);
  }

  async checkRun(threadId: string, runId: string): Promise<RunCheck> {
    try {
      const run = await this.client.runs.get(threadId, runId);
      if (ACTIVE.has(run.status)) return { status: "active" };
      if (run.status !== "success") return { status: "ended" };
      const outcome = await this.finalState(threadId);
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
}

/** Aborts its signal when, the stream having gone quiet after a node finished, the run has ended. */
export class RunEndWatch {
  private readonly ended = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by every event and by stop(), so a check under way when one comes schedules nothing more. */
  private quietSince = 0;
  readonly signal = this.ended.signal;
  /** The run as the check that found it ended saw it. */
  endedRun: Run | undefined;

  constructor(private readonly getRun: () => Promise<Run>) {}

  /** Called for every stream event: any event means the run still goes; a node's update may be its last. */
  after(event: string): void {
    this.stop();
    if (event === "updates") this.check(END_CHECK_FIRST_MS, this.quietSince);
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.quietSince++;
  }

  private check(delayMs: number, quiet: number): void {
    this.timer = setTimeout(async () => {
      const run = await this.getRun().catch(() => undefined);
      if (quiet !== this.quietSince) return;
      if (run && !ACTIVE.has(run.status)) {
        this.endedRun = run;
        this.ended.abort();
      } else if (delayMs * 2 <= END_CHECK_LAST_MS) {
        this.check(delayMs * 2, quiet);
      }
    }, delayMs);
  }
}

/** The SDK throws its HTTP errors with a numeric `status`; connection errors have none. */
const httpStatus = (error: unknown): number | undefined =>
  typeof (error as { status?: unknown })?.status === "number" ? (error as { status: number }).status : undefined;

function failure(error: unknown, job: LangGraphJob, baseUrl: string): AttemptFailed {
  const status = httpStatus(error);
  const message = errorMessage(error).slice(0, 500);
  if (error instanceof SyntaxError) {
    // An answer, but not one we can read: LangGraph (or something in between) is broken, not away.
    return { status: "failed", error: `LangGraph answered with invalid JSON at ${baseUrl}: ${message}`, retryable: true };
  }
  if (status === undefined) {
    return { status: "failed", error: `LangGraph unreachable at ${baseUrl}: ${message}`, retryable: true, unreachable: true };
  }
  const hint =
    status === 404 ? ` (is there a graph or assistant named "${job.type}"?)`
    : status === 401 || status === 403 ? " (check LANGGRAPH_API_KEY)"
    : "";
  // Not the job's fault, so worth retrying: LangGraph refusing our key, or the thread still
  // busy with a run we could not see (a 422 that says so).
  const notTheJobsFault = status === 401 || status === 403 || (status === 422 && /already running/i.test(message));
  return { status: "failed", error: `LangGraph answered ${status}${hint}: ${message}`, retryable: notTheJobsFault || isRetryableStatus(status) };
}

/** What one stream part means for the job: progress and step, or the run's error. */
function interpret(part: { event: string; data: unknown }): { progress?: { progress?: number; currentStep?: string }; error?: string } {
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
  if (part.event === "error") {
    const message = data && typeof data === "object" ? (data.message ?? data.error) : data;
    return { error: String(message) };
  }
  return {};
}
