/**
 * The LangGraph Server API (LangGraph Platform, `langgraphjs dev`), through @langchain/langgraph-sdk.
 *
 * One thread per job, its id derived from the queue and job id, so every attempt and every
 * delivery finds the same thread. Before starting anything, an attempt looks at the thread's
 * latest run: one still going is rejoined (a consumer that hit its deadline, or crashed, left
 * it running); one that succeeded is the result (it finished while nobody listened); one that
 * failed is resumed with `input: null`, so nodes that already finished do not run again.
 */
import { Client } from "@langchain/langgraph-sdk";
import {
  errorMessage, isRetryableStatus, probe, type ClientSettings, type LangGraphClient, type LangGraphHealth,
  type LangGraphJob, type RunCheck, type RunContext, type RunOutcome,
} from "./langgraph";

const STREAM_MODES: ("updates" | "custom")[] = ["updates", "custom"];
const ACTIVE = new Set(["pending", "running"]);

/** A stable UUID (v5) for a job's thread: LangGraph thread ids must be UUIDs. */
export async function threadIdFor(queueName: string, jobId: string): Promise<string> {
  const namespace = "6f1c1b5e-2d3a-4c59-9e0b-7a6d8c4f2e10"; // queue-worker's own UUID namespace
  const name = new TextEncoder().encode(`${queueName}\u0000${jobId}`);
  const bytes = new Uint8Array(16 + name.length);
  bytes.set(namespace.replaceAll("-", "").match(/../g)!.map((h) => parseInt(h, 16)));
  bytes.set(name, 16);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-1", bytes)).slice(0, 16);
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = [...hash].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The SDK throws its HTTP errors with a numeric `status`; connection errors have none. */
const httpStatus = (error: unknown): number | undefined =>
  typeof (error as { status?: unknown })?.status === "number" ? (error as { status: number }).status : undefined;

export class PlatformClient implements LangGraphClient {
  readonly flavor = "platform";
  private readonly client: Client;

  constructor(private readonly settings: ClientSettings) {
    // No SDK-level retries: the coordinator owns retrying, with backoff, as job attempts.
    this.client = new Client({ apiUrl: settings.baseUrl, apiKey: settings.apiKey ?? null, callerOptions: { maxRetries: 0 } });
  }

  async run(job: LangGraphJob, context: RunContext): Promise<RunOutcome> {
    const threadId = await threadIdFor(job.queueName, job.jobId);
    // One signal for "stop listening": the job was cancelled, or this invocation's time is up.
    const stopListening = AbortSignal.any([context.signal, AbortSignal.timeout(Math.max(0, context.deadlineMs - Date.now()))]);
    let runId: string | undefined;
    let runError: string | undefined;
    try {
      await this.client.threads.create({ threadId, ifExists: "do_nothing", metadata: { queueName: job.queueName, jobId: job.jobId } });
      context.onProgress({ threadId });
      const latest = await this.latestRun(threadId);
      if (latest?.status === "success") return this.finalState(threadId);

      let stream: AsyncIterable<{ event: string; data: unknown }>;
      if (latest && ACTIVE.has(latest.status)) {
        runId = latest.run_id;
        context.onProgress({ runId });
        stream = this.client.runs.joinStream(threadId, runId, { signal: stopListening, streamMode: STREAM_MODES });
      } else {
        stream = this.client.runs.stream(threadId, job.type, {
          // A thread that already ran resumes from its checkpoint; a fresh one starts from the payload.
          input: latest ? null : job.payload,
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
      }
      for await (const part of stream) {
        const event = interpret(part);
        if (event.progress) context.onProgress(event.progress);
        if (event.error) runError = event.error;
      }
    } catch (error) {
      if (!stopListening.aborted) return failure(error, job, this.settings.baseUrl);
    }

    if (context.signal.aborted) {
      // Cancelled: the run must not go on, even if it was created before we learnt its id.
      runId ??= await this.latestRun(threadId).then((run) => run?.run_id, () => undefined);
      if (runId) await this.cancelRun(threadId, runId);
      return { status: "failed", error: "cancelled", retryable: false };
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
        // Still going: past the deadline we let go and rejoin later; otherwise the stream broke.
        return deadlinePassed
          ? { status: "detached" }
          : { status: "failed", error: `stream of run ${runId} ended while the run was ${run.status}`, retryable: true };
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

  private async latestRun(threadId: string) {
    const runs = await this.client.runs.list(threadId, { limit: 10 });
    return runs.sort((a, b) => b.created_at.localeCompare(a.created_at))[0];
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
      // Already finished, or LangGraph is down: the sweep checks cancelled jobs' runs again.
    });
  }

  health(): Promise<LangGraphHealth> {
    return probe(`${this.settings.baseUrl}/ok`, this.settings.apiKey, this.flavor);
  }
}

function failure(error: unknown, job: LangGraphJob, baseUrl: string): RunOutcome {
  const status = httpStatus(error);
  if (status === undefined) {
    return { status: "failed", error: `LangGraph unreachable at ${baseUrl}: ${errorMessage(error)}`, retryable: true };
  }
  const hint = status === 404 ? ` (is there a graph or assistant named "${job.type}"?)` : "";
  return { status: "failed", error: `LangGraph answered ${status}${hint}: ${errorMessage(error).slice(0, 500)}`, retryable: isRetryableStatus(status) };
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
