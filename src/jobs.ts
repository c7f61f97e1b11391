/**
 * The job model and the pure rules of the queue: priority order, retry backoff, wait and
 * completion estimates. Plain functions that take `now`, so they are unit-tested without a
 * runtime; the coordinator (queue-do.ts) wires them to storage.
 */

/** The seed's job types: what JOB_TYPES accepts when it is not set. */
export const DEFAULT_JOB_TYPES = ["research_workflow", "content_generation", "batch_processing", "data_sync"] as const;
/** A job type: one JOB_TYPES accepts (config.ts), naming the LangGraph graph or assistant that runs it. */
export type JobType = string;

/** A job payload. */
export type JsonObject = { [key: string]: unknown };
/** A parsed JSON value, typed shallowly so that it can cross an RPC boundary. */
export type JsonValue = object | string | number | boolean | null;

export const PRIORITY_SCORES = { high: 100, medium: 50, low: 10 } as const;
export type Priority = keyof typeof PRIORITY_SCORES;

/**
 * What clients see. A job waiting out its backoff is "queued", never "failed"; an "interrupted"
 * one stopped at the graph's `interrupt()` and waits for a `resume`, without holding a slot.
 */
export type JobStatus = "queued" | "running" | "interrupted" | "completed" | "failed" | "cancelled";
/**
 * What the coordinator stores: "delayed" is a queued job whose retry is not due yet;
 * "dispatched" holds a slot and was sent to the Queue, but no consumer has taken it on yet;
 * "waiting" waits for an earlier job on the same LangGraph thread to end (one run per thread).
 * Clients see all three as "queued": a job is "running" once its run is being taken on.
 */
export type JobState = JobStatus | "delayed" | "dispatched" | "waiting";

/** The states that hold one of the queue's MAX_CONCURRENCY slots: sent to a consumer, or running. */
export const holdsSlot = (state: JobState): state is "dispatched" | "running" => state === "dispatched" || state === "running";

export const TERMINAL_STATES: readonly JobState[] = ["completed", "failed", "cancelled"];
export const isTerminal = (state: JobState): boolean => TERMINAL_STATES.includes(state);
export const publicStatus = (state: JobState): JobStatus => (state === "delayed" || state === "dispatched" || state === "waiting" ? "queued" : state);

export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so retries of
 * jobs that failed together (LangGraph down) spread out but never come sooner than half the
 * nominal delay. `retryNumber` is 1 for the first retry.
 */
export function backoffDelayMs(retryNumber: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const nominal = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, retryNumber - 1));
  return Math.round(nominal / 2 + random() * (nominal / 2));
}

/** Used for estimates until the queue has finished a job of its own. */
export const DEFAULT_PROCESS_SECONDS = 60;

/**
 * Seconds until a queued job with `jobsAhead` ready jobs before it starts: jobs ahead fill the
 * free slots first; after that, one slot frees every `avgProcessSeconds / concurrency` on average.
 */
export function estimateWaitSeconds(args: {
  jobsAhead: number;
  running: number;
  concurrency: number;
  avgProcessSeconds: number;
}): number {
  const freeSlots = Math.max(0, args.concurrency - args.running);
  const mustWaitFor = args.jobsAhead - freeSlots + 1;
  if (mustWaitFor <= 0) return 0;
  return Math.ceil(Math.ceil(mustWaitFor / args.concurrency) * args.avgProcessSeconds);
}

/**
 * When a running job should finish: from its progress rate once it has made some progress,
 * otherwise from the average time of a job.
 */
export function estimateCompletionMs(args: {
  startedAtMs: number;
  progress: number;
  avgProcessSeconds: number;
  now: number;
}): number {
  const elapsedMs = Math.max(0, args.now - args.startedAtMs);
  if (args.progress >= 5 && args.progress < 100) {
    return args.now + Math.round((elapsedMs * (100 - args.progress)) / args.progress);
  }
  return Math.max(args.now, args.startedAtMs + args.avgProcessSeconds * 1000);
}

/** JSON with object keys sorted, so two bodies that differ only in key order compare equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

export const toIso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());


