/**
 * What an operator does to a queue: retry a failed or cancelled job (one, or a page of them at a
 * time), and pause or unpause dispatching. Each runs inside the caller's store transaction, and
 * each is in the job's history (`retried`) or the log (`queue_paused`, `queue_unpaused`).
 *
 * A retry is the one way out of an ended state. It counts against capacity as an enqueue does;
 * a bulk retry queues as many of the page as fit, and its cursor says where to carry on.
 */
import { publicStatus } from "../jobs";
import { log } from "../log";
import { notFound, type Change } from "./attempts";
import type { Dispatcher } from "./dispatcher";
import type { CoordinatorHost } from "./host";
import type { BulkRetryData, QueueFull, RetryData, RetryRefusal } from "./protocol";
import type { Transitions } from "./transitions";

export function retryJob(
  host: CoordinatorHost, transitions: Transitions, dispatcher: Dispatcher, jobId: string, now: number,
): Change<RetryData, RetryRefusal> | QueueFull {
  const job = host.store.get(jobId);
  if (!job) return notFound(jobId);
  if (job.state !== "failed" && job.state !== "cancelled") {
    return { ok: false, code: "JOB_NOT_RETRYABLE", message: `job ${jobId} is ${publicStatus(job.state)}: only a failed or cancelled job can be retried` };
  }
  const full = queueFull(host);
  if (full) return full;
  transitions.retry(job, now);
  return { ok: true, data: { jobId, status: "queued", previousStatus: job.state }, messages: dispatcher.dispatchReady(now) };
}

/**
 * Retries the oldest jobs in `state` after the cursor, at most `limit`, as many as capacity takes.
 * `nextCursor` is null once no job of that state is left past the page.
 */
export function retryJobs(
  host: CoordinatorHost, transitions: Transitions, dispatcher: Dispatcher,
  state: "failed" | "cancelled", limit: number, cursor: string | undefined, now: number,
): Change<BulkRetryData, never> | QueueFull {
  const { store, views, config } = host;
  const page = store.reads.listOldestEnded(state, limit, cursor === undefined ? 0 : Number(cursor));
  const full = page.length > 0 ? queueFull(host) : null;
  if (full) return full;
  const room = config.capacity - views.activeJobs();
  const retried = page.slice(0, room);
  for (const job of retried) transitions.retry(job, now);
  // Past the last job retried: the rest of the page (over capacity) comes again on the next call.
  const last = retried.at(-1);
  const more = retried.length < page.length || page.length === limit;
  return {
    ok: true,
    data: { jobIds: retried.map((job) => job.id), nextCursor: more && last ? String(last.seq) : null },
    messages: retried.length > 0 ? dispatcher.dispatchReady(now) : [],
  };
}

/** Pauses or unpauses dispatching; unpausing sends the best ready jobs to the free slots at once. */
export function setPaused(host: CoordinatorHost, dispatcher: Dispatcher, paused: boolean, now: number): Change<{ queueName: string; paused: boolean }, never> {
  const { store, queueName } = host;
  if (store.paused() !== paused) {
    store.setPaused(paused);
    log({ event: paused ? "queue_paused" : "queue_unpaused", queue: queueName });
  }
  return { ok: true, data: { queueName, paused }, messages: paused ? [] : dispatcher.dispatchReady(now) };
}

/** The refusal of a retry while the queue is at capacity (a retried job counts against it as an enqueued one does), or null. */
function queueFull(host: CoordinatorHost): QueueFull | null {
  const { views, config, queueName } = host;
  const active = views.activeJobs();
  if (active < config.capacity) return null;
  return {
    ok: false, code: "QUEUE_FULL",
    message: `queue ${queueName} is full (${active} of ${config.capacity} active jobs): nothing can be retried until jobs end`,
    retryAfterSeconds: views.retryAfterSeconds(),
  };
}
