/**
 * The LangGraph client the consumer runs jobs through. Two flavours, chosen by
 * LANGGRAPH_API_FLAVOR (DESIGN.md §4):
 *   - `platform` (default): the LangGraph Server API (LangGraph Platform, `langgraphjs dev`),
 *     one thread per job, resuming from the thread's checkpoint on retry (langgraph-platform.ts);
 *   - `workflows`: the seed's `POST /workflows/execute` wrapper contract (langgraph-workflows.ts).
 */
import type { AppEnv } from "./config";
import type { JobType, JsonObject } from "./jobs";
import { PlatformClient } from "./langgraph-platform";
import { WorkflowsClient } from "./langgraph-workflows";
import type { ProgressReport } from "./queue-do";

export interface LangGraphJob {
  jobId: string;
  queueName: string;
  type: JobType;
  payload: JsonObject;
  attempt: number;
  /** The job's LangGraph thread (platform flavour), the same for every attempt. */
  threadId: string;
}

/** Why the consumer stopped an attempt: the coordinator's refusal, and whether the job is over. */
export interface StopReason {
  code: string;
  /** Cancelled or ended: its run must stop too. Otherwise a newer attempt may be following it. */
  jobOver: boolean;
}

export interface RunContext {
  /** Aborted, with a StopReason, when the coordinator refuses this attempt's reports: stop, record nothing. */
  signal: AbortSignal;
  /** When this consumer invocation must let go of a run that is still going (epoch ms). */
  deadlineMs: number;
  /** Progress, step and LangGraph ids as they become known; the consumer throttles them. */
  onProgress(update: ProgressReport): void;
}

export type RunOutcome =
  | { status: "completed"; result: unknown }
  | { status: "failed"; error: string; retryable: boolean }
  /** The run goes on without us: the deadline came first. The next invocation rejoins it. */
  | { status: "detached" };

/** What the cron sweep learns of a run nobody may be listening to. */
export type RunCheck =
  | { status: "active" }
  | { status: "completed"; result: unknown }
  | { status: "ended" }
  | { status: "unknown"; error: string };

export interface LangGraphHealth {
  ok: boolean;
  url: string;
  flavor: string;
  latencyMs: number;
  error?: string;
}

export interface LangGraphClient {
  readonly flavor: "platform" | "workflows";
  run(job: LangGraphJob, context: RunContext): Promise<RunOutcome>;
  /** A run's state, for the sweep's reconciliation (platform flavour only). */
  checkRun(threadId: string, runId: string): Promise<RunCheck>;
  /** Stops a run that should not go on (its job was cancelled). */
  cancelRun(threadId: string, runId: string): Promise<void>;
  health(): Promise<LangGraphHealth>;
}

export interface ClientSettings {
  baseUrl: string;
  apiKey: string | undefined;
}

export function langGraphClient(env: AppEnv): LangGraphClient {
  const settings = {
    baseUrl: (env.LANGGRAPH_API_URL || "http://127.0.0.1:8123").replace(/\/+$/, ""),
    apiKey: env.LANGGRAPH_API_KEY || undefined,
  };
  return env.LANGGRAPH_API_FLAVOR === "workflows" ? new WorkflowsClient(settings) : new PlatformClient(settings);
}

/** 408, 429 and 5xx are the server's trouble and worth retrying; other 4xx reject the job itself. */
export const isRetryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

const HEALTH_TIMEOUT_MS = 3000;

export async function probe(url: string, apiKey: string | undefined, flavor: string): Promise<LangGraphHealth> {
  const started = Date.now();
  try {
    const headers: Record<string, string> = apiKey ? { "x-api-key": apiKey } : {};
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    await response.body?.cancel();
    const health = { ok: response.ok, url, flavor, latencyMs: Date.now() - started };
    return response.ok ? health : { ...health, error: `HTTP ${response.status}` };
  } catch (error) {
    return { ok: false, url, flavor, latencyMs: Date.now() - started, error: errorMessage(error) };
  }
}

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));
