/**
 * Enqueue: up to a request's worth of jobs in one transaction, all or nothing. If any id is taken
 * by another body, or the new jobs do not all fit under capacity, nothing is written. Each job is
 * idempotent as a single enqueue is: one that exists with the same body is answered as it stands.
 * A job on a thread the client chose waits (`waiting`) while an earlier job of that thread is
 * active: LangGraph runs one run per thread, and a conversation's turns go in order.
 */
import { canonicalJson, PRIORITY_SCORES } from "../jobs";
import type { Change } from "./attempts";
import type { Dispatcher } from "./dispatcher";
import { jobEvent, type CoordinatorHost } from "./host";
import type { JobBody, JobRow } from "./job-store";
import type { EnqueueData, EnqueueRefusal, NewJob, RunOptions } from "./protocol";

/** One answer per job, in the order sent; `created: false` for a job that already existed. Call inside a transaction. */
export function enqueueJobs(
  host: CoordinatorHost, dispatcher: Dispatcher, jobs: NewJob[], now: number,
): Change<{ created: boolean; data: EnqueueData }[], never> | EnqueueRefusal {
  const { store, views, config, queueName } = host;
  // Bodies are compared only where an id is taken: a new job costs no hashing at all.
  const bodies = store.bodies(jobs.map((job) => job.id));
  const fresh = new Set<string>();
  for (const job of jobs) {
    const known = bodies.get(job.id);
    if (known === undefined) fresh.add(job.id);
    else if (!sameBody(known, bodyOf(job))) {
      return { ok: false, code: "JOB_ID_CONFLICT", message: `job ${job.id} already exists with a different type, payload, thread or run options` };
    }
    bodies.set(job.id, bodyOf(job));
  }
  const active = views.activeJobs();
  if (fresh.size > 0 && active + fresh.size > config.capacity) {
    const retryAfterSeconds = views.retryAfterSeconds();
    const message = active >= config.capacity
      ? `queue ${queueName} is full (${active} of ${config.capacity} active jobs)`
      : `queue ${queueName} has room for ${config.capacity - active} more jobs, not ${fresh.size} (${active} of ${config.capacity} active)`;
    return { ok: false, code: "QUEUE_FULL", message, retryAfterSeconds };
  }
  const toInsert = new Set(fresh);
  const inserted = new Map<string, JobRow>();
  for (const job of jobs) {
    if (!toInsert.delete(job.id)) continue;
    const waiting = job.threadId !== undefined && store.threadTaken(job.threadId);
    const runOptions = runOptionsOf(job);
    const row: Omit<JobRow, "seq"> = {
      id: job.id, type: job.type, payload: JSON.stringify(job.payload),
      priority: job.priority, score: PRIORITY_SCORES[job.priority], state: waiting ? "waiting" : "queued", attempt: 0,
      retry_count: 0, max_retries: job.maxRetries, progress: 0, current_step: null,
      // The job's LangGraph thread, shared by all its attempts: the client's, or a fresh UUID (an
      // id enqueued again after its record expired starts a thread of its own, not the old checkpoint).
      thread_id: job.threadId ?? crypto.randomUUID(), run_id: null, result: null, error: null, enqueued_at_ms: now, started_at_ms: null,
      attempt_started_at_ms: null, ended_at_ms: null, next_retry_at_ms: null, lease_until_ms: null,
      expires_at_ms: null, outage_since_ms: null, deliveries: 0, stalls: 0, result_ref: null, outage_run_id: null,
      assistant_id: job.assistantId ?? job.type, run_options: runOptions === null ? null : JSON.stringify(runOptions),
      shared_thread: job.threadId === undefined ? 0 : 1, timeout_ms: job.timeoutSeconds === undefined ? null : job.timeoutSeconds * 1000,
      deadline_ms: null, interrupts: null, resume: null, busy_since_ms: null,
    };
    const detail = { priority: row.priority, type: row.type, ...(job.threadId !== undefined && { threadId: job.threadId }), ...(waiting && { waitingForThread: true }) };
    inserted.set(job.id, store.insert(row, jobEvent(host, row, "queued", now, detail)));
  }
  // Positions as the jobs arrived, before any leaves for a free slot. A job created here has
  // only the jobs created after it in this batch behind it in its lane: no rows to count.
  const newerInLane = new Map<string, number>();
  const laneArrivals = new Map<number, number>();
  for (const row of [...inserted.values()].reverse()) {
    // One waiting for its thread is in no lane yet.
    if (row.state !== "queued") continue;
    newerInLane.set(row.id, laneArrivals.get(row.score) ?? 0);
    laneArrivals.set(row.score, (laneArrivals.get(row.score) ?? 0) + 1);
  }
  const data = jobs.map((job) => {
    const created = inserted.get(job.id);
    // A job named twice in the batch is created by its first mention only.
    inserted.delete(job.id);
    const view = views.enqueueView(created ?? store.get(job.id)!, created?.state === "queued" ? newerInLane.get(job.id) : undefined);
    return { created: created !== undefined, data: view };
  });
  return { ok: true, data, messages: newerInLane.size > 0 ? dispatcher.dispatchReady(now) : [] };
}

/** The job's run options, or null when it has none. */
function runOptionsOf({ config, context, metadata }: NewJob): RunOptions | null {
  const options: RunOptions = { ...(config && { config }), ...(context && { context }), ...(metadata && { metadata }) };
  return Object.keys(options).length > 0 ? options : null;
}

const bodyOf = (job: NewJob): JobBody => ({
  type: job.type, payload: job.payload, assistantId: job.assistantId ?? job.type, threadId: job.threadId ?? null,
  runOptions: runOptionsOf(job), timeoutMs: job.timeoutSeconds === undefined ? null : job.timeoutSeconds * 1000,
});

/** Whether a job already stored has the body (type, payload, thread and run options; key order aside) of `job`. */
const sameBody = (stored: JobBody, job: JobBody): boolean => canonicalJson(stored) === canonicalJson(job);
