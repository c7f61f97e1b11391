/**
 * The LangGraph client the consumer runs jobs through. Two flavours, chosen by
 * LANGGRAPH_API_FLAVOR (DESIGN.md §4):
 *   - `platform` (default): the LangGraph Server API (LangGraph Platform, `langgraphjs dev`).
 *   - `workflows`: the seed's `POST /workflows/execute` wrapper contract.
 */
import type { AppEnv } from "./config";
import type { JobType, JsonObject } from "./jobs";
import type { ProgressReport } from "./queue-do";

export interface LangGraphJob {
  jobId: string;
  type: JobType;
  payload: JsonObject;
  attempt: number;
  retryCount: number;
  /** Set when an earlier attempt already created the LangGraph thread / run. */
  threadId: string | null;
  runId: string | null;
}

export interface RunContext {
  /** Aborted when the job is cancelled or this attempt lost its lease: stop, record nothing. */
  signal: AbortSignal;
  /** Progress, step and LangGraph ids as they become known; the consumer throttles them. */
  onProgress(update: ProgressReport): void;
}

export type RunOutcome =
  | { status: "completed"; result: unknown }
  | { status: "failed"; error: string; retryable: boolean };

export interface LangGraphHealth {
  ok: boolean;
  url: string;
  flavor: string;
  latencyMs: number;
  error?: string;
}

export interface LangGraphClient {
  run(job: LangGraphJob, context: RunContext): Promise<RunOutcome>;
  health(): Promise<LangGraphHealth>;
}

export function langGraphClient(env: AppEnv): LangGraphClient {
  const baseUrl = (env.LANGGRAPH_API_URL || "http://127.0.0.1:8123").replace(/\/+$/, "");
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (env.LANGGRAPH_API_KEY) headers["x-api-key"] = env.LANGGRAPH_API_KEY;
  return new WorkflowsClient(baseUrl, headers);
}

/** 408, 429 and 5xx are the server's trouble and worth retrying; other 4xx reject the job itself. */
export const isRetryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

const HEALTH_TIMEOUT_MS = 3000;

/** The seed's contract: one blocking call that runs the whole workflow. */
export class WorkflowsClient implements LangGraphClient {
  constructor(
    private readonly baseUrl: string,
    private readonly headers: Record<string, string>,
  ) {}

  async run(job: LangGraphJob, { signal }: RunContext): Promise<RunOutcome> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}/workflows/execute`, {
        method: "POST",
        headers: this.headers,
        body: JSON.stringify({
          workflow_id: job.type,
          input: job.payload,
          config: { checkpoint: true, max_iterations: 10, thread_id: job.jobId },
        }),
        signal,
      });
    } catch (error) {
      return { status: "failed", error: `LangGraph unreachable at ${this.baseUrl}: ${errorMessage(error)}`, retryable: true };
    }
    const text = await response.text().catch(() => "");
    if (!response.ok) {
      return {
        status: "failed",
        error: `LangGraph answered ${response.status} for workflow ${job.type}: ${text.slice(0, 500)}`,
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
      return { status: "failed", error: `workflow ${job.type} failed: ${JSON.stringify(body.error ?? body).slice(0, 500)}`, retryable: true };
    }
    return { status: "completed", result: body.result ?? body.output ?? body };
  }

  health(): Promise<LangGraphHealth> {
    return probe(`${this.baseUrl}/health`, this.headers, "workflows");
  }
}

export async function probe(url: string, headers: Record<string, string>, flavor: string): Promise<LangGraphHealth> {
  const started = Date.now();
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    await response.body?.cancel();
    const health = { ok: response.ok, url, flavor, latencyMs: Date.now() - started };
    return response.ok ? health : { ...health, error: `HTTP ${response.status}` };
  } catch (error) {
    return { ok: false, url, flavor, latencyMs: Date.now() - started, error: errorMessage(error) };
  }
}

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));
