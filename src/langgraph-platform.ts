/**
 * The LangGraph Server API (LangGraph Platform, `langgraphjs dev`), through @langchain/langgraph-sdk.
 *
 * One thread per job (the coordinator picks its id at enqueue), so every attempt and delivery
 * finds the same thread. Before starting anything, an attempt looks at the thread's latest run:
 * one still going is rejoined (a consumer that hit its deadline, or crashed, left it running);
 * one that succeeded is the result (it finished while nobody listened); after one that failed,
 * a new run with `input: null` resumes from the checkpoint, so finished nodes do not run again.
 */
import { Client } from "@langchain/langgraph-sdk";
import {
  errorMessage, isRetryableStatus, probe, type ClientSettings, type LangGraphClient, type LangGraphHealth,
  type LangGraphJob, type RunCheck, type RunContext, type RunOutcome, type StopReason,
} from "./langgraph";

const STREAM_MODES: ("updates" | "custom")[] = ["updates", "custom"];
const ACTIVE = new Set(["pending", "running"]);
/** How many times a stream that breaks while its run goes on is rejoined in one attempt. */
const MAX_REJOINS = 3;

export class PlatformClient implements LangGraphClient {
  readonly flavor = "platform";
  private readonly client: Client;

  constructor(private readonly settings: ClientSettings) {
    // No SDK-level retries: the coordinator owns retrying, with backoff, as job attempts.
    this.client = new Client({ apiUrl: settings.baseUrl, apiKey: settings.apiKey ?? null, callerOptions: { maxRetries: 0 } });
  }

  async run(job: LangGraphJob, context: RunContext): Promise<RunOutcome> {
    const { threadId } = job;
    // One signal for "stop listening": the job was stopped, or this invocation's time is up.
    const stopListening = AbortSignal.any([context.signal, AbortSignal.timeout(Math.max(0, context.deadlineMs - Date.now()))]);
    let runId: string | undefined;
    let runError: string | undefined;
    try {
      await this.client.threads.create({ threadId, ifExists: "do_nothing", metadata: { queueName: job.queueName, jobId: job.jobId } });
      const latest = await this.latestRun(threadId);
      if (latest?.status === "success") return this.finalState(threadId);
      if (latest && ACTIVE.has(latest.status)) runId = latest.run_id;
      // After a failed run, resume from its checkpoint; with none (it failed before its first
      // step, or was cancelled while pending), `input: null` would fail: start from the payload.
      const input = latest && (await this.hasCheckpoint(threadId)) ? null : job.payload;
      if (runId) context.onProgress({ runId });

      // Follow the run until it ends, the deadline passes or the job is stopped. A stream that
      // breaks while its run goes on is rejoined.
      for (let joins = 0; joins <= MAX_REJOINS && !stopListening.aborted; joins++) {
        const stream = runId
          ? this.client.runs.joinStream(threadId, runId, { signal: stopListening, streamMode: STREAM_MODES })
          : this.client.runs.stream(threadId, job.type, {
              input,
              streamMode: STREAM_MODES,
              // The run goes on when we stop listening (deadline); cancel is explicit, below.
              onDisconnect: "continue",
              multitaskStrategy: "reject",
              metadata: { queueName: job.queueName, jobId: job.jobId, attempt: job.attempt },
              signal: stopListening,
              onRunCreated: ({ run_id }) => {
                runId = run_id;
                context.onProgress({ runId });
              },
            });
        try {
          for await (const part of stream) {
            const event = interpret(part);
            if (event.progress) context.onProgress(event.progress);
            if (event.error) runError = event.error;
          }
        } catch (error) {
          if (!runId && !stopListening.aborted) throw error; // no run was created
        }
        if (!runId || stopListening.aborted) break;
        if (!ACTIVE.has((await this.client.runs.get(threadId, runId)).status)) break;
      }
    } catch (error) {
      if (!stopListening.aborted) return failure(error, job, this.settings.baseUrl);
    }

    if (context.signal.aborted) {
      const reason = context.signal.reason as StopReason | undefined;
      if (reason?.jobOver) {
        // The job is over: its run must not go on, even if we never learnt the run's id.
        runId ??= await this.latestRun(threadId).then((run) => run?.run_id, () => undefined);
        if (runId) await this.cancelRun(threadId, runId);
      }
      return { status: "failed", error: `stopped: ${reason?.code ?? "aborted"}`, retryable: false };
    }
    if (!runId) return { status: "failed", error: "LangGraph created no run", retryable: true };
    return this.settle(threadId, runId, runError, stopListening.aborted);
  }

  /** After the stream ends: the run's own status says how it went (a join does not report errors). */
  private async settle(threadId: string, runId: string, runError: string | undefined, deadlinePassed: boolean): Promise<RunOutcome> {
    let run;
    try {
      run = await this.client.runs.get(threadId, runId);
    } catch (error) {
      return { status: "failed", error: `could not read run ${runId}: ${errorMessage(error)}`, retryable: true };
    }
    switch (run.status) {
      case "success":
        return this.finalState(threadId);
      case "pending":
      case "running":
        // Still going: past the deadline we let go and rejoin later; otherwise the stream kept breaking.
        return deadlinePassed
          ? { status: "detached" }
          : { status: "failed", error: `the stream of run ${runId} kept breaking while the run was ${run.status}`, retryable: true };
      case "error":
      case "timeout":
        return { status: "failed", error: `LangGraph run ${runId} ${run.status === "timeout" ? "timed out" : "failed"}: ${runError ?? "no error message"}`, retryable: true };
      case "interrupted":
        return { status: "failed", error: `LangGraph run ${runId} was interrupted on the server`, retryable: true };
    }
  }

  private async finalState(threadId: string): Promise<RunOutcome> {
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
      return outcome.status === "completed" ? outcome : { status: "ended" };
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

/** The SDK throws its HTTP errors with a numeric `status`; connection errors have none. */
const httpStatus = (error: unknown): number | undefined =>
  typeof (error as { status?: unknown })?.status === "number" ? (error as { status: number }).status : undefined;

function failure(error: unknown, job: LangGraphJob, baseUrl: string): RunOutcome {
  const status = httpStatus(error);
  const message = errorMessage(error).slice(0, 500);
  if (status === undefined) {
    return { status: "failed", error: `LangGraph unreachable at ${baseUrl}: ${message}`, retryable: true };
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
