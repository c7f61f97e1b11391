/**
 * Enqueue: up to a request's worth of jobs in one transaction, all or nothing. If any id is taken
 * by another body, or the new jobs do not all fit under capacity, nothing is written. Each job is
 * idempotent as a single enqueue is: one that exists with the same body is answered as it stands.
 */
import { canonicalJson, PRIORITY_SCORES } from "../jobs";
import type { Change } from "./attempts";
import type { Dispatcher } from "./dispatcher";
import { jobEvent, type CoordinatorHost } from "./host";
import type { JobBody, JobRow } from "./job-store";
import type { EnqueueData, EnqueueRefusal, NewJob } from "./protocol";

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
    else if (!sameBody(known, job)) return { ok: false, code: "JOB_ID_CONFLICT", message: `job ${job.id} already exists with a different type or payload` };
    bodies.set(job.id, { type: job.type, payload: job.payload });
  }
  const active = views.activeJobs();
  if (fresh.size > 0 && active + fresh.size > config.capacity) {
    const retryAfterSeconds = Math.max(1, Math.ceil(views.avgProcessSeconds() / config.concurrency));
    const message = active >= config.capacity
      ? `queue ${queueName} is full (${active} of ${config.capacity} active jobs)`
      : `queue ${queueName} has room for ${config.capacity - active} more jobs, not ${fresh.size} (${active} of ${config.capacity} active)`;
    return { ok: false, code: "QUEUE_FULL", message, retryAfterSeconds };
  }
  const toInsert = new Set(fresh);
  const inserted = new Map<string, JobRow>();
  for (const job of jobs) {
    if (!toInsert.delete(job.id)) continue;
    const row: Omit<JobRow, "seq"> = {
      id: job.id, type: job.type, payload: JSON.stringify(job.payload),
      priority: job.priority, score: PRIORITY_SCORES[job.priority], state: "queued", attempt: 0,
      retry_count: 0, max_retries: job.maxRetries, progress: 0, current_step: null,
      // The job's LangGraph thread, shared by all its attempts. A fresh UUID: an id enqueued
      // again after its record expired starts a thread of its own, not the old checkpoint.
      thread_id: crypto.randomUUID(), run_id: null, result: null, error: null, enqueued_at_ms: now, started_at_ms: null,
      attempt_started_at_ms: null, ended_at_ms: null, next_retry_at_ms: null, lease_until_ms: null,
      expires_at_ms: null, outage_since_ms: null, deliveries: 0, stalls: 0, result_ref: null, outage_run_id: null,
    };
    inserted.set(job.id, store.insert(row, jobEvent(host, row, "queued", now, { priority: row.priority, type: row.type })));
  }
  // Positions as the jobs arrived, before any leaves for a free slot. A job created here has
  // only the jobs created after it in this batch behind it in its lane: no rows to count.
  const newerInLane = new Map<string, number>();
  const laneArrivals = new Map<number, number>();
  for (const row of [...inserted.values()].reverse()) {
    newerInLane.set(row.id, laneArrivals.get(row.score) ?? 0);
    laneArrivals.set(row.score, (laneArrivals.get(row.score) ?? 0) + 1);
  }
  const data = jobs.map((job) => {
    const created = inserted.get(job.id);
    // A job named twice in the batch is created by its first mention only.
    inserted.delete(job.id);
    const view = views.enqueueView(created ?? store.get(job.id)!, created && newerInLane.get(job.id));
    return { created: created !== undefined, data: view };
  });
  return { ok: true, data, messages: newerInLane.size > 0 ? dispatcher.dispatchReady(now) : [] };
}

/** Whether a job already stored has the body (type and payload, key order aside) of `job`. */
const sameBody = (stored: JobBody, job: JobBody): boolean =>
  canonicalJson({ type: stored.type, payload: stored.payload }) === canonicalJson({ type: job.type, payload: job.payload });
