/**
 * The moves every part of the coordinator makes a job take: to a terminal state, back to the
 * queue (a retry, an outage, a stall, a resume), to `interrupted`, and the LangGraph circuit they
 * open and close. Each is called inside a store transaction; the counters behind stats are bumped here and
 * nowhere else, and the metrics (metrics.ts) observed here, but for a run's start (a claim, attempts.ts).
 */
import { backoffDelayMs, toIso, type JobState, type JsonValue } from "../jobs";
import { log } from "../log";
import { answered, answeredSince, tripped, type Circuit } from "./circuit";
import { jobEvent, type CoordinatorHost } from "./host";
import type { JobRow, JobUpdate } from "./job-store";
import { MAX_STALLS, type AttemptFailure, type PendingInterrupt, type ResumeAnswer } from "./protocol";

/** Interrupts are kept whole up to this size as JSON; past it, their values are left in LangGraph (the thread's state). */
export const MAX_INTERRUPTS_BYTES = 256 * 1024;

export class Transitions {
  constructor(private readonly host: CoordinatorHost) {}

  /** Completes a job; its run time feeds the queue's and the job type's averages. */
  complete(job: JobRow, result: Pick<JobRow, "result" | "result_ref">, now: number, detail: Record<string, unknown>, durationMs: number, update: JobUpdate = {}): void {
    const { store } = this.host;
    store.bump("completed_total", 1);
    store.bump("process_ms_total", durationMs);
    store.bump(`completed:${job.type}`, 1);
    store.bump(`process_ms:${job.type}`, durationMs);
    this.host.metrics.completed(durationMs, now);
    this.end(job, "completed", now, { durationMs, ...detail }, { ...update, ...result, progress: 100, error: null });
  }

  /**
   * Moves a job to a terminal state; its record expires RESULT_TTL_SECONDS later. A job that held
   * its client-chosen thread hands it to the next job waiting for it.
   */
  end(job: JobRow, state: "completed" | "failed" | "cancelled", now: number, detail: Record<string, unknown>, update: JobUpdate = {}): void {
    const { store } = this.host;
    if (state === "failed") {
      store.bump("failed_total", 1);
      this.host.metrics.failed(now);
    }
    if (state === "cancelled") this.host.metrics.cancelled();
    store.update(job, {
      ...update, state, ended_at_ms: now, expires_at_ms: now + this.host.config.resultTtlMs,
      lease_until_ms: null, next_retry_at_ms: null, interrupts: null,
    }, jobEvent(this.host, job, state, now, detail));
    if (job.shared_thread && job.state !== "waiting") {
      const next = store.nextOnThread(job.thread_id!);
      if (next) store.update(next, { state: "queued" }, jobEvent(this.host, next, "thread_free", now, { after: job.id }));
    }
  }

  /**
   * An operator's retry (admin.ts): a failed or cancelled job is queued again with a fresh retry
   * budget. It keeps its history, its attempts' numbering and its LangGraph thread, so that its
   * next run continues from the thread's checkpoint. Its last run is no longer its current one:
   * the sweep must not take what that run left for the job's result (on a thread the client
   * chose, another job's may have followed it). On such a thread, held by another job now, it
   * waits for its turn (`waiting`) as a newly enqueued job would.
   */
  retry(job: JobRow, now: number): void {
    const { store } = this.host;
    const waiting = job.shared_thread === 1 && store.threadTaken(job.thread_id!);
    this.host.metrics.retried();
    store.update(job, {
      state: waiting ? "waiting" : "queued", retry_count: 0, ended_at_ms: null, expires_at_ms: null, error: null,
      stalls: 0, run_id: null, outage_since_ms: null, outage_run_id: null, busy_since_ms: null,
    }, jobEvent(this.host, job, "retried", now, { previousStatus: job.state, retryCount: job.retry_count, ...(waiting && { waitingForThread: true }) }));
  }

  /**
   * The attempt's run stopped at the graph's `interrupt()`: the job waits for a resume, its slot
   * freed (it still counts against capacity, and keeps its thread), for at most INTERRUPT_TIMEOUT_SECONDS.
   */
  interrupt(job: JobRow, interrupts: PendingInterrupt[], now: number, update: JobUpdate = {}): void {
    let kept = JSON.stringify(interrupts);
    if (kept.length * 3 > MAX_INTERRUPTS_BYTES && new TextEncoder().encode(kept).byteLength > MAX_INTERRUPTS_BYTES) {
      kept = JSON.stringify(interrupts.map(({ id, node, value }) => ({ id, node, value: { unkeptValueBytes: JSON.stringify(value).length } })));
    }
    this.host.store.update(job, {
      ...update, state: "interrupted", interrupts: kept, resume: null, lease_until_ms: null,
      deadline_ms: now + this.host.config.interruptTimeoutMs,
    }, jobEvent(this.host, job, "interrupted", now, { interrupts: interrupts.map(({ id, node }) => ({ id, node })) }));
  }

  /**
   * A resume answered the interrupts: the job goes back to the queue, its next run continues the
   * thread with the value. The run that stopped at the interrupt is no longer the job's current
   * one (it succeeded: the sweep must not take its state for the job's result).
   */
  resume(job: JobRow, value: JsonValue, now: number): void {
    const answer: ResumeAnswer = { id: crypto.randomUUID(), value };
    const valueJson = JSON.stringify(value);
    const shown = valueJson.length <= 1024 ? { value } : { valueBytes: valueJson.length };
    this.host.store.update(job, { state: "queued", interrupts: null, resume: JSON.stringify(answer), run_id: null, outage_run_id: null },
      jobEvent(this.host, job, "resumed", now, { resumeId: answer.id, ...shown }));
  }

  /**
   * Puts a job whose attempt found LangGraph unreachable, or its thread busy, back in the queue,
   * schedules a retry, or fails the job for good; returns the state it is left in. `update` goes
   * along with the change (what the attempt showed of LangGraph).
   */
  failAttempt(job: JobRow, failure: AttemptFailure, now: number, update: JobUpdate = {}): JobState {
    const { store, config } = this.host;
    const busySinceMs = job.busy_since_ms ?? now;
    if (failure.threadBusy && now - busySinceMs < config.jobTimeoutMs) {
      // Another run holds the thread (the thread's previous job's, still stopping, or one started
      // outside the queue): not the job's doing. Waited out without spending a retry, looking
      // again after half the time waited so far (RETRY_BASE_MS at first, RETRY_MAX_MS at most).
      const nextRetryAtMs = now + Math.min(config.retryMaxMs, Math.max(config.retryBaseMs, Math.round((now - busySinceMs) / 2)));
      store.update(job, { ...update, state: "delayed", busy_since_ms: busySinceMs, next_retry_at_ms: nextRetryAtMs, lease_until_ms: null, error: failure.error },
        jobEvent(this.host, job, "thread_busy", now, { error: failure.error, busySince: toIso(busySinceMs), nextRetryAt: toIso(nextRetryAtMs) }));
      return "delayed";
    }
    if (failure.threadBusy) failure = { error: `the thread stayed busy for more than ${config.jobTimeoutMs / 1000}s: ${failure.error}`, retryable: false };
    if (failure.unreachable && answeredSince(store.circuit(), job.outage_since_ms)) {
      failure = { error: `${failure.error} (LangGraph answered other jobs meanwhile)`, retryable: true };
    } else if (failure.unreachable) {
      this.host.metrics.langGraphUnreachable();
      this.setCircuit(tripped(store.circuit(), now), now);
      const outageSinceMs = job.outage_since_ms ?? now;
      if (now - outageSinceMs < config.jobTimeoutMs) {
        store.update(job, { ...update, state: "queued", lease_until_ms: null, error: failure.error, outage_since_ms: outageSinceMs, outage_run_id: job.run_id },
          jobEvent(this.host, job, "outage", now, { error: failure.error, outageSince: toIso(outageSinceMs) }));
        return "queued";
      }
      failure = { error: `LangGraph unreachable for more than ${config.jobTimeoutMs / 1000}s: ${failure.error}`, retryable: false };
    }
    if (failure.retryable && job.retry_count < job.max_retries) {
      const retryNumber = job.retry_count + 1;
      const nextRetryAtMs = now + backoffDelayMs(retryNumber, { baseMs: config.retryBaseMs, maxMs: config.retryMaxMs });
      this.host.metrics.retried();
      store.update(job, {
        ...update, state: "delayed", retry_count: retryNumber, next_retry_at_ms: nextRetryAtMs, lease_until_ms: null, error: failure.error,
      }, jobEvent(this.host, job, "retry_scheduled", now, { error: failure.error, retryCount: retryNumber, nextRetryAt: toIso(nextRetryAtMs) }));
      return "delayed";
    }
    this.end(job, "failed", now, { error: failure.error, retriesExhausted: failure.retryable }, { ...update, error: failure.error });
    return "failed";
  }

  /**
   * The job stalled: its lease lapsed, or its delivery was dead-lettered, for a reason that is not
   * its own (the coordinator was slow or unreachable, the Worker died). It goes back to the queue
   * without spending a retry, as BullMQ's stalled jobs do; past MAX_STALLS, a stall is a failed
   * attempt like any other, so a job that keeps stalling still ends.
   */
  stall(job: JobRow, reason: string, now: number): JobState {
    if (job.stalls >= MAX_STALLS) {
      return this.failAttempt(job, { error: `${reason}; stalled ${job.stalls + 1} times`, retryable: true }, now, { stalls: job.stalls + 1 });
    }
    this.host.store.update(job, { state: "queued", lease_until_ms: null, stalls: job.stalls + 1 },
      jobEvent(this.host, job, "stalled", now, { reason, stalls: job.stalls + 1 }));
    return "queued";
  }

  /**
   * Something an attempt did shows LangGraph answering: the circuit's outage is over, and so is
   * the job's; returns the change that ends the job's, to go with the attempt's own.
   */
  langGraphAnswered(job: JobRow, now: number): JobUpdate {
    this.setCircuit(answered(this.host.store.circuit(), now), now);
    return job.outage_since_ms === null ? {} : { outage_since_ms: null };
  }

  /** Saves a changed circuit and says so in the log. */
  setCircuit(next: Circuit, now: number): void {
    const { store, queueName } = this.host;
    const current = store.circuit();
    if (JSON.stringify(next) === JSON.stringify(current)) return;
    store.saveCircuit(next);
    if (next.state === "closed") this.host.metrics.langGraphAnswered();
    if (next.state !== current.state) {
      log({ event: `circuit_${next.state}`, queue: queueName, openedAt: toIso(next.openedAtMs), nextProbeAt: toIso(next.probeAtMs), at: toIso(now) }, next.state === "closed" ? "info" : "warn");
    }
  }
}
