/**
 * A job as the coordinator's `jobs` table holds it: one row a job, its columns, and what an
 * update may change. Times are epoch ms, named `*_ms`. The SQL is in job-store.ts.
 */
import type { JobState, JobType, Priority } from "../jobs";

export type JobRow = {
  id: string;
  seq: number;
  type: JobType;
  payload: string;
  priority: Priority;
  score: number;
  state: JobState;
  /** Dispatch number. A delivery or report must name the current attempt to be heard. */
  attempt: number;
  retry_count: number;
  max_retries: number;
  progress: number;
  current_step: string | null;
  thread_id: string | null;
  run_id: string | null;
  result: string | null;
  error: string | null;
  enqueued_at_ms: number;
  started_at_ms: number | null;
  attempt_started_at_ms: number | null;
  ended_at_ms: number | null;
  next_retry_at_ms: number | null;
  lease_until_ms: number | null;
  expires_at_ms: number | null;
  /** When this job's attempts first found LangGraph unreachable, until one finds it answering. */
  outage_since_ms: number | null;
  /** Deliveries of the current attempt that reached the coordinator (claims, first and repeated). */
  deliveries: number;
  /** Leases that lapsed without the job being at fault; each requeued it without spending a retry. */
  stalls: number;
  /** Where the result is kept when it is too large for the row (an object key); `result` is null then. */
  result_ref: string | null;
  /** The run that was current when the job last met an outage: while it is still the job's run, it may be one LangGraph lost. */
  outage_run_id: string | null;
  /** The graph or assistant its runs are created with; null for jobs enqueued before there was a choice (then: the type). */
  assistant_id: string | null;
  /** The job's RunOptions (protocol.ts) as JSON text, or null when it has none. */
  run_options: string | null;
  /** 1 when the client chose the thread: its jobs run one at a time, in enqueue order (state `waiting` until their turn). */
  shared_thread: number;
  /** The job's own bound on each run (timeoutSeconds), in ms. */
  timeout_ms: number | null;
  /** When the state the job is in runs out: a running attempt's timeout, an interrupt's wait. Null in every other state. */
  deadline_ms: number | null;
  /** The pending interrupts (PendingInterrupt[] as JSON text) while the job is `interrupted`. */
  interrupts: string | null;
  /** The answer of the last resume (a ResumeAnswer as JSON text), until the job is interrupted again. */
  resume: string | null;
  /** Since when LangGraph has refused the job's run because another run holds its thread; cleared once it has a run. */
  busy_since_ms: number | null;
};

/** One entry of a job's history. */
export type JobEvent = {
  at_ms: number;
  event: string;
  attempt: number;
  detail: Record<string, unknown>;
};

/** What a job is asked to do: two enqueues of one id must agree on it. */
export interface JobBody {
  type: string;
  payload: unknown;
  assistantId: string;
  /** The thread the client chose, if it chose one. */
  threadId: string | null;
  runOptions: unknown;
  timeoutMs: number | null;
}

export type Mutable = Omit<
  JobRow,
  "id" | "seq" | "type" | "payload" | "priority" | "score" | "enqueued_at_ms" | "max_retries" | "assistant_id" | "run_options" | "shared_thread" | "timeout_ms"
>;
export type JobUpdate = Partial<Mutable>;

/** Column names an update may set: fixed here, never taken from input. */
export const UPDATABLE = new Set<keyof Mutable>([
  "state", "attempt", "retry_count", "progress", "current_step", "thread_id", "run_id",
  "result", "error", "started_at_ms", "attempt_started_at_ms", "ended_at_ms", "next_retry_at_ms",
  "lease_until_ms", "expires_at_ms", "outage_since_ms", "deliveries", "stalls", "result_ref", "outage_run_id",
  "deadline_ms", "interrupts", "resume", "busy_since_ms",
]);

/** The states a deadline belongs to (`deadline_ms`): leaving them clears it. */
export const HAS_DEADLINE: ReadonlySet<JobState> = new Set(["running", "interrupted"]);

/** Every column but the history, which only `events` reads. */
export const JOB = "id, seq, type, payload, priority, score, state, attempt, retry_count, max_retries, progress, current_step, thread_id, run_id, result, error, enqueued_at_ms, started_at_ms, attempt_started_at_ms, ended_at_ms, next_retry_at_ms, lease_until_ms, expires_at_ms, outage_since_ms, deliveries, stalls, result_ref, outage_run_id, assistant_id, run_options, shared_thread, timeout_ms, deadline_ms, interrupts, resume, busy_since_ms";
