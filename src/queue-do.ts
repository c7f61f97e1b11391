/**
 * QueueCoordinator: one Durable Object per queue name, the only writer of job state.
 *
 * Every change runs inside one `transactionSync`, so concurrent requests can never over-admit
 * past capacity or over-dispatch past concurrency. A dispatched job is `dispatched` until a
 * consumer claims it, then `running`; both hold a slot. Consumers and run followers call back
 * with the attempt number they were given; a report for any other attempt is refused, so a
 * duplicate or late Queue delivery never runs a job twice or overwrites a newer attempt. One
 * alarm serves every timer.
 */
import { DurableObject } from "cloudflare:workers";
import { queueConfig, type AppEnv, type QueueConfig } from "./config";
import { answered, answeredSince, dispatchable, probeDue, tripped, type Circuit } from "./coordinator/circuit";
import { dispatchRank, JobStore, type JobRow, type JobUpdate } from "./coordinator/job-store";
import type { JobInput, ListRequest } from "./http/api-schema";
import {
  backoffDelayMs, canonicalJson, DEFAULT_PROCESS_SECONDS, estimateCompletionMs, estimateWaitSeconds,
  isTerminal, PRIORITY_SCORES, publicStatus, threadIdFor, toIso, type JobState, type JobStatus, type JobType, type JsonValue,
} from "./jobs";
import type { StopReason } from "./langgraph";
import { log } from "./log";
import type { FollowTask } from "./run-follower";

/** Time a dispatched job has to be claimed by a consumer before it goes back to the queue. */
export const DISPATCH_LEASE_MS = 60_000;
/** A claimed job's lease; its run follower renews it every HEARTBEAT_MS. */
export const LEASE_MS = 30_000;
export const HEARTBEAT_MS = 10_000;
/** Results larger than this are refused: a DO SQLite row holds at most 2 MB. */
export const MAX_RESULT_BYTES = 1024 * 1024;
/** Cancelled or failed jobs whose LangGraph run the sweep makes sure is stopped (it runs every minute). */
export const RECENTLY_STOPPED_MS = 3 * 60_000;

export interface JobMessage {
  queueName: string;
  jobId: string;
  attempt: number;
}

/**
 * What a consumer needs to start an attempt it has claimed, and its follower to follow it. The
 * payload travels as JSON text (`payloadJson`): RPC types cannot carry an arbitrary JSON object
 * type. `threadId` is the job's LangGraph thread, the same for every attempt; `firstRun` says no
 * earlier attempt was ever claimed, so the thread has no run yet; `afterOutage` that an earlier
 * attempt found LangGraph unreachable, so a run it left "running" may be one LangGraph lost.
 */
export type ClaimedJob = Omit<FollowTask, "runId"> & { retryCount: number; afterOutage: boolean };

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
 * Why an attempt failed. `unreachable`: LangGraph gave no answer at all (refused, reset, timed
 * out), which is not the job's fault: it goes back to the queue without spending a retry.
 */
export interface AttemptFailure {
  error: string;
  retryable: boolean;
  unreachable?: boolean;
}

export type Failure<Code extends string> = { ok: false; code: Code; message: string };
export type Result<T, Code extends string> = { ok: true; data: T } | Failure<Code>;

/**
 * Why a consumer's report was refused; in each case it must stop working on the attempt. The
 * job is over (its LangGraph run should stop too) unless another attempt has taken it on.
 */
export type ReportRefusal = "JOB_NOT_FOUND" | "JOB_CANCELLED" | "JOB_ENDED" | "STALE_ATTEMPT" | "DUPLICATE_DELIVERY";

/** A newer attempt may be following the same LangGraph run: only a job that is over stops it. */
export const jobIsOver = (refusal: ReportRefusal): boolean => refusal !== "STALE_ATTEMPT" && refusal !== "DUPLICATE_DELIVERY";

export interface EnqueueData {
  jobId: string;
  status: JobStatus;
  priority: string;
  estimatedWaitTime: number;
  queuePosition: number;
}

export type EnqueueResult =
  | { ok: true; created: boolean; data: EnqueueData }
  | (Failure<"QUEUE_FULL"> & { retryAfterSeconds: number })
  | Failure<"JOB_ID_CONFLICT">;

export class QueueCoordinator extends DurableObject<AppEnv> {
  private readonly store: JobStore;
  private readonly config: QueueConfig;

  constructor(ctx: DurableObjectState, env: AppEnv) {
    super(ctx, env);
    this.store = new JobStore(ctx.storage.sql);
    this.config = queueConfig(env);
    void ctx.blockConcurrencyWhile(async () => this.store.migrate());
  }

  private get queueName(): string {
    return this.ctx.id.name ?? this.ctx.id.toString();
  }

  // ─── Client actions ────────────────────────────────────────────────────────────────────────

  async enqueue(
    job: JobInput & { id: string },
    now = Date.now(),
  ): Promise<EnqueueResult> {
    const bodyHash = await sha256(canonicalJson({ type: job.type, payload: job.payload }));
    const threadId = await threadIdFor(this.queueName, job.id, now);
    const outcome = this.ctx.storage.transactionSync((): EnqueueResult => {
      const existing = this.store.get(job.id);
      if (existing) {
        if (existing.body_hash !== bodyHash) {
          return conflict(job.id);
        }
        return { ok: true, created: false, data: this.enqueueView(existing) };
      }
      const counters = this.store.counters();
      const active = counters.queued + counters.delayed + counters.dispatched + counters.running;
      if (active >= this.config.capacity) {
        const retryAfterSeconds = Math.max(1, Math.ceil(this.avgProcessSeconds() / this.config.concurrency));
        return {
          ok: false,
          code: "QUEUE_FULL",
          message: `queue ${this.queueName} is full (${active} of ${this.config.capacity} active jobs)`,
          retryAfterSeconds,
        };
      }
      const row = this.store.insert({
        id: job.id, type: job.type, payload: JSON.stringify(job.payload), body_hash: bodyHash,
        priority: job.priority, score: PRIORITY_SCORES[job.priority], state: "queued", attempt: 0,
        retry_count: 0, max_retries: job.maxRetries, progress: 0, current_step: null,
        thread_id: threadId, run_id: null, result: null, error: null, enqueued_at_ms: now, started_at_ms: null,
        attempt_started_at_ms: null, ended_at_ms: null, next_retry_at_ms: null, lease_until_ms: null,
        expires_at_ms: null, outage_since_ms: null,
      });
      this.record(row, "queued", now, { priority: row.priority, type: row.type });
      return { ok: true, created: true, data: this.enqueueView(row) };
    });
    if (outcome.ok && outcome.created) await this.dispatchReadyJobs(now);
    if (!outcome.ok) log({ event: "enqueue_refused", queue: this.queueName, jobId: job.id, code: outcome.code }, "warn");
    return outcome;
  }

  status(jobId: string, now = Date.now()): Result<ReturnType<QueueCoordinator["statusView"]>, "JOB_NOT_FOUND"> {
    const job = this.store.get(jobId);
    return job ? { ok: true, data: this.statusView(job, now) } : notFound(jobId);
  }

  stats() {
    const c = this.store.counters();
    const ended = c.completedTotal + c.failedTotal;
    return {
      queueName: this.queueName,
      totalJobs: c.queued + c.delayed + c.dispatched + c.running + c.completed + c.failed + c.cancelled,
      queuedJobs: c.queued + c.delayed + c.dispatched,
      runningJobs: c.running,
      completedJobs: c.completed,
      failedJobs: c.failed,
      cancelledJobs: c.cancelled,
      averageProcessTime: c.completedTotal > 0 ? Math.round(c.processMsTotal / c.completedTotal / 1000) : 0,
      successRate: ended > 0 ? Math.round((c.completedTotal / ended) * 1000) / 1000 : null,
      capacity: this.config.capacity,
      concurrency: this.config.concurrency,
      langgraph: circuitView(this.store.circuit()),
    };
  }

  async cancel(
    jobId: string,
    now = Date.now(),
  ): Promise<Result<{ jobId: string; status: "cancelled"; previousStatus: JobStatus }, "JOB_NOT_FOUND" | "JOB_NOT_CANCELLABLE">> {
    const outcome = this.ctx.storage.transactionSync(() => {
      const job = this.store.get(jobId);
      if (!job) return notFound(jobId);
      const previousStatus = publicStatus(job.state);
      if (job.state === "cancelled") return { ok: true as const, data: { jobId, status: "cancelled" as const, previousStatus } };
      if (isTerminal(job.state)) {
        return {
          ok: false as const,
          code: "JOB_NOT_CANCELLABLE" as const,
          message: `job ${jobId} has already ${job.state === "completed" ? "completed" : "failed"}`,
        };
      }
      this.end(job, "cancelled", now, { previousStatus });
      const heldSlot = job.state === "dispatched" || job.state === "running";
      return { ok: true as const, data: { jobId, status: "cancelled" as const, previousStatus }, stopRun: job.state === "running" ? job : null, heldSlot };
    });
    if (!outcome.ok) return outcome;
    if (outcome.heldSlot) await this.dispatchReadyJobs(now);
    else this.scheduleAlarm();
    if (outcome.stopRun) await this.stopFollower(outcome.stopRun, { code: "JOB_CANCELLED", jobOver: true });
    return { ok: true, data: outcome.data };
  }

  list(request: Pick<ListRequest, "status" | "limit" | "cursor">) {
    const cursor = request.cursor?.split(":").map(Number) ?? null;
    const validCursor = cursor?.every(Number.isSafeInteger) ? cursor : null;
    const queued = request.status === "queued";
    const rows = queued
      ? this.store.listQueued(request.limit, validCursor?.length === 2 ? [validCursor[0]!, validCursor[1]!] : null)
      : this.store.listNewest(request.status ?? null, request.limit, validCursor?.[0] ?? null);
    const last = rows.length === request.limit ? rows.at(-1) : undefined;
    return {
      jobs: rows.map((row) => this.summaryView(row)),
      nextCursor: last ? (queued ? `${dispatchRank(last)}:${last.seq}` : `${last.seq}`) : null,
    };
  }

  history(jobId: string): Result<{ jobId: string; events: { at: string; event: string; attempt: number; detail: JsonValue }[] }, "JOB_NOT_FOUND"> {
    if (!this.store.get(jobId)) return notFound(jobId);
    const events = this.store.events(jobId).map((e) => ({
      at: toIso(e.at_ms)!,
      event: e.event,
      attempt: e.attempt,
      detail: e.detail === null ? null : (JSON.parse(e.detail) as JsonValue),
    }));
    return { ok: true, data: { jobId, events } };
  }

  // ─── Consumer reports ──────────────────────────────────────────────────────────────────────

  /** A consumer takes on an attempt it was sent. Only the first delivery of the current attempt wins. */
  claim(jobId: string, attempt: number, now = Date.now()): Result<ClaimedJob, ReportRefusal> {
    return this.ctx.storage.transactionSync(() => {
      const job = this.store.get(jobId);
      const refusal = this.refuseReport(job, jobId, attempt, "dispatched");
      if (refusal) return refusal;
      const claimed = this.store.update(job!, {
        state: "running", started_at_ms: job!.started_at_ms ?? now, attempt_started_at_ms: now, lease_until_ms: now + LEASE_MS,
      });
      this.record(claimed, "started", now, { retryCount: claimed.retry_count });
      this.scheduleAlarm();
      return {
        ok: true,
        data: {
          jobId, queueName: this.queueName, type: claimed.type, payloadJson: claimed.payload, attempt,
          retryCount: claimed.retry_count, threadId: claimed.thread_id!, firstRun: job!.started_at_ms === null,
          afterOutage: claimed.outage_since_ms !== null,
        },
      };
    });
  }

  /** Progress, LangGraph ids, or a bare heartbeat: each renews the lease. */
  async report(jobId: string, attempt: number, update: ProgressReport, now = Date.now()): Promise<Result<null, ReportRefusal>> {
    const circuitWasOpen = update.runId !== undefined && this.store.circuit().state !== "closed";
    const outcome = this.ctx.storage.transactionSync((): Result<null, ReportRefusal> => {
      const job = this.store.get(jobId);
      const refusal = this.refuseReport(job, jobId, attempt, "running");
      if (refusal) return refusal;
      const change: JobUpdate = { lease_until_ms: now + LEASE_MS };
      if (update.progress !== undefined) change.progress = Math.max(0, Math.min(100, Math.round(update.progress)));
      if (update.currentStep !== undefined) change.current_step = update.currentStep;
      if (update.runId !== undefined) change.run_id = update.runId;
      if (update.threadId !== undefined) change.thread_id = update.threadId;
      let updated = this.store.update(job!, change);
      // A run was created: LangGraph answers.
      if (update.runId !== undefined) updated = this.langGraphAnswered(updated, now);
      if (update.currentStep !== undefined && update.currentStep !== job!.current_step) {
        this.record(updated, "progress", now, { progress: updated.progress, step: updated.current_step });
      }
      if (update.threadId !== undefined && update.threadId !== job!.thread_id) {
        this.record(updated, "thread_replaced", now, { from: job!.thread_id, to: updated.thread_id });
      }
      if (update.runId !== undefined && update.runId !== job!.run_id) {
        this.record(updated, "run_created", now, { threadId: updated.thread_id, runId: updated.run_id });
      }
      if (update.rejoined) this.record(updated, "rejoined", now, { runId: updated.run_id });
      this.scheduleAlarm();
      return { ok: true, data: null };
    });
    // The run this report names closed the circuit: the jobs held back by the outage go now.
    if (outcome.ok && circuitWasOpen) await this.dispatchReadyJobs(now);
    return outcome;
  }

  async complete(jobId: string, attempt: number, result: unknown, now = Date.now()): Promise<Result<{ state: JobState }, ReportRefusal>> {
    const resultJson = JSON.stringify(result ?? null);
    const tooLarge = resultTooLarge(resultJson);
    if (tooLarge) return this.fail(jobId, attempt, { error: tooLarge, retryable: false }, now);
    const outcome = this.ctx.storage.transactionSync(() => {
      const job = this.store.get(jobId);
      const refusal = this.refuseReport(job, jobId, attempt, "running");
      if (refusal) return refusal;
      this.finish(this.langGraphAnswered(job!, now), resultJson, now, {});
      return { ok: true as const, data: { state: "completed" as const } };
    });
    if (outcome.ok) await this.dispatchReadyJobs(now);
    return outcome;
  }

  /**
   * A failed attempt: retried after a backoff while retries remain and the error allows it. One
   * that found LangGraph unreachable goes back to the queue as it was, and opens the circuit.
   */
  async fail(jobId: string, attempt: number, failure: AttemptFailure, now = Date.now()): Promise<Result<{ state: JobState }, ReportRefusal>> {
    const outcome = this.ctx.storage.transactionSync(() => {
      const job = this.store.get(jobId);
      const refusal = this.refuseReport(job, jobId, attempt, "running");
      if (refusal) return refusal;
      const state = this.failAttempt(failure.unreachable ? job! : this.langGraphAnswered(job!, now), failure, now);
      return { ok: true as const, data: { state } };
    });
    if (outcome.ok) await this.dispatchReadyJobs(now);
    return outcome;
  }

  /** The dead-letter consumer: the Queue gave up delivering this attempt. */
  async deadLetter(jobId: string, attempt: number, deliveries: number, now = Date.now()): Promise<boolean> {
    const failed = this.ctx.storage.transactionSync(() => {
      const job = this.store.get(jobId);
      if (!job || (job.state !== "dispatched" && job.state !== "running") || job.attempt !== attempt) return false;
      const error = `delivery failed: the consumer crashed on all ${deliveries} deliveries of attempt ${attempt}`;
      this.end(job, "failed", now, { error }, { error });
      this.store.bump("failed_total", 1);
      return true;
    });
    if (failed) await this.dispatchReadyJobs(now);
    return failed;
  }

  /**
   * Runs the cron sweep should ask LangGraph about: those of running or retrying jobs (a run
   * may have finished while nobody listened), and of jobs cancelled or failed in the last few
   * minutes (their run must not go on: a consumer may not have been there to stop it).
   */
  runsToCheck(now = Date.now()): { unfinished: RunToCheck[]; stopped: RunToCheck[] } {
    const toCheck = (job: JobRow): RunToCheck => ({ jobId: job.id, attempt: job.attempt, threadId: job.thread_id!, runId: job.run_id! });
    return {
      unfinished: this.store.withRuns(["running", "delayed"], 0).map(toCheck),
      stopped: this.store.withRuns(["cancelled", "failed"], now - RECENTLY_STOPPED_MS).map(toCheck),
    };
  }

  /**
   * The sweep found that a job's run succeeded while nobody listened: record its result. Its
   * process time is the run's own (`runMs`, from LangGraph), not the time since the attempt
   * started, which may include a backoff the job waited out after its lease expired.
   */
  async recordFinishedRun(jobId: string, attempt: number, result: unknown, runMs: number, now = Date.now()): Promise<boolean> {
    const resultJson = JSON.stringify(result ?? null);
    const tooLarge = resultTooLarge(resultJson);
    const recorded = this.ctx.storage.transactionSync(() => {
      const job = this.store.get(jobId);
      if (!job || job.attempt !== attempt || (job.state !== "running" && job.state !== "delayed")) return false;
      const answeredJob = this.langGraphAnswered(job, now);
      if (tooLarge) this.failAttempt(answeredJob, { error: tooLarge, retryable: false }, now);
      else this.finish(answeredJob, resultJson, now, { reconciled: true }, runMs);
      return true;
    });
    if (recorded) await this.dispatchReadyJobs(now);
    return recorded;
  }

  // ─── Timers ────────────────────────────────────────────────────────────────────────────────

  override async alarm(): Promise<void> {
    await this.runTimers(Date.now());
  }

  /**
   * Everything that is due at `now`: retries whose backoff has passed, leases that expired,
   * records past their retention. Idempotent: running it twice at the same `now` changes nothing.
   */
  async runTimers(now = Date.now()): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      this.setCircuit(probeDue(this.store.circuit(), now), now);
      for (const job of this.store.dueRetries(now)) {
        this.store.update(job, { state: "queued", next_retry_at_ms: null });
      }
      for (const job of this.store.expiredLeases(now)) {
        if (job.state === "running") {
          const error = `lease expired: no heartbeat from the run follower of attempt ${job.attempt} for ${LEASE_MS / 1000}s`;
          this.failAttempt(job, { error, retryable: true }, now);
        } else {
          // Sent but never claimed (the message was lost, or sending failed): not the job's fault.
          this.store.update(job, { state: "queued", lease_until_ms: null });
          this.record(job, "dispatch_expired", now, {});
        }
      }
      for (const job of this.store.expiredRecords(now)) {
        this.store.delete(job);
        log({ event: "expired", queue: this.queueName, jobId: job.id, state: job.state });
      }
    });
    await this.dispatchReadyJobs(now);
  }

  /** The cron sweep: due timers, jobs past JOB_TIMEOUT_SECONDS, and the alarm re-armed. */
  async sweep(now = Date.now()): Promise<{ timedOut: number }> {
    const timedOut = this.ctx.storage.transactionSync(() => {
      const overdue = this.store.runningSince(now - this.config.jobTimeoutMs);
      for (const job of overdue) {
        const error = `timed out: running for more than ${this.config.jobTimeoutMs / 1000}s`;
        this.failAttempt(job, { error, retryable: false }, now);
      }
      return overdue.length;
    });
    await this.runTimers(now);
    return { timedOut };
  }

  /** The queue's LangGraph circuit, for /health. */
  circuit() {
    return circuitView(this.store.circuit());
  }

  /** SQLite rows read and written by this instance so far (benchmarks, debugging). */
  storageIo(): { rowsRead: number; rowsWritten: number } {
    return { ...this.store.io };
  }

  // ─── Internals ─────────────────────────────────────────────────────────────────────────────

  /**
   * Marks the best ready jobs dispatched, as many as free slots (and the LangGraph circuit)
   * allow, then sends their ids to the Queue.
   */
  private async dispatchReadyJobs(now: number): Promise<void> {
    const messages = this.ctx.storage.transactionSync(() => {
      const circuit = this.store.circuit();
      const allowed = dispatchable(circuit, this.config.concurrency - this.busySlots(), circuit.probe !== null && this.inFlight(circuit.probe));
      if (allowed <= 0) return [];
      const ready = circuit.state === "half_open" ? this.store.nextProbe() : this.store.nextReady(allowed);
      const sent = ready.map((job) => {
        const dispatched = this.store.update(job, {
          state: "dispatched", attempt: job.attempt + 1, attempt_started_at_ms: null, lease_until_ms: now + DISPATCH_LEASE_MS,
        });
        this.record(dispatched, "dispatched", now, circuit.state === "half_open" ? { probe: true } : {});
        return { queueName: this.queueName, jobId: job.id, attempt: dispatched.attempt };
      });
      if (circuit.state === "half_open" && sent[0]) this.store.saveCircuit({ ...circuit, probe: { jobId: sent[0].jobId, attempt: sent[0].attempt } });
      return sent;
    });
    this.scheduleAlarm();
    await this.send(messages);
  }

  /** Sends in batches of at most 100 messages, the Queues limit for one sendBatch. */
  private async send(messages: JobMessage[]): Promise<void> {
    for (let start = 0; start < messages.length; start += 100) {
      const batch = messages.slice(start, start + 100);
      try {
        await this.env.JOB_QUEUE.sendBatch(batch.map((body) => ({ body })));
      } catch (error) {
        // The dispatch leases expire and the alarm puts these jobs back in the queue.
        log({ event: "dispatch_send_failed", queue: this.queueName, jobs: batch.length, error: String(error) }, "error");
      }
    }
  }

  /** Completes a job; its run time feeds the queue's and the job type's averages. */
  private finish(job: JobRow, resultJson: string, now: number, detail: Record<string, unknown>, durationMs = now - (job.attempt_started_at_ms ?? now)): void {
    this.store.bump("completed_total", 1);
    this.store.bump("process_ms_total", durationMs);
    this.store.bump(`completed:${job.type}`, 1);
    this.store.bump(`process_ms:${job.type}`, durationMs);
    this.end(job, "completed", now, { durationMs, ...detail }, { progress: 100, result: resultJson, error: null });
  }

  /**
   * Puts a job whose attempt found LangGraph unreachable back in the queue, schedules a retry,
   * or fails the job for good; returns the state it is left in. Call inside a transaction.
   */
  private failAttempt(job: JobRow, failure: AttemptFailure, now: number): JobState {
    if (failure.unreachable && answeredSince(this.store.circuit(), job.outage_since_ms)) {
      failure = { error: `${failure.error} (LangGraph answered other jobs meanwhile)`, retryable: true };
    } else if (failure.unreachable) {
      this.setCircuit(tripped(this.store.circuit(), now), now);
      const outageSinceMs = job.outage_since_ms ?? now;
      if (now - outageSinceMs < this.config.jobTimeoutMs) {
        const back = this.store.update(job, { state: "queued", lease_until_ms: null, error: failure.error, outage_since_ms: outageSinceMs });
        this.record(back, "outage", now, { error: failure.error, outageSince: toIso(outageSinceMs) });
        return "queued";
      }
      failure = { error: `LangGraph unreachable for more than ${this.config.jobTimeoutMs / 1000}s: ${failure.error}`, retryable: false };
    }
    if (failure.retryable && job.retry_count < job.max_retries) {
      const retryNumber = job.retry_count + 1;
      const nextRetryAtMs = now + backoffDelayMs(retryNumber, { baseMs: this.config.retryBaseMs, maxMs: this.config.retryMaxMs });
      const delayed = this.store.update(job, {
        state: "delayed", retry_count: retryNumber, next_retry_at_ms: nextRetryAtMs, lease_until_ms: null, error: failure.error,
      });
      this.record(delayed, "retry_scheduled", now, { error: failure.error, retryCount: retryNumber, nextRetryAt: toIso(nextRetryAtMs) });
      return "delayed";
    }
    this.store.bump("failed_total", 1);
    this.end(job, "failed", now, { error: failure.error, retriesExhausted: failure.retryable }, { error: failure.error });
    return "failed";
  }

  /** Something an attempt did shows LangGraph answering: the job's outage, and the circuit's, are over. */
  private langGraphAnswered(job: JobRow, now: number): JobRow {
    this.setCircuit(answered(this.store.circuit(), now), now);
    return job.outage_since_ms === null ? job : this.store.update(job, { outage_since_ms: null });
  }

  /** Saves a changed circuit and says so in the log. Call inside a transaction. */
  private setCircuit(next: Circuit, now: number): void {
    const current = this.store.circuit();
    if (JSON.stringify(next) === JSON.stringify(current)) return;
    this.store.saveCircuit(next);
    if (next.state !== current.state) {
      log({ event: `circuit_${next.state}`, queue: this.queueName, openedAt: toIso(next.openedAtMs), nextProbeAt: toIso(next.probeAtMs), at: toIso(now) }, next.state === "closed" ? "info" : "warn");
    }
  }

  /** Whether the attempt is still dispatched or running. */
  private inFlight(attempt: { jobId: string; attempt: number }): boolean {
    const job = this.store.get(attempt.jobId);
    return job !== null && (job.state === "dispatched" || job.state === "running") && job.attempt === attempt.attempt;
  }

  /** Moves a job to a terminal state; its record expires RESULT_TTL_SECONDS later. */
  private end(job: JobRow, state: "completed" | "failed" | "cancelled", now: number, detail: Record<string, unknown>, update: JobUpdate = {}): void {
    const ended = this.store.update(job, {
      ...update, state, ended_at_ms: now, expires_at_ms: now + this.config.resultTtlMs,
      lease_until_ms: null, next_retry_at_ms: null,
    });
    this.record(ended, state, now, detail);
  }

  /** Why a report for `attempt` must be refused, if it must: the job has to be `expected` under that attempt. */
  private refuseReport(job: JobRow | null, jobId: string, attempt: number, expected: "dispatched" | "running"): Failure<ReportRefusal> | null {
    if (!job) return notFound(jobId);
    if (job.state === "cancelled") return { ok: false, code: "JOB_CANCELLED", message: `job ${jobId} was cancelled` };
    if (isTerminal(job.state)) return { ok: false, code: "JOB_ENDED", message: `job ${jobId} has already ${job.state}` };
    const current = job.state === "dispatched" || job.state === "running";
    if (!current || job.attempt !== attempt) {
      return { ok: false, code: "STALE_ATTEMPT", message: `attempt ${attempt} of job ${jobId} is not current (current: ${job.attempt}, ${job.state})` };
    }
    if (job.state !== expected) {
      return expected === "running"
        ? { ok: false, code: "STALE_ATTEMPT", message: `attempt ${attempt} of job ${jobId} was never claimed` }
        : { ok: false, code: "DUPLICATE_DELIVERY", message: `attempt ${attempt} of job ${jobId} is already claimed` };
    }
    return null;
  }

  /** Tells the job's run follower to stop now; if it cannot be reached, its next report is refused. */
  private async stopFollower(job: JobRow, reason: StopReason): Promise<void> {
    try {
      await this.env.RUN_FOLLOWER.getByName(job.thread_id!).stop(job.attempt, reason);
    } catch (error) {
      log({ event: "follower_stop_failed", queue: this.queueName, jobId: job.id, attempt: job.attempt, error: String(error) }, "warn");
    }
  }

  /** Appends to the job's history and writes the matching log line. */
  private record(job: JobRow, event: string, now: number, detail: Record<string, unknown>): void {
    this.store.addEvent(job.id, { at_ms: now, event, attempt: job.attempt, detail: JSON.stringify(detail) });
    log({ event, queue: this.queueName, jobId: job.id, attempt: job.attempt, ...detail });
  }

  /** Sets the one alarm to the earliest due timer (a retry, a lease, a record, the circuit's probe), or clears it. */
  private scheduleAlarm(): void {
    const timers = [this.store.nextTimerMs(), this.store.circuit().probeAtMs].filter((at): at is number => at !== null);
    const next = timers.length > 0 ? Math.min(...timers) : null;
    if (next === null) void this.ctx.storage.deleteAlarm();
    else void this.ctx.storage.setAlarm(next);
  }

  /** Slots taken: dispatched jobs waiting for a consumer, and running ones. */
  private busySlots(): number {
    const counters = this.store.counters();
    return counters.dispatched + counters.running;
  }

  /** The average run time of a job of `type` (or of any job), once there is one to go by. */
  private avgProcessSeconds(type?: JobType): number {
    const ofType = type ? this.store.typeAverageMs(type) : null;
    if (ofType !== null) return ofType / 1000;
    const c = this.store.counters();
    return c.completedTotal > 0 ? c.processMsTotal / c.completedTotal / 1000 : DEFAULT_PROCESS_SECONDS;
  }

  private enqueueView(job: JobRow): EnqueueData {
    const waiting = this.waitingView(job);
    return {
      jobId: job.id,
      status: publicStatus(job.state),
      priority: job.priority,
      estimatedWaitTime: waiting?.estimatedWaitTime ?? 0,
      queuePosition: waiting?.queuePosition ?? 0,
    };
  }

  private waitingView(job: JobRow): { queuePosition: number; estimatedWaitTime: number } | null {
    // Dispatched: it holds a slot and leaves the queue as soon as a consumer takes it on.
    if (job.state === "dispatched") return { queuePosition: 0, estimatedWaitTime: 0 };
    if (job.state !== "queued") return null;
    const jobsAhead = this.store.countAhead(job);
    return {
      queuePosition: jobsAhead + 1,
      estimatedWaitTime: estimateWaitSeconds({
        jobsAhead, running: this.busySlots(), concurrency: this.config.concurrency,
        avgProcessSeconds: this.avgProcessSeconds(),
      }),
    };
  }

  private statusView(job: JobRow, now: number) {
    const running = job.state === "running";
    return {
      jobId: job.id,
      status: publicStatus(job.state),
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
    };
  }

  private summaryView(job: JobRow) {
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
    };
  }
}

function resultTooLarge(resultJson: string): string | null {
  const bytes = new TextEncoder().encode(resultJson).byteLength;
  return bytes > MAX_RESULT_BYTES ? `the result is ${bytes} bytes, over the ${MAX_RESULT_BYTES}-byte limit` : null;
}

const notFound = (jobId: string): Failure<"JOB_NOT_FOUND"> => ({
  ok: false, code: "JOB_NOT_FOUND", message: `job ${jobId} not found (unknown id, or its record expired)`,
});

const conflict = (jobId: string): Failure<"JOB_ID_CONFLICT"> => ({
  ok: false, code: "JOB_ID_CONFLICT", message: `job ${jobId} already exists with a different type or payload`,
});

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export const coordinatorFor = (env: AppEnv, queueName: string): DurableObjectStub<QueueCoordinator> =>
  env.QUEUE_COORDINATOR.getByName(queueName) as DurableObjectStub<QueueCoordinator>;

function circuitView(circuit: Circuit) {
  return { circuit: circuit.state, openedAt: toIso(circuit.openedAtMs), nextProbeAt: toIso(circuit.probeAtMs) };
}
