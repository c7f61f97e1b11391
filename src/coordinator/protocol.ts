/**
 * What the coordinator's callers and it exchange: a new job, the Queue message, a claimed
 * attempt, the task a run follower follows, the reports of consumers and run followers, the
 * discriminated results, and the time limits they all keep to. It imports nothing of the HTTP
 * layer or of LangGraph, so every side can import it.
 */
import type { JobStatus, JobType, JsonObject, JsonValue, Priority } from "../jobs";

/** Time a dispatched job has to be claimed by a consumer before it goes back to the queue. */
export const DISPATCH_LEASE_MS = 60_000;
/** A claimed job's lease; its run follower renews it every HEARTBEAT_MS. */
export const LEASE_MS = 30_000;
export const HEARTBEAT_MS = 10_000;
/** The most of a result a job's row holds (a DO SQLite row holds at most 2 MB); larger ones go to the RESULTS bucket (results.ts). */
export const MAX_RESULT_BYTES = 1024 * 1024;
/**
 * The most of a result the queue keeps (in the RESULTS bucket), and sends to its coordinator:
 * a Workers RPC call carries at most 32 MiB. A LangGraph client reports a larger final state by
 * its size alone (`resultToReport`), so that the job still completes; the state stays in LangGraph.
 */
export const MAX_KEPT_RESULT_BYTES = 25 * 1024 * 1024;

/** What stands in for a final state too large to keep: its size in bytes of JSON. */
export interface UnkeptResult {
  unkeptResultBytes: number;
}

/** The run's final state as a report carries it: itself, or past MAX_KEPT_RESULT_BYTES its size. */
export function resultToReport(result: unknown): unknown {
  const json = JSON.stringify(result ?? null);
  // A UTF-16 code unit is at most 3 bytes of UTF-8: most results need no counting.
  if (json.length * 3 <= MAX_KEPT_RESULT_BYTES) return result;
  const bytes = new TextEncoder().encode(json).byteLength;
  return bytes <= MAX_KEPT_RESULT_BYTES ? result : ({ unkeptResultBytes: bytes } satisfies UnkeptResult);
}

export const isUnkeptResult = (result: unknown): result is UnkeptResult =>
  typeof result === "object" && result !== null && Object.keys(result).length === 1 && typeof (result as UnkeptResult).unkeptResultBytes === "number";

/** Lapsed leases (and dead-lettered deliveries that never reached the coordinator) a job may have without spending a retry. */
export const MAX_STALLS = 3;
/** Cancelled or failed jobs whose LangGraph run the sweep makes sure is stopped (it runs every minute). */
export const RECENTLY_STOPPED_MS = 3 * 60_000;

/** A job's own options for its LangGraph run, passed through as given (each a JSON object). */
export interface RunOptions {
  /** The run's config: `configurable`, `tags`, `recursion_limit`. */
  config?: JsonObject;
  /** LangGraph's runtime context (`context` of the run). */
  context?: JsonObject;
  /** Merged under the queue's own metadata (queueName, jobId, attempt), which wins. */
  metadata?: JsonObject;
}

/** A job to enqueue, as the HTTP layer validated it (defaults applied, id chosen). */
export interface NewJob extends RunOptions {
  id: string;
  type: JobType;
  payload: JsonObject;
  priority: Priority;
  maxRetries: number;
  /** The graph or assistant that runs it; the type's own name when not given. */
  assistantId?: string;
  /** A thread the client chose (a conversation's): its jobs run one at a time, in enqueue order. */
  threadId?: string;
  /** Bounds each of the job's runs, beside the queue's JOB_TIMEOUT_SECONDS. */
  timeoutSeconds?: number;
}

/**
 * One pending `interrupt()` of a graph: its id (the key of a resume map), the value the graph
 * asked with, and the node that asked.
 */
export interface PendingInterrupt {
  id: string;
  value: JsonValue;
  node: string | null;
}

/**
 * What a resume answered, and its id. The run that carries the value names the id in its
 * metadata, so that the answer is delivered once: an attempt that finds a run of the job with
 * that id knows the answer was taken, whatever happened next (a new question, even one with the
 * same interrupt id, must never get the old answer).
 */
export interface ResumeAnswer {
  id: string;
  value: JsonValue;
}

/** Which jobs `list` returns: one status (or all), a page of `limit` after `cursor`. */
export interface ListQuery {
  status?: JobStatus;
  limit: number;
  cursor?: string;
}

export interface JobMessage {
  queueName: string;
  jobId: string;
  attempt: number;
}

/** Everything needed to follow one attempt's run, without asking the coordinator again. */
export interface FollowTask {
  queueName: string;
  jobId: string;
  /**
   * The job's record, unique for ever (`<queue>:<seq>`, followerName): its runs carry it in their
   * metadata, which tells them from the runs of another record with the same id on the same thread.
   */
  jobKey: string;
  attempt: number;
  threadId: string;
  type: JobType;
  /** The graph or assistant the run is created with. */
  assistantId: string;
  payloadJson: string;
  /** The job's RunOptions as JSON text, or null when it has none. */
  runOptionsJson: string | null;
  /** A thread the client chose: it is never replaced by a copy, even if LangGraph loses a run on it. */
  sharedThread: boolean;
  /**
   * The job's last resume (a ResumeAnswer as JSON text), once it was resumed: until a run took
   * it, the attempt's run continues the thread with `command: {resume}`.
   */
  resumeJson: string | null;
  firstRun: boolean;
  /** The LangGraph run; null for the workflows flavour, whose follow makes the call itself. */
  runId: string | null;
  /**
   * An earlier attempt of the job found LangGraph unreachable (the claim's `afterOutage`): only
   * then may the follow take a run that shows no sign of life for lost (LANGGRAPH_LOST_RUN_SECONDS).
   */
  afterOutage?: boolean;
}

/** Why a run is no longer followed: the coordinator's refusal, and whether the job is over. */
export interface StopReason {
  code: string;
  /** Cancelled or ended: its run must stop too. Otherwise a newer attempt may be following it. */
  jobOver: boolean;
}

/**
 * What a consumer needs to start an attempt it has claimed, and its follower to follow it. The
 * payload travels as JSON text (`payloadJson`): RPC types cannot carry an arbitrary JSON object
 * type. `threadId` is the job's LangGraph thread, the same for every attempt; `firstRun` says no
 * earlier attempt was ever claimed, so the thread has no run of the job yet; `afterOutage` that the job met
 * an outage since its current run began, so that run, if still "running", may be one LangGraph lost;
 * `redelivery` that this attempt was claimed before (the Queue delivered it again because the
 * hand-over to the follower failed): the run may exist already, and must be found, not started.
 */
export type ClaimedJob = Omit<FollowTask, "runId"> & { retryCount: number; afterOutage: boolean; redelivery: boolean; followerName: string };

/**
 * The name of a job's RunFollower: its queue and its seq, unique to the job for ever (an id
 * enqueued again after its record expired gets a new seq) and never changed, even when the job's
 * run moves to a copy of its thread, so that the coordinator's stop reaches the follower following it.
 */
export const followerName = (queueName: string, job: { seq: number }): string => `${queueName}:${job.seq}`;

/** A job whose LangGraph run the sweep should look at. */
export interface RunToCheck {
  jobId: string;
  attempt: number;
  threadId: string;
  runId: string;
}

export interface ProgressReport {
  progress?: number;
  currentStep?: string;
  runId?: string;
  /** A follower took up this attempt's run again (its budget ran out, or it died). */
  rejoined?: boolean;
  /** The job's run goes on in a copy of its thread from now on (LangGraph lost the original's run). */
  threadId?: string;
}

/**
 * Why an attempt failed. `unreachable`: an outage, LangGraph not answering at all (a call failed
 * and not even its `GET /ok` answered), which is not the job's fault: it goes back to the queue
 * without spending a retry.
 */
export interface AttemptFailure {
  error: string;
  retryable: boolean;
  unreachable?: boolean;
  /** Our own error (a bug of the queue's, not LangGraph's): it says nothing of whether LangGraph answers. */
  ours?: boolean;
  /**
   * LangGraph refused the run because another run holds the thread (one started outside the
   * queue, or the run of the thread's previous job, still stopping): not the job's fault, waited
   * out without spending a retry, up to JOB_TIMEOUT_SECONDS.
   */
  threadBusy?: boolean;
}

export type Failure<Code extends string> = { ok: false; code: Code; message: string };
export type Result<T, Code extends string> = { ok: true; data: T } | Failure<Code>;

/**
 * Why a consumer's report was refused; in each case it must stop working on the attempt. The
 * job is over (its LangGraph run should stop too) unless another attempt has taken it on.
 */
export type ReportRefusal = "JOB_NOT_FOUND" | "JOB_CANCELLED" | "JOB_ENDED" | "STALE_ATTEMPT";

/** Why a `resume` was refused: no such job, not interrupted, or a value that answers no pending interrupt. */
export type ResumeRefusal = "JOB_NOT_FOUND" | "JOB_NOT_INTERRUPTED" | "INVALID_RESUME";

/** Why a `retry` of one job was refused (besides a full queue): no such job, or one that has not failed or been cancelled. */
export type RetryRefusal = "JOB_NOT_FOUND" | "JOB_NOT_RETRYABLE";

export interface RetryData {
  jobId: string;
  status: "queued";
  previousStatus: "failed" | "cancelled";
}

/** A bulk retry's page: the jobs queued again, and where the next call carries on (null: none left). */
export interface BulkRetryData {
  jobIds: string[];
  nextCursor: string | null;
}

/** A newer attempt may be following the same LangGraph run: only a job that is over stops it. */
export const jobIsOver = (refusal: ReportRefusal): boolean => refusal !== "STALE_ATTEMPT";

export interface EnqueueData {
  jobId: string;
  status: JobStatus;
  priority: string;
  estimatedWaitTime: number;
  queuePosition: number;
}

/** The queue is at capacity: the client may try again after `retryAfterSeconds` (the Retry-After header). */
export type QueueFull = Failure<"QUEUE_FULL"> & { retryAfterSeconds: number };

export type EnqueueRefusal = QueueFull | Failure<"JOB_ID_CONFLICT">;

export type EnqueueResult = { ok: true; created: boolean; data: EnqueueData } | EnqueueRefusal;

/** One answer per job, in the order sent; `created: false` for a job that already existed. */
export type EnqueueBatchResult = { ok: true; data: { created: boolean; data: EnqueueData }[] } | EnqueueRefusal;
