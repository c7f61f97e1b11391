/**
 * What clients see of the coordinator's records: a job's status, its place in the queue and
 * the wait before it, list summaries, and the queue's stats. Read-only, over the store.
 */
import type { QueueConfig } from "../config";
import {
  DEFAULT_PROCESS_SECONDS, estimateCompletionMs, estimateWaitSeconds, publicStatus, toIso, type JobType, type JsonValue,
} from "../jobs";
import type { Circuit } from "./circuit";
import type { JobRow, JobStore } from "./job-store";
import type { EnqueueData, RunOptions } from "./protocol";
import { notKeptReason, objectKey } from "./results";

export class JobViews {
  constructor(
    private readonly store: JobStore,
    private readonly config: QueueConfig,
  ) {}

  stats(queueName: string) {
    const c = this.store.counters();
    const ended = c.completedTotal + c.failedTotal;
    return {
      queueName,
      totalJobs: c.queued + c.delayed + c.dispatched + c.waiting + c.running + c.interrupted + c.completed + c.failed + c.cancelled,
      queuedJobs: c.queued + c.delayed + c.dispatched + c.waiting,
      runningJobs: c.running,
      interruptedJobs: c.interrupted,
      completedJobs: c.completed,
      failedJobs: c.failed,
      cancelledJobs: c.cancelled,
      // Seconds, to the millisecond: a queue of sub-second jobs must not read 0.
      averageProcessTime: c.completedTotal > 0 ? Math.round(c.processMsTotal / c.completedTotal) / 1000 : 0,
      successRate: ended > 0 ? Math.round((c.completedTotal / ended) * 1000) / 1000 : null,
      capacity: this.config.capacity,
      concurrency: this.config.concurrency,
      // Paused by an operator: nothing is dispatched (running jobs finish, enqueues are accepted).
      paused: this.store.paused(),
      langgraph: circuitView(this.store.circuit()),
    };
  }

  /** Jobs that count against capacity: queued, waiting to retry or for their thread, dispatched, running and interrupted. */
  activeJobs(): number {
    const c = this.store.counters();
    return c.queued + c.delayed + c.dispatched + c.waiting + c.running + c.interrupted;
  }

  /** Slots taken: dispatched jobs waiting for a consumer, and running ones. */
  busySlots(): number {
    const counters = this.store.counters();
    return counters.dispatched + counters.running;
  }

  /** When a full queue may have room: about when the next slot frees, on average (the Retry-After of QUEUE_FULL). */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.avgProcessSeconds() / this.config.concurrency));
  }

  /** The average run time of a job of `type` (or of any job), once there is one to go by. */
  avgProcessSeconds(type?: JobType): number {
    const ofType = type ? this.store.typeAverageMs(type) : null;
    if (ofType !== null) return ofType / 1000;
    const c = this.store.counters();
    return c.completedTotal > 0 ? c.processMsTotal / c.completedTotal / 1000 : DEFAULT_PROCESS_SECONDS;
  }

  /** `newerInLane`: see JobStore.countAhead. */
  enqueueView(job: JobRow, newerInLane?: number): EnqueueData {
    const waiting = this.waitingView(job, newerInLane);
    return {
      jobId: job.id,
      status: publicStatus(job.state),
      priority: job.priority,
      estimatedWaitTime: waiting?.estimatedWaitTime ?? 0,
      queuePosition: waiting?.queuePosition ?? 0,
    };
  }

  waitingView(job: JobRow, newerInLane?: number): { queuePosition: number; estimatedWaitTime: number; waitingForThread?: true } | null {
    // Dispatched: it holds a slot and leaves the queue as soon as a consumer takes it on.
    if (job.state === "dispatched") return { queuePosition: 0, estimatedWaitTime: 0 };
    if (job.state === "waiting") {
      // Behind the job on its thread: at best it enters the queue now, after the ready jobs of its
      // score and above, and waits one more run (the one ahead of it on the thread).
      const jobsAhead = this.store.countAheadOfNewcomer(job.score);
      return { queuePosition: jobsAhead + 1, estimatedWaitTime: this.estimateWait(jobsAhead) + Math.ceil(this.avgProcessSeconds()), waitingForThread: true };
    }
    if (job.state !== "queued") return null;
    const jobsAhead = this.store.countAhead(job, newerInLane);
    return { queuePosition: jobsAhead + 1, estimatedWaitTime: this.estimateWait(jobsAhead) };
  }

  private estimateWait(jobsAhead: number): number {
    return estimateWaitSeconds({ jobsAhead, running: this.busySlots(), concurrency: this.config.concurrency, avgProcessSeconds: this.avgProcessSeconds() });
  }

  statusView(job: JobRow, now: number) {
    const running = job.state === "running";
    return {
      jobId: job.id,
      type: job.type,
      status: publicStatus(job.state),
      priority: job.priority,
      payload: JSON.parse(job.payload) as JsonValue,
      progress: job.progress,
      currentStep: job.current_step,
      ...this.waitingView(job),
      enqueuedAt: toIso(job.enqueued_at_ms),
      startedAt: toIso(job.started_at_ms),
      estimatedCompletion: running
        ? toIso(estimateCompletionMs({ startedAtMs: job.attempt_started_at_ms!, progress: job.progress, avgProcessSeconds: this.avgProcessSeconds(job.type), now }))
        : null,
      completedAt: toIso(job.ended_at_ms),
      retryCount: job.retry_count,
      maxRetries: job.max_retries,
      nextRetryAt: toIso(job.next_retry_at_ms),
      result: job.result === null ? null : (JSON.parse(job.result) as JsonValue),
      error: job.error,
      threadId: job.thread_id,
      assistantId: job.assistant_id ?? job.type,
      // As JSON values: RunOptions' objects of `unknown` cannot cross an RPC boundary typed.
      ...(job.run_options !== null && (JSON.parse(job.run_options) as { [K in keyof RunOptions]: JsonValue })),
      timeoutSeconds: job.timeout_ms === null ? null : job.timeout_ms / 1000,
      ...(job.state === "interrupted" && {
        interrupts: JSON.parse(job.interrupts ?? "[]") as JsonValue,
        interruptExpiresAt: toIso(job.deadline_ms),
      }),
      ...resultPlace(job),
    };
  }

  summaryView(job: JobRow) {
    return {
      jobId: job.id,
      type: job.type,
      status: publicStatus(job.state),
      priority: job.priority,
      progress: job.progress,
      currentStep: job.current_step,
      retryCount: job.retry_count,
      enqueuedAt: toIso(job.enqueued_at_ms),
      startedAt: toIso(job.started_at_ms),
      completedAt: toIso(job.ended_at_ms),
      nextRetryAt: toIso(job.next_retry_at_ms),
      error: job.error,
      threadId: job.thread_id,
    };
  }
}

/**
 * Where a result not in the row is (results.ts). In the bucket: `resultRef`, the object's key, for
 * the Worker to read it into the response (clients never see the key). Not kept (past the limit):
 * `resultLocation`, the LangGraph thread whose state (`GET /threads/{threadId}/state`) holds it
 * (on a thread the client chose, until the thread's next job moves it on: its history keeps it).
 */
function resultPlace(job: JobRow): { resultRef?: string; resultLocation?: { threadId: string | null; reason: string } } {
  const key = objectKey(job.result_ref);
  if (key) return { resultRef: key };
  const reason = notKeptReason(job.result_ref);
  return reason === null ? {} : { resultLocation: { threadId: job.thread_id, reason: `${reason}: the final state is in LangGraph, GET /threads/${job.thread_id}/state` } };
}

export function circuitView(circuit: Circuit) {
  return { circuit: circuit.state, openedAt: toIso(circuit.openedAtMs), nextProbeAt: toIso(circuit.probeAtMs) };
}
