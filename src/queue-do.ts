/**
 * QueueCoordinator: one Durable Object per queue name, the only writer of job state.
 *
 * A thin shell over src/coordinator/: it wires the object's storage, alarm and RPC surface to
 * the parts that do the work (enqueue.ts, attempts.ts, transitions.ts, timers.ts, dispatcher.ts,
 * alarm.ts, over job-store.ts). Every change runs inside one store transaction, so concurrent
 * requests can never over-admit past capacity or over-dispatch past concurrency; once it has
 * committed, the alarm is moved earlier if need be and the jobs it dispatched are sent.
 */
import { DurableObject } from "cloudflare:workers";
import { queueConfig, type AppEnv, type QueueConfig } from "./config";
import { AlarmKeeper } from "./coordinator/alarm";
import { Attempts, notFound, refuseFinishedRun, refuseReport, type Change } from "./coordinator/attempts";
import { Dispatcher } from "./coordinator/dispatcher";
import { retryJob, retryJobs, setPaused } from "./coordinator/admin";
import { enqueueJobs } from "./coordinator/enqueue";
import { resumeJob } from "./coordinator/resume";
import type { CoordinatorHost } from "./coordinator/host";
import { dispatchRank, JobStore, type JobRow } from "./coordinator/job-store";
import { QueueMetrics, type MetricsSnapshot, type ThroughputMinute } from "./coordinator/metrics";
import {
  followerName, RECENTLY_STOPPED_MS, type AttemptFailure, type ClaimedJob, type EnqueueBatchResult, type EnqueueResult, type Failure,
  type BulkRetryData, type JobMessage, type ListQuery, type NewJob, type PendingInterrupt, type ProgressReport, type QueueFull, type ReportRefusal,
  type Result, type ResumeRefusal, type RetryData, type RetryRefusal, type RunToCheck, type StopReason,
} from "./coordinator/protocol";
import { ResultStore, type KeptResult } from "./coordinator/results";
import { failOverdueRuns, runDueTimers } from "./coordinator/timers";
import { Transitions } from "./coordinator/transitions";
import { Watchers } from "./coordinator/watchers";
import { circuitView, JobViews } from "./coordinator/views";
import { holdsSlot, isTerminal, publicStatus, toIso, type JobState, type JobStatus, type JsonValue } from "./jobs";
import { log } from "./log";
import { followerFor } from "./rpc";

export * from "./coordinator/protocol";

export class QueueCoordinator extends DurableObject<AppEnv> {
  readonly store: JobStore;
  readonly views: JobViews;
  config: QueueConfig;
  private readonly host: CoordinatorHost;
  private readonly alarms: AlarmKeeper;
  private readonly dispatcher: Dispatcher;
  private readonly transitions: Transitions;
  private readonly attempts: Attempts;
  private readonly results: ResultStore;
  private readonly watchers: Watchers;

  constructor(ctx: DurableObjectState, env: AppEnv) {
    super(ctx, env);
    this.store = new JobStore(ctx.storage);
    this.config = queueConfig(env);
    this.views = new JobViews(this.store, this.config);
    this.alarms = new AlarmKeeper(ctx.storage, this.store, this.queueName);
    // Read through getters, so that a test may swap the object's bindings or limits.
    const self = this;
    const metrics = new QueueMetrics(ctx.storage.sql, this.store);
    this.host = {
      store: this.store, views: this.views, metrics, queueName: this.queueName, get config() { return self.config; }, get env() { return self.env; },
    };
    this.dispatcher = new Dispatcher(this.host);
    this.transitions = new Transitions(this.host);
    this.attempts = new Attempts(this.host, this.transitions, this.dispatcher);
    this.results = new ResultStore(() => this.env.RESULTS, this.queueName);
    this.watchers = new Watchers(ctx, this.host);
    // Every committed change reaches whoever watches it live (coordinator/watchers.ts).
    this.store.onCommit = (changes) => this.watchers.publish(changes);
    void ctx.blockConcurrencyWhile(async () => {
      this.store.migrate();
      await this.alarms.reread();
    });
  }

  get queueName(): string {
    return this.ctx.id.name ?? this.ctx.id.toString();
  }

  // ─── Client actions ────────────────────────────────────────────────────────────────────────

  async enqueue(job: NewJob, now = Date.now()): Promise<EnqueueResult> {
    const outcome = await this.enqueueBatch([job], now);
    return outcome.ok ? { ok: true, ...outcome.data[0]! } : outcome;
  }

  /** See coordinator/enqueue.ts: all or nothing, each job idempotent. */
  async enqueueBatch(jobs: NewJob[], now = Date.now()): Promise<EnqueueBatchResult> {
    const outcome = await this.commit(() => enqueueJobs(this.host, this.dispatcher, jobs, now));
    if (!outcome.ok) {
      log({ event: "enqueue_refused", queue: this.queueName, jobIds: jobs.map((job) => job.id).slice(0, 10), jobs: jobs.length, code: outcome.code }, "warn");
    }
    return outcome;
  }

  /**
   * A result kept in the bucket is not read here: the answer names its object (`resultRef`), and
   * the Worker streams it into the response, so that this RPC answer stays small.
   */
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
    const cancelled: { running?: JobRow } = {};
    const outcome = await this.commit((): Change<{ jobId: string; status: "cancelled"; previousStatus: JobStatus }, "JOB_NOT_FOUND" | "JOB_NOT_CANCELLABLE"> => {
      const job = this.store.get(jobId);
      if (!job) return notFound(jobId);
      const previousStatus = publicStatus(job.state);
      const data = { jobId, status: "cancelled" as const, previousStatus };
      if (job.state === "cancelled") return { ok: true, data, messages: [] };
      if (isTerminal(job.state)) {
        return { ok: false, code: "JOB_NOT_CANCELLABLE", message: `job ${jobId} has already ${job.state === "completed" ? "completed" : "failed"}` };
      }
      this.transitions.end(job, "cancelled", now, { previousStatus });
      if (job.state === "running") cancelled.running = job;
      // Its slot is free, or its thread (the next job waiting for it may go now).
      return { ok: true, data, messages: holdsSlot(job.state) || job.shared_thread ? this.dispatcher.dispatchReady(now) : [] };
    });
    if (cancelled.running) await this.stopFollower(cancelled.running, { code: "JOB_CANCELLED", jobOver: true });
    return outcome;
  }

  /** The answer to an interrupted job's interrupt (coordinator/resume.ts): queued again, to continue where it paused. */
  resume(jobId: string, value: JsonValue, now = Date.now()): Promise<Result<{ jobId: string; status: "queued" }, ResumeRefusal>> {
    return this.commit(() => resumeJob(this.host, this.transitions, this.dispatcher, jobId, value, now));
  }

  // ─── Operator actions (coordinator/admin.ts) ───────────────────────────────────────────────

  /** A failed or cancelled job, queued again with a fresh retry budget, on its own thread (continuing from its checkpoint). */
  retry(jobId: string, now = Date.now()): Promise<Result<RetryData, RetryRefusal> | QueueFull> {
    return this.commit(() => retryJob(this.host, this.transitions, this.dispatcher, jobId, now));
  }

  /** A page of the queue's failed (or cancelled) jobs retried, oldest first, as many as capacity takes. */
  retryMany(status: "failed" | "cancelled", limit: number, cursor?: string, now = Date.now()): Promise<Result<BulkRetryData, never> | QueueFull> {
    return this.commit(() => retryJobs(this.host, this.transitions, this.dispatcher, status, limit, cursor, now));
  }

  /** Stops dispatching (running jobs finish; enqueues are accepted), or starts it again. Kept across restarts. */
  setPaused(paused: boolean, now = Date.now()): Promise<Result<{ queueName: string; paused: boolean }, never>> {
    return this.commit(() => setPaused(this.host, this.dispatcher, paused, now));
  }

  list(query: ListQuery) {
    const cursor = query.cursor?.split(":").map(Number) ?? null;
    const validCursor = cursor?.every(Number.isSafeInteger) ? cursor : null;
    const queued = query.status === "queued";
    const rows = queued
      ? this.store.reads.listQueued(query.limit, validCursor?.length === 2 ? [validCursor[0]!, validCursor[1]!] : null)
      : this.store.reads.listNewest(query.status ?? null, query.limit, validCursor?.[0] ?? null);
    const last = rows.length === query.limit ? rows.at(-1) : undefined;
    return {
      jobs: rows.map((row) => this.views.summaryView(row)),
      nextCursor: last ? (queued ? `${dispatchRank(last)}:${last.seq}` : `${last.seq}`) : null,
    };
  }

  history(jobId: string): Result<{ jobId: string; events: { at: string; event: string; attempt: number; detail: JsonValue }[] }, "JOB_NOT_FOUND"> {
    const events = this.store.reads.events(jobId);
    if (!events) return notFound(jobId);
    return {
      ok: true,
      data: { jobId, events: events.map((e) => ({ at: toIso(e.at_ms)!, event: e.event, attempt: e.attempt, detail: e.detail as JsonValue })) },
    };
  }

  // ─── Live status (coordinator/watchers.ts) ─────────────────────────────────────────────────

  /**
   * The Worker's event-stream routes open a hibernatable WebSocket here: `/watch/job/<id>` (with
   * the stream's Last-Event-ID, if it reconnects) or `/watch/queue`. Only the Worker reaches this.
   */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const path = new URL(request.url).pathname;
    if (path === "/watch/queue") return this.watchers.watchQueue();
    const jobId = /^\/watch\/job\/(.+)$/.exec(path)?.[1];
    if (jobId === undefined) return new Response(null, { status: 404 });
    const lastEventId = Number.parseInt(request.headers.get("last-event-id") ?? "", 10);
    return this.watchers.watchJob(decodeURIComponent(jobId), Number.isSafeInteger(lastEventId) && lastEventId >= 0 ? lastEventId : null, Date.now());
  }

  /** Watchers only listen: what they send is ignored. */
  override webSocketMessage(): void {}

  override webSocketClose(socket: WebSocket, code: number): void {
    // The Worker's end went (its client left, or its stream reached its time limit): close ours.
    try {
      socket.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // Already closed.
    }
  }

  // ─── Consumer and follower reports (coordinator/attempts.ts) ───────────────────────────────

  claim(jobId: string, attempt: number, now = Date.now()): Result<ClaimedJob, ReportRefusal> {
    return this.claimBatch([{ jobId, attempt }], now)[0]!;
  }

  /** The claims of one Queue delivery of several messages, in one transaction and one request. */
  claimBatch(attempts: { jobId: string; attempt: number }[], now = Date.now()): Result<ClaimedJob, ReportRefusal>[] {
    const outcomes = this.store.transaction(() => attempts.map(({ jobId, attempt }) => this.attempts.claim(jobId, attempt, now)));
    if (outcomes.some((outcome) => outcome.ok)) this.alarms.schedule();
    return outcomes.map((outcome) => (outcome.ok ? { ok: true, data: outcome.data } : outcome));
  }

  report(jobId: string, attempt: number, update: ProgressReport, now = Date.now()): Promise<Result<null, ReportRefusal>> {
    return this.commit(() => this.attempts.report(jobId, attempt, update, now));
  }

  /** A result over 1 MiB is written to the bucket first (coordinator/results.ts); a refused report leaves no object behind. */
  async complete(jobId: string, attempt: number, result: unknown, now = Date.now()): Promise<Result<{ state: JobState }, ReportRefusal>> {
    const refusal = refuseReport(this.store.get(jobId), jobId, attempt, "running");
    if (refusal) return refusal;
    return this.recordResult(jobId, attempt, result, (kept) => this.attempts.complete(jobId, attempt, kept, now));
  }

  /** The attempt's run stopped at the graph's interrupt(): the job waits for a resume. */
  interrupted(jobId: string, attempt: number, interrupts: PendingInterrupt[], now = Date.now()): Promise<Result<{ state: JobState }, ReportRefusal>> {
    return this.commit(() => this.attempts.interrupted(jobId, attempt, interrupts, now));
  }

  fail(jobId: string, attempt: number, failure: AttemptFailure, now = Date.now()): Promise<Result<{ state: JobState }, ReportRefusal>> {
    return this.commit(() => this.attempts.fail(jobId, attempt, failure, now));
  }

  /** The dead-letter consumer: the Queue gave up delivering this attempt. Returns the state it left the job in, if it was current. */
  async deadLetter(jobId: string, attempt: number, now = Date.now()): Promise<JobState | null> {
    const outcome = await this.commit(() => this.attempts.deadLetter(jobId, attempt, now));
    return outcome.ok ? outcome.data.state : null;
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

  /** The sweep found that a job's run succeeded while nobody listened. Whether it was recorded. */
  async recordFinishedRun(jobId: string, attempt: number, result: unknown, runMs: number, now = Date.now()): Promise<boolean> {
    if (refuseFinishedRun(this.store.get(jobId), jobId, attempt)) return false;
    return (await this.recordResult(jobId, attempt, result, (kept) => this.attempts.recordFinishedRun(jobId, attempt, kept, runMs, now))).ok;
  }

  // ─── Timers (coordinator/timers.ts, coordinator/alarm.ts) ──────────────────────────────────

  override async alarm(): Promise<void> {
    this.alarms.fired();
    await this.runTimers(Date.now());
  }

  /** Everything that is due at `now`. Idempotent: running it twice at the same `now` changes nothing. */
  async runTimers(now = Date.now()): Promise<void> {
    const outcome = await this.commit(() => {
      const { messages, deleted, timedOut } = runDueTimers(this.host, this.transitions, this.dispatcher, now);
      return { ok: true, data: { deleted, timedOut }, messages };
    });
    if (!outcome.ok) return;
    // The expired records are gone: their results kept in the bucket go too.
    await this.results.deleteWith(outcome.data.deleted);
    // A run past its job's time limit is stopped now, not at its follower's next report.
    await Promise.all(outcome.data.timedOut.map((job) => this.stopFollower(job, { code: "JOB_ENDED", jobOver: true })));
  }

  /** The cron sweep: due timers, jobs past JOB_TIMEOUT_SECONDS, and the alarm re-armed. */
  async sweep(now = Date.now()): Promise<{ timedOut: number }> {
    const timedOut = this.store.transaction(() => failOverdueRuns(this.host, this.transitions, now));
    // Another caller may have cleared or moved the alarm behind this object's back (a restore, an operator).
    await this.alarms.reread();
    await this.runTimers(now);
    return { timedOut };
  }

  /** The queue's LangGraph circuit, for readiness checks. */
  circuit() {
    return circuitView(this.store.circuit());
  }

  /**
   * SQLite rows read and written by this instance so far, and alarms set or deleted (each billed
   * as a row written): for benchmarks and debugging.
   */
  storageIo(): { rowsRead: number; rowsWritten: number; alarmWrites: number } {
    return { ...this.store.io, alarmWrites: this.alarms.writes };
  }

  // ─── Metrics (coordinator/metrics.ts) ──────────────────────────────────────────────────────

  /** This queue's figures for GET /metrics (http/metrics.ts renders every queue's). */
  metricsSnapshot(): MetricsSnapshot {
    return this.host.metrics.snapshot(this.queueName);
  }

  /** The `throughput` action: jobs completed and failed, average wait and process time, per minute of the last hour. */
  throughput(now = Date.now()): { queueName: string; minutes: ThroughputMinute[] } {
    return { queueName: this.queueName, minutes: this.host.metrics.throughput(now) };
  }

  // ─── Internals ─────────────────────────────────────────────────────────────────────────────

  /**
   * Runs `change` in one transaction; once it has committed, moves the alarm earlier if need be
   * and sends the jobs it dispatched. Answers without the messages.
   */
  private async commit<T, Code extends string, Refusal extends Failure<Code>>(
    change: () => { ok: true; data: T; messages: JobMessage[] } | Refusal,
  ): Promise<{ ok: true; data: T } | Refusal> {
    const outcome = this.store.transaction(change);
    if (!outcome.ok) return outcome;
    this.alarms.schedule();
    if (outcome.messages.length > 0) await this.dispatcher.send(outcome.messages);
    return { ok: true, data: outcome.data };
  }

  /**
   * Keeps a result where it fits (coordinator/results.ts: a large one is written to the bucket
   * before the transaction, which R2's asynchronous calls cannot join), then records it with
   * `change`; if the transaction refuses the report after all, the object it wrote is deleted.
   */
  private async recordResult<T, Code extends string>(
    jobId: string, attempt: number, result: unknown, change: (kept: KeptResult) => Change<T, Code>,
  ): Promise<Result<T, Code>> {
    const kept = await this.results.keep(jobId, attempt, result);
    const outcome = await this.commit(() => change(kept));
    if (!outcome.ok) await this.results.discard(kept);
    return outcome;
  }

  /** Tells the job's run follower to stop now; if it cannot be reached, its next report is refused. */
  private async stopFollower(job: JobRow, reason: StopReason): Promise<void> {
    try {
      await followerFor(this.env, followerName(this.queueName, job)).stop(job.attempt, reason);
    } catch (error) {
      log({ event: "follower_stop_failed", queue: this.queueName, jobId: job.id, attempt: job.attempt, error: String(error) }, "warn");
    }
  }
}
