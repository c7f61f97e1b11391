/**
 * The LangGraph client interface both flavours implement (platform.ts, workflows.ts), which the
 * consumer and the run follower use, with the small helpers they share. Imports nothing that
 * imports it.
 */
import type { FollowTask, PendingInterrupt, ResumeAnswer, RunOptions } from "../coordinator/protocol";
import type { JobType, JsonObject } from "../jobs";

export interface LangGraphJob {
  jobId: string;
  /** The job's record, unique for ever (`<queue>:<seq>`): its runs carry it in their metadata. */
  jobKey: string;
  queueName: string;
  type: JobType;
  /** The graph or assistant its runs are created with. */
  assistantId: string;
  payload: JsonObject;
  /** The job's own config, context and metadata for its runs. */
  runOptions?: RunOptions;
  /** The job's last resume: until a run took it (its id in the run's metadata), the run continues the thread with its value. */
  resume?: ResumeAnswer;
  attempt: number;
  /** The job's LangGraph thread (platform flavour), the same for every attempt. */
  threadId: string;
  /** A thread the client chose (a conversation's): other jobs use it too, and it is never replaced by a copy. */
  sharedThread?: boolean;
  /** No earlier attempt of this job was ever taken on, so the thread has no run of the job yet (a shared one may have others'). */
  firstRun: boolean;
  /**
   * An earlier attempt of this job found LangGraph unreachable: a run it left "running" may be
   * one LangGraph lost. It is followed all the same; only LostRunWatch may prove it lost.
   */
  afterOutage?: boolean;
}

/** The job an attempt's task (a claim, or what the follower keeps) describes, its JSON texts parsed. */
export function langGraphJobOf(task: Omit<FollowTask, "runId">): LangGraphJob {
  // A task a follower kept from before a deploy may lack the fields added since: `!= null`, and defaults.
  return {
    ...task,
    assistantId: task.assistantId ?? task.type,
    jobKey: task.jobKey ?? `${task.queueName}:${task.jobId}`,
    payload: JSON.parse(task.payloadJson) as JsonObject,
    ...(task.runOptionsJson != null && { runOptions: JSON.parse(task.runOptionsJson) as RunOptions }),
    ...(task.resumeJson != null && { resume: JSON.parse(task.resumeJson) as ResumeAnswer }),
  };
}

/** Progress, step and LangGraph ids as they become known. */
export interface RunProgress {
  progress?: number;
  currentStep?: string;
  runId?: string;
  /** With `runId`: the job's run goes on in this copy of its thread (LangGraph lost the original's run). */
  threadId?: string;
}

/** Why a run is no longer followed: the coordinator's refusal, and whether the job is over. */
export type { StopReason } from "../coordinator/protocol";

/** What starting (or resuming) an attempt on LangGraph gave. */
export type StartOutcome =
  /** A run is going (or still going: rejoined); `runId` is null for a flavour whose run is the follow call itself. */
  | { status: "started"; runId: string | null; /** The run was there already (an earlier attempt's, or this one's first delivery's). */ rejoined?: boolean }
  /** The thread's run had already succeeded while nobody listened: that is the result. */
  | { status: "completed"; result: unknown }
  | RunInterrupted
  | AttemptFailed;

/** The run stopped at the graph's `interrupt()` (it ended `success`, its thread `interrupted`): the job waits for a resume. */
export type RunInterrupted = { status: "interrupted"; interrupts: PendingInterrupt[] };

/**
 * `unreachable`: LangGraph gave no answer at all, not even to `GET /ok` (refused, no route, no
 * answer in time): an outage, not the job's fault. One call that failed while LangGraph answers
 * is retryable but not unreachable.
 */
export type AttemptFailed = { status: "failed"; error: string; retryable: boolean; unreachable?: boolean; ours?: boolean; threadBusy?: boolean };

export interface FollowContext {
  /** Aborted, with a StopReason, when the attempt must stop: stop, record nothing. */
  signal: AbortSignal;
  /** When this follower invocation lets go of a run that is still going (epoch ms). */
  deadlineMs: number;
  onProgress(update: RunProgress): void;
  /**
   * LangGraph lost the run and the follow moved the job to a copy of its thread (`runId` null
   * until the copy's run is created): keep it, so that a rejoin (after the follower's own crash)
   * follows the new run, or finds it on the copy.
   */
  onRunMoved?(threadId: string, runId: string | null): void;
}

export type RunOutcome =
  | { status: "completed"; result: unknown }
  | RunInterrupted
  | AttemptFailed
  /** The run goes on: the deadline came first. The next follower invocation rejoins it. */
  | { status: "detached" };

/** What the cron sweep learns of a run nobody may be listening to. */
export type RunCheck =
  | { status: "active" }
  /** `runMs`: how long the run took, by LangGraph's own timestamps. */
  | { status: "completed"; result: unknown; runMs: number }
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
  /** Starts the attempt's run, or finds the run an earlier attempt left: a few quick calls. */
  start(job: LangGraphJob): Promise<StartOutcome>;
  /** Follows a started run until it ends, the deadline passes or the context stops it. */
  follow(job: LangGraphJob, runId: string | null, context: FollowContext): Promise<RunOutcome>;
  /** A run's state, for the sweep's reconciliation (platform flavour only). */
  checkRun(threadId: string, runId: string): Promise<RunCheck>;
  /** Stops a run that should not go on (its job was cancelled or ended). */
  cancelRun(threadId: string, runId: string): Promise<void>;
  health(): Promise<LangGraphHealth>;
}

export interface ClientSettings {
  baseUrl: string;
  apiKey: string | undefined;
  /**
   * LANGGRAPH_LOST_RUN_SECONDS in ms: after an outage, a run that shows no sign of life this long
   * while LangGraph answers is taken for lost. 0: never (LangGraph Platform re-queues the runs of
   * its dead workers itself).
   */
  lostRunMs?: number;
  /** NON_RETRYABLE_ERRORS: a run that failed with an error of one of these names is not retried. */
  nonRetryableErrors?: ReadonlySet<string>;
}

/** 408, 429 and 5xx are the server's trouble and worth retrying; other 4xx reject the job itself. */
export const isRetryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

const HEALTH_TIMEOUT_MS = 3000;

export async function probe(url: string, apiKey: string | undefined, flavor: string, timeoutMs = HEALTH_TIMEOUT_MS): Promise<LangGraphHealth> {
  const started = Date.now();
  try {
    const headers: Record<string, string> = apiKey ? { "x-api-key": apiKey } : {};
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    const health = { ok: response.ok, url, flavor, latencyMs: Date.now() - started };
    return response.ok ? health : { ...health, error: `HTTP ${response.status}` };
  } catch (error) {
    return { ok: false, url, flavor, latencyMs: Date.now() - started, error: errorMessage(error) };
  }
}

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));
