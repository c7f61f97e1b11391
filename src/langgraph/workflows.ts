/**
 * The seed's LangGraph contract: one blocking `POST /workflows/execute` that runs the whole
 * workflow. There is no run to start and follow apart, so `start` does nothing and `follow`
 * makes the call: the run follower waits on it, not a Queue consumer.
 */
import { resultToReport } from "../coordinator/protocol";
import {
  errorMessage, isRetryableStatus, probe, type ClientSettings, type LangGraphClient, type LangGraphHealth,
  type FollowContext, type LangGraphJob, type RunCheck, type RunOutcome, type StartOutcome,
} from "./client";

export class WorkflowsClient implements LangGraphClient {
  readonly flavor = "workflows";

  constructor(private readonly settings: ClientSettings) {}

  async start(): Promise<StartOutcome> {
    return { status: "started", runId: null };
  }

  async follow(job: LangGraphJob, _runId: string | null, { signal, deadlineMs }: FollowContext): Promise<RunOutcome> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.settings.apiKey) headers["x-api-key"] = this.settings.apiKey;
    const deadline = AbortSignal.timeout(Math.max(0, deadlineMs - Date.now()));
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.settings.baseUrl}/workflows/execute`, {
        method: "POST",
        headers,
        body: JSON.stringify({
          workflow_id: job.assistantId,
          input: job.payload,
          // thread_id lets a checkpointing wrapper resume a retried job where it stopped: the job's
          // own thread (a fresh UUID per record), not its id, which a client may enqueue again
          // once the record expired, and which must not resume the old checkpoint then.
          config: { checkpoint: true, max_iterations: 10, thread_id: job.threadId, job_id: job.jobId },
        }),
        signal: AbortSignal.any([signal, deadline]),
      });
      text = await response.text();
    } catch (error) {
      if (deadline.aborted && !signal.aborted) {
        // This contract has no run to rejoin later, and the next attempt would run as long.
        return { status: "failed", error: "the workflow ran longer than RUN_BUDGET_SECONDS, and /workflows/execute cannot be rejoined", retryable: false };
      }
      if (signal.aborted) return { status: "failed", error: `stopped: ${errorMessage(signal.reason)}`, retryable: false };
      return { status: "failed", error: `LangGraph unreachable at ${this.settings.baseUrl}: ${errorMessage(error)}`, retryable: true, unreachable: true };
    }
    if (!response.ok) {
      return {
        status: "failed",
        error: `LangGraph answered ${response.status} for workflow ${job.assistantId}: ${text.slice(0, 500)}`,
        retryable: isRetryableStatus(response.status),
      };
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return { status: "failed", error: `LangGraph answered with invalid JSON: ${text.slice(0, 200)}`, retryable: true };
    }
    if (body.error || body.status === "failed" || body.status === "error") {
      // A wrapper that names its errors (`error: {name, message}`) can mark one final (NON_RETRYABLE_ERRORS).
      const name = (body.error as { name?: unknown } | undefined)?.name;
      const final = typeof name === "string" && (this.settings.nonRetryableErrors?.has(name) ?? false);
      return { status: "failed", error: `workflow ${job.assistantId} failed: ${JSON.stringify(body.error ?? body).slice(0, 500)}${final ? " (a final error: not retried)" : ""}`, retryable: !final };
    }
    return { status: "completed", result: resultToReport(body.result ?? body.output ?? body) };
  }

  /** The contract has no runs to look up: a blocking call's outcome is known when it returns. */
  async checkRun(): Promise<RunCheck> {
    return { status: "unknown", error: "the workflows flavour has no run ids" };
  }

  async cancelRun(): Promise<void> {}

  health(): Promise<LangGraphHealth> {
    return probe(`${this.settings.baseUrl}/health`, this.settings.apiKey, this.flavor);
  }
}
