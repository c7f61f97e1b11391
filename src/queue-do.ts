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
import { dispatchRank, JobStore, type JobBody, type JobEvent, type JobRow, type JobUpdate } from "./coordinator/job-store";
import {
  DISPATCH_LEASE_MS, LEASE_MS, MAX_RESULT_BYTES, RECENTLY_STOPPED_MS, type AttemptFailure, type ClaimedJob,
  type EnqueueBatchResult, type EnqueueResult, type Failure, type JobMessage, type ProgressReport, type ReportRefusal, type Result, type RunToCheck,
} from "./coordinator/protocol";
import { circuitView, JobViews } from "./coordinator/views";
import type { JobInput, ListRequest } from "./http/api-schema";
import {
  backoffDelayMs, canonicalJson, isTerminal, PRIORITY_SCORES, publicStatus, toIso, type JobState, type JobStatus, type JsonValue,
} from "./jobs";
import type { StopReason } from "./langgraph";
import { log } from "./log";

export * from "./coordinator/protocol";

export class QueueCoordinator extends DurableObject<AppEnv> {
  private readonly store: JobStore;
  private readonly config: QueueConfig;
  private readonly views: JobViews;
  /** The alarm as storage has it: read when the object starts, then kept in step. */
  private alarmAtMs: number | null = null;
  private alarmWrites = 0;
  /** Dispatched jobs waiting for the send in flight to finish, and that send. */
  private unsent: JobMessage[] = [];
  private sending: Promise<void> | null = null;
  private readonly sendTimeoutMs = SEND_TIMEOUT_MS;

  constructor(ctx: DurableObjectState, env: AppEnv) {
    super(ctx, env);
    this.store = new JobStore(ctx.storage);
    this.config = queueConfig(env);
    this.views = new JobViews(this.store, this.config);
    void ctx.blockConcurrencyWhile(async () => {
      this.store.migrate();
      this.alarmAtMs = await ctx.storage.getAlarm();
    });
  }

  private get queueName(): string {
    return this.ctx.id.name ?? this.ctx.id.toString();
  }

  // ─── Client actions ────────────────────────────────────────────────────────────────────────

  async enqueue(job: JobInput & { id: string }, now = Date.now()): Promise<EnqueueResult> {
    const outcome = await this.enqueueBatch([job], now);
    return outcome.ok ? { ok: true, ...outcome.data[0]! } : outcome;
  }

  /**
   * Enqueues up to a request's worth of jobs in one transaction, all or nothing: if any id is
   * taken by another body, or the new jobs do not all fit under capacity, nothing is written.
   * Each job is idempotent as a single enqueue is: one that exists with the same body is
   * answered as it stands (`created: false`).
   */
  async enqueueBatch(jobs: (JobInput & { id: string })[], now = Date.now()): Promise<EnqueueBatchResult> {
    const outcome = this.store.transaction((): EnqueueBatchResult & { messages?: JobMessage[] } => {
      // Bodies are compared only where an id is taken: a new job costs no hashing at all.
      const bodies = this.store.bodies(jobs.map((job) => job.id));
      const fresh = new Set<string>();
      for (const job of jobs) {
        const known = bodies.get(job.id);
        if (known === undefined) fresh.add(job.id);
        else if (!sameBody(known, job)) return conflict(job.id);
        bodies.set(job.id, { type: job.type, payload: job.payload });
      }
      const counters = this.store.counters();
      const active = counters.queued + counters.delayed + counters.dispatched + counters.running;
      if (fresh.size > 0 && active + fresh.size > this.config.capacity) {
        const retryAfterSeconds = Math.max(1, Math.ceil(this.views.avgProcessSeconds() / this.config.concurrency));
        const message = active >= this.config.capacity
          ? `queue ${this.queueName} is full (${active} of ${this.config.capacity} active jobs)`
          : `queue ${this.queueName} has room for ${this.config.capacity - active} more jobs, not ${fresh.size} (${active} of ${this.config.capacity} active)`;
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
          expires_at_ms: null, outage_since_ms: null,
        };
        inserted.set(job.id, this.store.insert(row, this.event(row, "queued", now, { priority: row.priority, type: row.type })));
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
        const view = this.views.enqueueView(created ?? this.store.get(job.id)!, created && newerInLane.get(job.id));
        return { created: created !== undefined, data: view };
      });
      return { ok: true, data, messages: newerInLane.size > 0 ? this.dispatchReady(now) : [] };
    });
    if (outcome.ok) {
      const { messages = [], ...answer } = outcome;
      await this.afterChange(messages);
      return answer;
    }
    log({ event: "enqueue_refused", queue: this.queueName, jobIds: jobs.map((job) => job.id).slice(0, 10), jobs: jobs.length, code: outcome.code }, "warn");
    return outcome;
  }

  status(jobId: string, now = Date.now()): Result<ReturnType<JobViews["statusView"]>, "JOB_NOT_FOUND"> {
    const job = this.store.get(jobId);
    return job ? { ok: true, data: this.views.statusView(job, now) } : notFound(jobId);
  }

  stats() {
    return this.views.stats(this.queueName);
  }

  async cancel(
    jobId: string,
    now = Date.now(),
  ): Promise<Result<{ jobId: string; status: "cancelled"; previousStatus: JobStatus }, "JOB_NOT_FOUND" | "JOB_NOT_CANCELLABLE">> {
    const outcome = this.store.transaction(() => {
      const job = this.store.get(jobId);
      if (!job) return notFound(jobId);
      const previousStatus = publicStatus(job.state);
      const data = { jobId, status: "cancelled" as const, previousStatus };
      if (job.state === "cancelled") return { ok: true as const, data, messages: [], stopRun: null };
      if (isTerminal(job.state)) {
        return {
          ok: false as const,
          code: "JOB_NOT_CANCELLABLE" as const,
          message: `job ${jobId} has already ${job.state === "completed" ? "completed" : "failed"}`,
        };
      }
      this.end(job, "cancelled", now, { previousStatus });
      const heldSlot = job.state === "dispatched" || job.state === "running";
      return { ok: true as const, data, messages: heldSlot ? this.dispatchReady(now) : [], stopRun: job.state === "running" ? job : null };
    });
    if (!outcome.ok) return outcome;
    await this.afterChange(outcome.messages);
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
      jobs: rows.map((row) => this.views.summaryView(row)),
      nextCursor: last ? (queued ? `${dispatchRank(last)}:${last.seq}` : `${last.seq}`) : null,
    };
  }

  history(jobId: string): Result<{ jobId: string; events: { at: string; event: string; attempt: number; detail: JsonValue }[] }, "JOB_NOT_FOUND"> {
    const events = this.store.events(jobId);
    if (!events) return notFound(jobId);
    return {
      ok: true,
      data: { jobId, events: events.map((e) => ({ at: toIso(e.at_ms)!, event: e.event, attempt: e.attempt, detail: e.detail as JsonValue })) },
    };
  }

  // ─── Consumer reports ──────────────────────────────────────────────────────────────────────

  /** A consumer takes on an attempt it was sent. Only the first delivery of the current attempt wins. */
  claim(jobId: string, attempt: number, now = Date.now()): Result<ClaimedJob, ReportRefusal> {
    return this.claimBatch([{ jobId, attempt }], now)[0]!;
  }

  /**
   * The claims of one Queue delivery of several messages, in one transaction and one request:
   * an answer for each, in order, as `claim` would give it.
   */
  claimBatch(attempts: { jobId: string; attempt: number }[], now = Date.now()): Result<ClaimedJob, ReportRefusal>[] {
    const outcomes = this.store.transaction(() => attempts.map(({ jobId, attempt }) => this.claimInTransaction(jobId, attempt, now)));
    if (outcomes.some((outcome) => outcome.ok)) this.scheduleAlarm();
    return outcomes;
  }

  private claimInTransaction(jobId: string, attempt: number, now: number): Result<ClaimedJob, ReportRefusal> {
    const job = this.store.get(jobId);
    const refusal = this.refuseReport(job, jobId, attempt, "dispatched");
    if (refusal) return refusal;
    const claimed = this.store.update(job!, {
      state: "running", started_at_ms: job!.started_at_ms ?? now, attempt_started_at_ms: now, lease_until_ms: now + LEASE_MS,
    }, this.event(job!, "started", now, { retryCount: job!.retry_count }));
    return {
      ok: true,
      data: {
        jobId, queueName: this.queueName, type: claimed.type, payloadJson: claimed.payload, attempt,
        retryCount: claimed.retry_count, threadId: claimed.thread_id!, firstRun: job!.started_at_ms === null,
        afterOutage: claimed.outage_since_ms !== null,
      },
    };
  }

  /** Progress, LangGraph ids, or a bare heartbeat: each renews the lease. */
  async report(jobId: string, attempt: number, update: ProgressReport, now = Date.now()): Promise<Result<null, ReportRefusal>> {
    const circuitWasOpen = update.runId !== undefined && this.store.circuit().state !== "closed";
    const outcome = this.store.transaction(() => {
      const job = this.store.get(jobId);
      const refusal = this.refuseReport(job, jobId, attempt, "running");
      if (refusal) return refusal;
      // A run was created: LangGraph answers.
      const change: JobUpdate = { lease_until_ms: now + LEASE_MS, ...(update.runId !== undefined ? this.langGraphAnswered(job!, now) : {}) };
      if (update.progress !== undefined) change.progress = Math.max(0, Math.min(100, Math.round(update.progress)));
      if (update.currentStep !== undefined) change.current_step = update.currentStep;
      if (update.runId !== undefined) change.run_id = update.runId;
      if (update.threadId !== undefined) change.thread_id = update.threadId;
      const after = { ...job!, ...change };
      const events: JobEvent[] = [];
      if (update.currentStep !== undefined && update.currentStep !== job!.current_step) {
        events.push(this.event(job!, "progress", now, { progress: after.progress, step: after.current_step }));
      }
      if (update.threadId !== undefined && update.threadId !== job!.thread_id) {
        events.push(this.event(job!, "thread_replaced", now, { from: job!.thread_id, to: after.thread_id }));
      }
      if (update.runId !== undefined && update.runId !== job!.run_id) {
        events.push(this.event(job!, "run_created", now, { threadId: after.thread_id, runId: after.run_id }));
      }
      if (update.rejoined) events.push(this.event(job!, "rejoined", now, { runId: after.run_id }));
      this.store.update(job!, change, ...events);
      // The run this report names closed the circuit: the jobs held back by the outage go now.
      return { ok: true as const, data: null, messages: circuitWasOpen ? this.dispatchReady(now) : [] };
    });
    return this.answer(outcome);
  }

  async complete(jobId: string, attempt: number, result: unknown, now = Date.now()): Promise<Result<{ state: JobState }, ReportRefusal>> {
    const resultJson = JSON.stringify(result ?? null);
    const tooLarge = resultTooLarge(resultJson);
    if (tooLarge) return this.fail(jobId, attempt, { error: tooLarge, retryable: false }, now);
    const outcome = this.store.transaction(() => {
      const job = this.store.get(jobId);
      const refusal = this.refuseReport(job, jobId, attempt, "running");
      if (refusal) return refusal;
      this.finish(job!, resultJson, now, {}, undefined, this.langGraphAnswered(job!, now));
      return { ok: true as const, data: { state: "completed" as const }, messages: this.dispatchReady(now) };
    });
    return this.answer(outcome);
  }

  /**
   * A failed attempt: retried after a backoff while retries remain and the error allows it. One
   * that found LangGraph unreachable goes back to the queue as it was, and opens the circuit.
   */
  async fail(jobId: string, attempt: number, failure: AttemptFailure, now = Date.now()): Promise<Result<{ state: JobState }, ReportRefusal>> {
    const outcome = this.store.transaction(() => {
      const job = this.store.get(jobId);
      const refusal = this.refuseReport(job, jobId, attempt, "running");
      if (refusal) return refusal;
      const state = this.failAttempt(job!, failure, now, failure.unreachable ? {} : this.langGraphAnswered(job!, now));
      return { ok: true as const, data: { state }, messages: this.dispatchReady(now) };
    });
    return this.answer(outcome);
  }

  /** The dead-letter consumer: the Queue gave up delivering this attempt. */
  async deadLetter(jobId: string, attempt: number, deliveries: number, now = Date.now()): Promise<boolean> {
    const messages = this.store.transaction(() => {
      const job = this.store.get(jobId);
      if (!job || (job.state !== "dispatched" && job.state !== "running") || job.attempt !== attempt) return null;
      const error = `delivery failed: the consumer crashed on all ${deliveries} deliveries of attempt ${attempt}`;
      this.end(job, "failed", now, { error }, { error });
      this.store.bump("failed_total", 1);
      return this.dispatchReady(now);
    });
    if (messages) await this.afterChange(messages);
    return messages !== null;
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
    const messages = this.store.transaction(() => {
      const job = this.store.get(jobId);
      if (!job || job.attempt !== attempt || (job.state !== "running" && job.state !== "delayed")) return null;
      const answered = this.langGraphAnswered(job, now);
      if (tooLarge) this.failAttempt(job, { error: tooLarge, retryable: false }, now, answered);
      else this.finish(job, resultJson, now, { reconciled: true }, runMs, answered);
      return this.dispatchReady(now);
    });
    if (messages) await this.afterChange(messages);
    return messages !== null;
  }

  // ─── Timers ────────────────────────────────────────────────────────────────────────────────

  override async alarm(): Promise<void> {
    // The alarm that fired is no longer set.
    this.alarmAtMs = null;
    await this.runTimers(Date.now());
  }

  /**
   * Everything that is due at `now`: retries whose backoff has passed, leases that expired,
   * records past their retention. Idempotent: running it twice at the same `now` changes nothing.
   */
  async runTimers(now = Date.now()): Promise<void> {
    const messages = this.store.transaction(() => {
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
          this.store.update(job, { state: "queued", lease_until_ms: null }, this.event(job, "dispatch_expired", now, {}));
        }
      }
      for (const job of this.store.expiredRecords(now)) {
        this.store.delete(job);
        log({ event: "expired", queue: this.queueName, jobId: job.id, state: job.state });
      }
      return this.dispatchReady(now);
    });
    await this.afterChange(messages);
  }

  /** The cron sweep: due timers, jobs past JOB_TIMEOUT_SECONDS, and the alarm re-armed. */
  async sweep(now = Date.now()): Promise<{ timedOut: number }> {
    const timedOut = this.store.transaction(() => {
      const overdue = this.store.runningSince(now - this.config.jobTimeoutMs);
      for (const job of overdue) {
        const error = `timed out: running for more than ${this.config.jobTimeoutMs / 1000}s`;
        this.failAttempt(job, { error, retryable: false }, now);
      }
      return overdue.length;
    });
    // Another caller may have cleared or moved the alarm behind this object's back (a restore, an operator).
    this.alarmAtMs = await this.ctx.storage.getAlarm();
    await this.runTimers(now);
    return { timedOut };
  }

  /** The queue's LangGraph circuit, for /health. */
  circuit() {
    return circuitView(this.store.circuit());
  }

  /**
   * SQLite rows read and written by this instance so far, and alarms set or deleted (each billed
   * as a row written): for benchmarks and debugging.
   */
  storageIo(): { rowsRead: number; rowsWritten: number; alarmWrites: number } {
    return { ...this.store.io, alarmWrites: this.alarmWrites };
  }

  // ─── Internals ─────────────────────────────────────────────────────────────────────────────

  /** What every change does once its transaction has committed: re-arm the alarm, send the dispatched jobs. */
  private async afterChange(messages: JobMessage[]): Promise<void> {
    this.scheduleAlarm();
    if (messages.length > 0) await this.send(messages);
  }

  /** A report's answer, once what it changed is done. */
  private async answer<T>(outcome: Result<T, ReportRefusal> & { messages?: JobMessage[] }): Promise<Result<T, ReportRefusal>> {
    if (!outcome.ok) return outcome;
    await this.afterChange(outcome.messages ?? []);
    return { ok: true, data: outcome.data };
  }

  /**
   * Marks the best ready jobs dispatched, as many as free slots (and the LangGraph circuit)
   * allow, and returns their messages to send once the transaction commits. Call inside one.
   */
  private dispatchReady(now: number): JobMessage[] {
    const circuit = this.store.circuit();
    const allowed = dispatchable(circuit, this.config.concurrency - this.views.busySlots(), circuit.probe !== null && this.inFlight(circuit.probe));
    if (allowed <= 0) return [];
    const ready = circuit.state === "half_open" ? this.store.nextProbe() : this.store.nextReady(allowed);
    const sent = ready.map((job) => {
      const dispatched = { ...job, attempt: job.attempt + 1 };
      this.store.update(job, {
        state: "dispatched", attempt: dispatched.attempt, attempt_started_at_ms: null, lease_until_ms: now + DISPATCH_LEASE_MS,
      }, this.event(dispatched, "dispatched", now, circuit.state === "half_open" ? { probe: true } : {}));
      return { queueName: this.queueName, jobId: job.id, attempt: dispatched.attempt };
    });
    if (circuit.state === "half_open" && sent[0]) this.store.saveCircuit({ ...circuit, probe: { jobId: sent[0].jobId, attempt: sent[0].attempt } });
    return sent;
  }

  /**
   * Sends dispatched jobs to the Queue. While one send is in flight, the messages of the changes
   * that commit meanwhile wait and go together in the next: under load, one sendBatch carries
   * many jobs instead of one each (a send costs far more than the SQL of a dispatch).
   */
  private async send(messages: JobMessage[]): Promise<void> {
    this.unsent.push(...messages);
    while (this.sending) await this.sending;
    // Another caller's send took these messages along.
    if (this.unsent.length === 0) return;
    const batch = this.unsent.splice(0);
    this.sending = this.sendNow(batch).finally(() => (this.sending = null));
    await this.sending;
  }

  /**
   * Sends in batches of at most 100 messages, the Queues limit for one sendBatch. A send that does
   * not settle within SEND_TIMEOUT_MS is given up on, so that it cannot hold up the sends behind
   * it; its jobs come back through their dispatch leases.
   */
  private async sendNow(messages: JobMessage[]): Promise<void> {
    for (let start = 0; start < messages.length; start += 100) {
      const batch = messages.slice(start, start + 100);
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer from the Queue within ${this.sendTimeoutMs} ms`)), this.sendTimeoutMs);
        });
        await Promise.race([this.env.JOB_QUEUE.sendBatch(batch.map((body) => ({ body }))), timeout]);
      } catch (error) {
        // The dispatch leases expire and the alarm puts these jobs back in the queue.
        log({ event: "dispatch_send_failed", queue: this.queueName, jobs: batch.length, error: String(error) }, "error");
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** Completes a job; its run time feeds the queue's and the job type's averages. */
  private finish(
    job: JobRow, resultJson: string, now: number, detail: Record<string, unknown>,
    durationMs = now - (job.attempt_started_at_ms ?? now), update: JobUpdate = {},
  ): void {
    this.store.bump("completed_total", 1);
    this.store.bump("process_ms_total", durationMs);
    this.store.bump(`completed:${job.type}`, 1);
    this.store.bump(`process_ms:${job.type}`, durationMs);
    this.end(job, "completed", now, { durationMs, ...detail }, { ...update, progress: 100, result: resultJson, error: null });
  }

  /**
   * Puts a job whose attempt found LangGraph unreachable back in the queue, schedules a retry,
   * or fails the job for good; returns the state it is left in. `update` goes along with the
   * change (what the attempt showed of LangGraph). Call inside a transaction.
   */
  private failAttempt(job: JobRow, failure: AttemptFailure, now: number, update: JobUpdate = {}): JobState {
    if (failure.unreachable && answeredSince(this.store.circuit(), job.outage_since_ms)) {
      failure = { error: `${failure.error} (LangGraph answered other jobs meanwhile)`, retryable: true };
    } else if (failure.unreachable) {
      this.setCircuit(tripped(this.store.circuit(), now), now);
      const outageSinceMs = job.outage_since_ms ?? now;
      if (now - outageSinceMs < this.config.jobTimeoutMs) {
        this.store.update(job, { ...update, state: "queued", lease_until_ms: null, error: failure.error, outage_since_ms: outageSinceMs },
          this.event(job, "outage", now, { error: failure.error, outageSince: toIso(outageSinceMs) }));
        return "queued";
      }
      failure = { error: `LangGraph unreachable for more than ${this.config.jobTimeoutMs / 1000}s: ${failure.error}`, retryable: false };
    }
    if (failure.retryable && job.retry_count < job.max_retries) {
      const retryNumber = job.retry_count + 1;
      const nextRetryAtMs = now + backoffDelayMs(retryNumber, { baseMs: this.config.retryBaseMs, maxMs: this.config.retryMaxMs });
      this.store.update(job, {
        ...update, state: "delayed", retry_count: retryNumber, next_retry_at_ms: nextRetryAtMs, lease_until_ms: null, error: failure.error,
      }, this.event(job, "retry_scheduled", now, { error: failure.error, retryCount: retryNumber, nextRetryAt: toIso(nextRetryAtMs) }));
      return "delayed";
    }
    this.store.bump("failed_total", 1);
    this.end(job, "failed", now, { error: failure.error, retriesExhausted: failure.retryable }, { ...update, error: failure.error });
    return "failed";
  }

  /**
   * Something an attempt did shows LangGraph answering: the circuit's outage is over, and so is
   * the job's; returns the change that ends the job's, to go with the attempt's own.
   */
  private langGraphAnswered(job: JobRow, now: number): JobUpdate {
    this.setCircuit(answered(this.store.circuit(), now), now);
    return job.outage_since_ms === null ? {} : { outage_since_ms: null };
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
    this.store.update(job, {
      ...update, state, ended_at_ms: now, expires_at_ms: now + this.config.resultTtlMs,
      lease_until_ms: null, next_retry_at_ms: null,
    }, this.event(job, state, now, detail));
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

  /** An entry for the job's history (the store appends it with the change it goes with), and its log line. */
  private event(job: Pick<JobRow, "id" | "attempt">, event: string, now: number, detail: Record<string, unknown>): JobEvent {
    log({ event, queue: this.queueName, jobId: job.id, attempt: job.attempt, ...detail });
    return { at_ms: now, event, attempt: job.attempt, detail };
  }

  /**
   * Keeps the one alarm no later than the earliest timer (a retry, a lease, a record, the
   * circuit's probe). It is only ever moved earlier: setting an alarm is a billed storage write,
   * and the earliest timer moves later with almost every claim and completion (the oldest lease
   * ends). An alarm that fires before anything is due finds nothing to do and re-arms to the
   * earliest timer then, so under load it costs about one write per lease period, not several
   * per job. With no timer left, an alarm still set fires once for nothing and is not re-armed.
   */
  private scheduleAlarm(): void {
    const timers = [this.store.nextTimerMs(), this.store.circuit().probeAtMs].filter((at): at is number => at !== null);
    if (timers.length === 0) return;
    const next = Math.min(...timers);
    if (this.alarmAtMs !== null && this.alarmAtMs <= next) return;
    this.alarmAtMs = next;
    this.alarmWrites++;
    this.ctx.storage.setAlarm(next).catch((error: unknown) => {
      // Not set after all: the next change sets it again rather than trusting it (and the cron sweep re-reads it).
      if (this.alarmAtMs === next) this.alarmAtMs = null;
      log({ event: "alarm_set_failed", queue: this.queueName, at: toIso(next), error: String(error) }, "error");
    });
  }
}

/** How long a Queue send may take before its jobs are left to their dispatch leases. */
const SEND_TIMEOUT_MS = 10_000;

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

/** Whether a job already stored has the body (type and payload, key order aside) of `job`. */
const sameBody = (stored: JobBody, job: JobBody): boolean =>
  canonicalJson({ type: stored.type, payload: stored.payload }) === canonicalJson({ type: job.type, payload: job.payload });

export const coordinatorFor = (env: AppEnv, queueName: string): DurableObjectStub<QueueCoordinator> =>
  env.QUEUE_COORDINATOR.getByName(queueName) as DurableObjectStub<QueueCoordinator>;
