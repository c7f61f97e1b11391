/**
 * What consumers and run followers report about the attempts they work on: a claim, progress
 * and heartbeats, the outcome, a dead-lettered delivery, a run the sweep found finished. Every
 * report names its attempt; one for any attempt but the current one is refused, so a duplicate
 * or late Queue delivery never runs a job twice or overwrites a newer attempt. Each method runs
 * inside the caller's store transaction and returns the dispatches to send once it commits.
 */
import { holdsSlot, isTerminal, type JobState } from "../jobs";
import type { Dispatcher } from "./dispatcher";
import { jobEvent, type CoordinatorHost } from "./host";
import type { JobEvent, JobRow, JobUpdate } from "./job-store";
import {
  followerName, LEASE_MS, type AttemptFailure, type ClaimedJob, type Failure, type JobMessage, type PendingInterrupt, type ProgressReport,
  type ReportRefusal,
} from "./protocol";
import type { KeptResult } from "./results";
import type { Transitions } from "./transitions";

/** A change's answer, and the jobs it dispatched (sent once its transaction commits). */
export type Change<T, Code extends string> = { ok: true; data: T; messages: JobMessage[] } | Failure<Code>;

export class Attempts {
  constructor(
    private readonly host: CoordinatorHost,
    private readonly transitions: Transitions,
    private readonly dispatcher: Dispatcher,
  ) {}

  /**
   * A consumer takes on an attempt it was sent. The first delivery moves the job to `running`; a
   * repeated delivery of the running attempt (its consumer failed to hand the run over, and the
   * Queue delivered it again) is answered too, marked `redelivery`, so that the hand-over can be
   * finished: the consumer then finds the run rather than starting one.
   */
  claim(jobId: string, attempt: number, now: number): Change<ClaimedJob, ReportRefusal> {
    const { store } = this.host;
    const job = store.get(jobId);
    const redelivery = job?.state === "running" && job.attempt === attempt;
    const refusal = redelivery ? null : refuseReport(job, jobId, attempt, "dispatched");
    if (refusal) return refusal;
    if (!redelivery) {
      const times = store.reads.dispatchTimes(job!);
      if (times) this.host.metrics.started(times.readyAtMs, times.dispatchedAtMs, now);
    }
    const claimed = store.update(job!, {
      state: "running", started_at_ms: job!.started_at_ms ?? now, attempt_started_at_ms: job!.attempt_started_at_ms ?? now,
      lease_until_ms: now + LEASE_MS, deliveries: job!.deliveries + 1,
      // The job's own time limit runs from the attempt's first delivery.
      ...(!redelivery && { deadline_ms: job!.timeout_ms === null ? null : now + job!.timeout_ms }),
    }, jobEvent(this.host, job!, redelivery ? "redelivered" : "started", now, redelivery ? { deliveries: job!.deliveries + 1 } : { retryCount: job!.retry_count }));
    return {
      ok: true,
      messages: [],
      data: {
        jobId, queueName: this.host.queueName, jobKey: followerName(this.host.queueName, claimed), type: claimed.type, assistantId: claimed.assistant_id ?? claimed.type,
        payloadJson: claimed.payload, runOptionsJson: claimed.run_options, sharedThread: claimed.shared_thread === 1,
        resumeJson: claimed.resume, attempt,
        retryCount: claimed.retry_count, threadId: claimed.thread_id!, firstRun: job!.started_at_ms === null,
        afterOutage: claimed.outage_since_ms !== null || (claimed.outage_run_id !== null && claimed.outage_run_id === claimed.run_id),
        redelivery, followerName: followerName(this.host.queueName, claimed),
      },
    };
  }

  /** Progress, LangGraph ids, or a bare heartbeat: each renews the lease. */
  report(jobId: string, attempt: number, update: ProgressReport, now: number): Change<null, ReportRefusal> {
    const { store } = this.host;
    const job = store.get(jobId);
    const refusal = refuseReport(job, jobId, attempt, "running");
    if (refusal) return refusal;
    const circuitWasOpen = update.runId !== undefined && store.circuit().state !== "closed";
    // A run was created: LangGraph answers.
    const change: JobUpdate = { lease_until_ms: now + LEASE_MS, ...(update.runId !== undefined ? this.transitions.langGraphAnswered(job!, now) : {}) };
    if (update.progress !== undefined) change.progress = Math.max(0, Math.min(100, Math.round(update.progress)));
    if (update.currentStep !== undefined) change.current_step = update.currentStep;
    if (update.runId !== undefined) change.run_id = update.runId;
    // The job has a run: whatever held its thread is gone.
    if (update.runId !== undefined && job!.busy_since_ms !== null) change.busy_since_ms = null;
    // A run found going after an outage (not one started since) may be one LangGraph lost, while it stays the job's.
    if (update.rejoined && update.runId !== undefined && job!.outage_since_ms !== null) change.outage_run_id = update.runId;
    // A thread the client chose is the conversation's: it is never swapped for a copy.
    if (update.threadId !== undefined && !job!.shared_thread) change.thread_id = update.threadId;
    const after = { ...job!, ...change };
    const events: JobEvent[] = [];
    if (update.currentStep !== undefined && update.currentStep !== job!.current_step) {
      events.push(jobEvent(this.host, job!, "progress", now, { progress: after.progress, step: after.current_step }));
    }
    if (change.thread_id !== undefined && change.thread_id !== job!.thread_id) {
      events.push(jobEvent(this.host, job!, "thread_replaced", now, { from: job!.thread_id, to: after.thread_id }));
    }
    if (update.runId !== undefined && update.runId !== job!.run_id) {
      events.push(jobEvent(this.host, job!, "run_created", now, { threadId: after.thread_id, runId: after.run_id }));
    }
    if (update.rejoined) events.push(jobEvent(this.host, job!, "rejoined", now, { runId: after.run_id }));
    store.update(job!, change, ...events);
    // The run this report names closed the circuit: the jobs held back by the outage go now.
    return { ok: true, data: null, messages: circuitWasOpen ? this.dispatcher.dispatchReady(now) : [] };
  }

  /**
   * The attempt's run succeeded. `kept` is where its result is (results.ts): in the row, in the
   * bucket (written before this transaction), or nowhere for one past the limit; a result's size
   * never fails the job.
   */
  complete(jobId: string, attempt: number, kept: KeptResult, now: number): Change<{ state: JobState }, ReportRefusal> {
    const job = this.host.store.get(jobId);
    const refusal = refuseReport(job, jobId, attempt, "running");
    if (refusal) return refusal;
    const durationMs = now - (job!.attempt_started_at_ms ?? now);
    this.transitions.complete(job!, kept, now, {}, durationMs, this.transitions.langGraphAnswered(job!, now));
    return { ok: true, data: { state: "completed" }, messages: this.dispatcher.dispatchReady(now) };
  }

  /** The attempt's run stopped at the graph's `interrupt()`: the job waits for a resume, its slot freed. */
  interrupted(jobId: string, attempt: number, interrupts: PendingInterrupt[], now: number): Change<{ state: JobState }, ReportRefusal> {
    const job = this.host.store.get(jobId);
    const refusal = refuseReport(job, jobId, attempt, "running");
    if (refusal) return refusal;
    this.transitions.interrupt(job!, interrupts, now, this.transitions.langGraphAnswered(job!, now));
    return { ok: true, data: { state: "interrupted" }, messages: this.dispatcher.dispatchReady(now) };
  }

  /**
   * A failed attempt: retried after a backoff while retries remain and the error allows it. One
   * that found LangGraph unreachable goes back to the queue as it was, and opens the circuit.
   */
  fail(jobId: string, attempt: number, failure: AttemptFailure, now: number): Change<{ state: JobState }, ReportRefusal> {
    const job = this.host.store.get(jobId);
    const refusal = refuseReport(job, jobId, attempt, "running");
    if (refusal) return refusal;
    const answered = failure.unreachable || failure.ours ? {} : this.transitions.langGraphAnswered(job!, now);
    const state = this.transitions.failAttempt(job!, failure, now, answered);
    return { ok: true, data: { state }, messages: this.dispatcher.dispatchReady(now) };
  }

  /**
   * The Queue gave up delivering this attempt. If no delivery reached the coordinator (it was
   * away), that is not the job's fault: it stalls, back to the queue unspent. If deliveries were
   * claimed and the consumer kept failing on them, the attempt failed, and says how many times.
   */
  deadLetter(jobId: string, attempt: number, now: number): Change<{ state: JobState }, "NOT_CURRENT"> {
    const job = this.host.store.get(jobId);
    if (!job || !holdsSlot(job.state) || job.attempt !== attempt) {
      return { ok: false, code: "NOT_CURRENT", message: `attempt ${attempt} of job ${jobId} is not current` };
    }
    const state = job.state === "dispatched"
      ? this.transitions.stall(job, `no delivery of attempt ${attempt} reached the coordinator before the Queue gave up on it`, now)
      : this.transitions.failAttempt(job, {
        error: `the consumer failed on all ${job.deliveries} deliveries of attempt ${attempt} that reached the coordinator`, retryable: true,
      }, now);
    return { ok: true, data: { state }, messages: this.dispatcher.dispatchReady(now) };
  }

  /**
   * The sweep found that a job's run succeeded while nobody listened: record its result. Its
   * process time is the run's own (`runMs`, from LangGraph), not the time since the attempt
   * started, which may include a backoff the job waited out after a failed report.
   */
  recordFinishedRun(jobId: string, attempt: number, kept: KeptResult, runMs: number, now: number): Change<null, "NOT_CURRENT"> {
    const job = this.host.store.get(jobId);
    const refusal = refuseFinishedRun(job, jobId, attempt);
    if (refusal) return refusal;
    this.transitions.complete(job!, kept, now, { reconciled: true }, runMs, this.transitions.langGraphAnswered(job!, now));
    return { ok: true, data: null, messages: this.dispatcher.dispatchReady(now) };
  }
}

/** Why a report for `attempt` must be refused, if it must: the job has to be `expected` under that attempt. */
export function refuseReport(job: JobRow | null, jobId: string, attempt: number, expected: "dispatched" | "running"): Failure<ReportRefusal> | null {
  if (!job) return notFound(jobId);
  if (job.state === "cancelled") return { ok: false, code: "JOB_CANCELLED", message: `job ${jobId} was cancelled` };
  if (isTerminal(job.state)) return { ok: false, code: "JOB_ENDED", message: `job ${jobId} has already ${job.state}` };
  if (!holdsSlot(job.state) || job.attempt !== attempt) {
    return { ok: false, code: "STALE_ATTEMPT", message: `attempt ${attempt} of job ${jobId} is not current (current: ${job.attempt}, ${job.state})` };
  }
  if (job.state !== expected) return { ok: false, code: "STALE_ATTEMPT", message: `attempt ${attempt} of job ${jobId} was never claimed` };
  return null;
}

/** Why the sweep's finding for `attempt` must be refused, if it must: that attempt must be running or waiting to retry. */
export function refuseFinishedRun(job: JobRow | null, jobId: string, attempt: number): Failure<"NOT_CURRENT"> | null {
  if (job && job.attempt === attempt && (job.state === "running" || job.state === "delayed")) return null;
  return { ok: false, code: "NOT_CURRENT", message: `attempt ${attempt} of job ${jobId} is not running or waiting to retry` };
}

export const notFound = (jobId: string): Failure<"JOB_NOT_FOUND"> => ({
  ok: false, code: "JOB_NOT_FOUND", message: `job ${jobId} not found (unknown id, or its record expired)`,
});
