/**
 * A reference model of one QueueCoordinator, written from the README's "Job lifecycle" and the
 * circuit breaker's description, not from queue-do.ts: plain objects in a Map, no SQL, no
 * indexes, no counters, every rule spelled out once. test/unit/coordinator-model.test.ts drives
 * it and the real coordinator with the same random operations and compares them after each.
 *
 * Choices where the descriptions leave room, made as the coordinator makes them:
 *  - after every operation the best ready jobs fill the free slots, as the circuit allows
 *    ("whenever a slot frees or a job arrives"), so nothing ready ever waits beside a free slot;
 *  - "longer than JOB_TIMEOUT_SECONDS" (a run's, an outage's) includes exactly that long;
 *  - half-open, a probe that is no longer in flight without having shown anything (its dispatch
 *    or lease expired, it was cancelled or dead-lettered) is replaced by the next best job.
 *
 * LangGraph-native jobs (issue #14), as the coordinator's first cut of them describes itself
 * (protocol.ts, transitions.ts, resume.ts):
 *  - a job on a thread the client chose waits (`waiting`, shown as queued, counted against
 *    capacity, never dispatched) while an earlier job of that thread has not ended; when the
 *    thread's holder ends (completed, failed, cancelled) the oldest job waiting for it becomes
 *    queued (`thread_free`). A waiting job that is cancelled hands nothing on. An interrupted job
 *    keeps its thread; a report never swaps a chosen thread for a copy;
 *  - `interrupted`: a running attempt stopped at the graph's interrupt(). Its slot is freed, it
 *    still counts against capacity, and it waits INTERRUPT_TIMEOUT_SECONDS for a `resume`, which
 *    queues it again (no retry spent); its next claims carry the answer (`resumeJson`: the value
 *    and an id of its own, a random UUID the model learns from the coordinator, as it learns the
 *    retry jitter, and which the `resumed` event names). The resume ends the job's current run: its
 *    run id (and the run kept from an outage) are cleared. A map by interrupt id must name pending
 *    interrupts only (answersInterrupts);
 *  - deadlines: a running attempt of a job with `timeoutSeconds` times out (failed, not
 *    retried) that long after its first claim; an interrupted job fails when its wait runs out;
 *    leaving either state clears the deadline. A lease lapsing at the same instant goes first;
 *  - a failure saying another run holds the thread (`threadBusy`) is waited out for up to
 *    JOB_TIMEOUT_SECONDS from the first such answer (`busySince`, cleared once a report names a
 *    run): `thread_busy`, delayed by half the time waited so far (within RETRY_BASE_MS and
 *    RETRY_MAX_MS, no jitter), no retry spent, stalls untouched; from then on (exactly
 *    JOB_TIMEOUT_SECONDS included) the attempt fails, not retried;
 *  - an operator's retry (issue #16) is the one way out of an ended state: a failed or cancelled
 *    job goes back to the queue (`retried`) with a fresh retry budget and no stalls, outage or
 *    busy wait of its past and no current run (the sweep must not take its last run's state for
 *    its result), keeping its thread, attempts' numbering and resume; it counts
 *    against capacity like an enqueue, and on a client-chosen thread another job holds it waits
 *    its turn. A bulk retry takes the oldest jobs of a state after a cursor, as many as fit. While
 *    the queue is paused nothing is dispatched; unpausing fills the free slots;
 *  - every claim names the job's record (`jobKey`, its followerName `<queue>:<seq>`): the test adds
 *    it, as it adds queueName and followerName, since the model does not know the queue's name.
 *
 * The configuration is the `unit` project's (vitest.config.ts) plus the defaults of
 * RESULT_TTL_SECONDS, JOB_TIMEOUT_SECONDS and INTERRUPT_TIMEOUT_SECONDS. Retry jitter is the one
 * thing the model cannot know: it keeps the allowed range and adopts the coordinator's value once
 * it is in range.
 */
import type { JobType, JsonValue, Priority } from "../../src/jobs";

export const CONFIG = {
  capacity: 20,
  concurrency: 2,
  retryBaseMs: 200,
  retryMaxMs: 1000,
  resultTtlMs: 24 * 3_600_000,
  jobTimeoutMs: 3_600_000,
  interruptTimeoutMs: 7 * 24 * 3_600_000,
  leaseMs: 30_000,
  dispatchLeaseMs: 60_000,
  probeFirstMs: 1000,
  probeMaxMs: 15_000,
  recentlyStoppedMs: 3 * 60_000,
  /** Stalls (lapsed leases, dead-lettered deliveries that never reached the coordinator) a job may have without spending a retry. */
  maxStalls: 3,
  /** What the coordinator assumes a job takes before it has finished one. */
  defaultProcessSeconds: 60,
} as const;

export const SCORES: Record<Priority, number> = { high: 100, medium: 50, low: 10 };

export type State = "queued" | "delayed" | "dispatched" | "waiting" | "running" | "interrupted" | "completed" | "failed" | "cancelled";
export const STATES: readonly State[] = ["queued", "delayed", "dispatched", "waiting", "running", "interrupted", "completed", "failed", "cancelled"];
export const TERMINAL: readonly State[] = ["completed", "failed", "cancelled"];
/** The states that count against capacity: every one but the ended ones. */
export const ACTIVE: readonly State[] = ["queued", "delayed", "dispatched", "waiting", "running", "interrupted"];
/** The states a deadline belongs to. */
export const WITH_DEADLINE: readonly State[] = ["running", "interrupted"];
export type PublicStatus = "queued" | "running" | "interrupted" | "completed" | "failed" | "cancelled";
export const PUBLIC_STATUSES: readonly PublicStatus[] = ["queued", "running", "interrupted", "completed", "failed", "cancelled"];
export const publicOf = (state: State): PublicStatus => (state === "delayed" || state === "dispatched" || state === "waiting" ? "queued" : state);
export const inFlight = (state: State): boolean => state === "dispatched" || state === "running";

type JsonObject = Record<string, unknown>;

/** A job's own options for its LangGraph runs, each a JSON object. */
export interface RunOptions {
  config?: JsonObject;
  context?: JsonObject;
  metadata?: JsonObject;
}

/** What a job is asked to do: two enqueues of one id must agree on all of it. */
export interface Body extends RunOptions {
  type: JobType;
  payload: Record<string, string | number>;
  /** A thread the client chose (a conversation's). */
  threadId?: string;
  /** The graph or assistant that runs it: its type's own name when not given. */
  assistantId?: string;
  timeoutSeconds?: number;
}

/** One pending interrupt() of a graph. */
export interface PendingInterrupt {
  id: string;
  value: JsonValue;
  node: string | null;
}

export interface ModelEvent {
  event: string;
  attempt: number;
  at: number;
  /** The part of the event's detail the model is sure of. */
  detail?: Record<string, unknown>;
}

/** An error the model expects: exactly this text, or (for the coordinator's own wording) a pattern. */
export type ExpectedError = string | RegExp | null;

export interface ModelJob {
  id: string;
  seq: number;
  body: Body;
  priority: Priority;
  maxRetries: number;
  state: State;
  attempt: number;
  retryCount: number;
  progress: number;
  currentStep: string | null;
  runId: string | null;
  /**
   * Its LangGraph thread: the client's (then never replaced), or derived by the coordinator at
   * enqueue (the model learns it then) and replaced by a follower's report.
   */
  threadId: string | null;
  result: unknown;
  /** Its result is over the 1 MiB a row holds: kept in the RESULTS bucket, the row naming the object. */
  resultInBucket?: boolean;
  error: ExpectedError;
  enqueuedAt: number;
  startedAt: number | null;
  attemptStartedAt: number | null;
  endedAt: number | null;
  /** A number once known; a range right after a retry is scheduled (the backoff's jitter). */
  nextRetryAt: number | { min: number; max: number } | null;
  leaseUntil: number | null;
  expiresAt: number | null;
  /** When this job's attempts first found LangGraph unreachable, until one found it answering. */
  outageSince: number | null;
  /** The run that was the job's when it last met an outage. */
  outageRunId: string | null;
  /** First claims of its attempts (a redelivery is not one). */
  claims: number;
  /** Deliveries of the current attempt that reached the coordinator, redeliveries included. */
  deliveries: number;
  stalls: number;
  /** When its state runs out: a running attempt's own timeout, an interrupt's wait. */
  deadline: number | null;
  /** While interrupted: what the graph asked. */
  interrupts: PendingInterrupt[] | null;
  /**
   * The last resume (its value, and its id: null until the model learns it from the coordinator,
   * which draws a random UUID), until the job is interrupted again.
   */
  resume: { id: string | null; value: JsonValue } | null;
  /** Since when LangGraph has refused its runs because another run holds its thread; cleared by a report naming a run. */
  busySince: number | null;
  events: ModelEvent[];
}

/** A resume's id: a random UUID (crypto.randomUUID). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The last resume as the coordinator stores it and claims carry it (`{id, value}` as JSON text), or null. */
export const resumeJsonOf = (job: ModelJob): string | null => (job.resume === null ? null : JSON.stringify({ id: job.resume.id, value: job.resume.value }));

/** The run options a body carries, in the order the coordinator stores them, or null for none. */
export const runOptionsOf = (body: Body): RunOptions | null => {
  const options: RunOptions = { ...(body.config && { config: body.config }), ...(body.context && { context: body.context }), ...(body.metadata && { metadata: body.metadata }) };
  return Object.keys(options).length > 0 ? options : null;
};
export const sharedThread = (job: ModelJob): boolean => job.body.threadId !== undefined;
export const timeoutMsOf = (body: Body): number | null => (body.timeoutSeconds === undefined ? null : body.timeoutSeconds * 1000);

export interface Circuit {
  state: "closed" | "open" | "half_open";
  openedAt: number | null;
  probeAt: number | null;
  probeDelayMs: number;
  /** While half-open: the attempt sent as the probe. */
  probe: { id: string; attempt: number } | null;
  /** When the circuit last closed (LangGraph answered after an outage). */
  closedAt: number | null;
}
const CLOSED: Circuit = { state: "closed", openedAt: null, probeAt: null, probeDelayMs: 0, probe: null, closedAt: null };

export type Refusal = "JOB_NOT_FOUND" | "JOB_CANCELLED" | "JOB_ENDED" | "STALE_ATTEMPT";

/** LangGraph's interrupt ids: 32 hex digits. */
export const INTERRUPT_ID = /^[0-9a-f]{32}$/;

/**
 * Whether a resume's value answers the pending interrupts (coordinator/resume.ts since 083ac91):
 * anything but an object (a text, null, an array) answers them all, as LangGraph does, and so
 * does an object none of whose keys is a pending interrupt's id or looks like one. An object
 * that names one is a map by interrupt id: it must name pending interrupts only (not all of them).
 */
export function answersInterrupts(pending: readonly PendingInterrupt[], value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return true;
  const pendingId = (key: string) => pending.some((interrupt) => interrupt.id === key);
  const keys = Object.keys(value);
  if (!keys.some((key) => pendingId(key) || INTERRUPT_ID.test(key))) return true;
  return keys.every(pendingId);
}

export interface ProgressUpdate {
  progress?: number;
  currentStep?: string;
  runId?: string;
  rejoined?: boolean;
  threadId?: string;
}

export interface Failure {
  error: string;
  retryable: boolean;
  unreachable?: boolean;
  /** Our own bug: no sign of LangGraph either way. */
  ours?: boolean;
  /** Another run holds the thread: waited out for up to JOB_TIMEOUT_SECONDS, no retry spent. */
  threadBusy?: boolean;
}

/** How a job's dispatch order compares: higher score first, then enqueued first. */
export const ranksBefore = (a: { score: number; seq: number }, b: { score: number; seq: number }): boolean =>
  a.score > b.score || (a.score === b.score && a.seq < b.seq);

/** JSON with every object's keys sorted: key order never makes two bodies differ. */
const canonical = (value: unknown): string => JSON.stringify(value, (_key, v: unknown) =>
  v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as JsonObject).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v);

/** What two enqueues of one id must agree on: type, payload, assistant (its type's when not given), thread, run options, timeout. */
export const bodyKey = (body: Body): string => canonical({
  type: body.type, payload: body.payload, assistantId: body.assistantId ?? body.type, threadId: body.threadId ?? null,
  runOptions: runOptionsOf(body), timeoutMs: timeoutMsOf(body),
});

export class CoordinatorModel {
  now: number;
  readonly jobs = new Map<string, ModelJob>();
  circuit: Circuit = CLOSED;
  seq = 0;
  /** Paused by an operator: nothing is dispatched. */
  paused = false;
  /** Retries scheduled after failed attempts, and operators' retries (the metrics' retried total). */
  retriedTotal = 0;
  completedTotal = 0;
  failedTotal = 0;
  processMsTotal = 0;
  readonly byType = new Map<string, { completed: number; processMs: number }>();
  /** Every resume id learned so far: each resume draws a new one. */
  readonly resumeIds = new Set<string>();

  constructor(now: number) {
    this.now = now;
  }

  // ─── Queries ───────────────────────────────────────────────────────────────────────────────

  list(...states: State[]): ModelJob[] {
    return [...this.jobs.values()].filter((job) => states.includes(job.state));
  }

  score = (job: ModelJob): number => SCORES[job.priority];

  /** Ready jobs in the order they must be dispatched. */
  readyInOrder(): ModelJob[] {
    return this.list("queued").sort((a, b) => (ranksBefore({ score: this.score(a), seq: a.seq }, { score: this.score(b), seq: b.seq }) ? -1 : 1));
  }

  busy(): number {
    return this.list("dispatched", "running").length;
  }

  active(): number {
    return this.list(...ACTIVE).length;
  }

  /** The jobs of a client-chosen thread that have not ended, oldest first. */
  onThread(threadId: string): ModelJob[] {
    return this.list(...ACTIVE).filter((job) => sharedThread(job) && job.threadId === threadId).sort((a, b) => a.seq - b.seq);
  }

  avgProcessSeconds(): number {
    return this.completedTotal > 0 ? this.processMsTotal / this.completedTotal / 1000 : CONFIG.defaultProcessSeconds;
  }

  /** Ready jobs that go before `job`. */
  jobsAhead(job: ModelJob): number {
    return this.list("queued").filter((other) => ranksBefore({ score: this.score(other), seq: other.seq }, { score: this.score(job), seq: job.seq })).length;
  }

  /** The earliest timer: a retry due, a lease or dispatch lease running out, a deadline, a record expiring, the circuit's probe. */
  nextTimer(): number | null {
    const times: number[] = [];
    for (const job of this.jobs.values()) {
      if (job.state === "delayed" && typeof job.nextRetryAt === "number") times.push(job.nextRetryAt);
      if (inFlight(job.state) && job.leaseUntil !== null) times.push(job.leaseUntil);
      if (job.deadline !== null) times.push(job.deadline);
      if (TERMINAL.includes(job.state) && job.expiresAt !== null) times.push(job.expiresAt);
    }
    if (this.circuit.state === "open" && this.circuit.probeAt !== null) times.push(this.circuit.probeAt);
    return times.length > 0 ? Math.min(...times) : null;
  }

  /**
   * When the longest-running attempt reaches JOB_TIMEOUT_SECONDS, when the oldest outage does,
   * when the first running attempt reaches its job's own timeout, when the oldest interrupt's wait
   * ends, and when the longest wait for a busy thread reaches JOB_TIMEOUT_SECONDS.
   */
  deadlines(): { runTimeout: number | null; outageTimeout: number | null; ownTimeout: number | null; interruptTimeout: number | null; busyTimeout: number | null } {
    const earliest = (times: number[]) => (times.length > 0 ? Math.min(...times) : null);
    return {
      runTimeout: earliest(this.list("running").map((job) => job.attemptStartedAt! + CONFIG.jobTimeoutMs)),
      outageTimeout: earliest([...this.jobs.values()].filter((job) => job.outageSince !== null && !TERMINAL.includes(job.state)).map((job) => job.outageSince! + CONFIG.jobTimeoutMs)),
      ownTimeout: earliest(this.list("running").filter((job) => job.deadline !== null).map((job) => job.deadline!)),
      interruptTimeout: earliest(this.list("interrupted").map((job) => job.deadline!)),
      busyTimeout: earliest([...this.jobs.values()].filter((job) => job.busySince !== null && !TERMINAL.includes(job.state)).map((job) => job.busySince! + CONFIG.jobTimeoutMs)),
    };
  }

  circuitView() {
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return { circuit: this.circuit.state, openedAt: iso(this.circuit.openedAt), nextProbeAt: iso(this.circuit.probeAt) };
  }

  // ─── Client actions ────────────────────────────────────────────────────────────────────────

  enqueue(id: string, body: Body, priority: Priority, maxRetries: number) {
    const existing = this.jobs.get(id);
    if (existing) {
      if (bodyKey(existing.body) !== bodyKey(body)) return { ok: false as const, code: "JOB_ID_CONFLICT" as const };
      return { ok: true as const, created: false, data: this.enqueueView(existing) };
    }
    if (this.active() >= CONFIG.capacity) {
      return { ok: false as const, code: "QUEUE_FULL" as const, retryAfterSeconds: Math.max(1, Math.ceil(this.avgProcessSeconds() / CONFIG.concurrency)) };
    }
    // One job at a time on a thread the client chose: a later one waits for every earlier one to end.
    const waiting = body.threadId !== undefined && this.onThread(body.threadId).length > 0;
    const job: ModelJob = {
      id, seq: ++this.seq, body, priority, maxRetries, state: waiting ? "waiting" : "queued", attempt: 0, retryCount: 0, progress: 0,
      currentStep: null, runId: null, threadId: body.threadId ?? null, result: null, error: null, enqueuedAt: this.now, startedAt: null,
      attemptStartedAt: null, endedAt: null, nextRetryAt: null, leaseUntil: null, expiresAt: null, outageSince: null, outageRunId: null,
      claims: 0, deliveries: 0, stalls: 0, deadline: null, interrupts: null, resume: null, busySince: null, events: [],
    };
    this.jobs.set(id, job);
    this.record(job, "queued", { priority, type: body.type, threadId: body.threadId, waitingForThread: waiting ? true : undefined });
    // The answer describes the job as it was enqueued, before this enqueue dispatched it.
    const data = this.enqueueView(job);
    this.dispatch();
    return { ok: true as const, created: true, data };
  }

  cancel(id: string) {
    const job = this.jobs.get(id);
    if (!job) return { ok: false as const, code: "JOB_NOT_FOUND" as const };
    const previousStatus = publicOf(job.state);
    if (job.state === "cancelled") return { ok: true as const, data: { jobId: id, status: "cancelled" as const, previousStatus } };
    if (TERMINAL.includes(job.state)) return { ok: false as const, code: "JOB_NOT_CANCELLABLE" as const };
    this.end(job, "cancelled", { previousStatus });
    this.dispatch();
    return { ok: true as const, data: { jobId: id, status: "cancelled" as const, previousStatus } };
  }

  /** The answer to an interrupted job's interrupts: queued again, no retry spent; its next claims carry the value. */
  resume(id: string, value: unknown) {
    const job = this.jobs.get(id);
    if (!job) return { ok: false as const, code: "JOB_NOT_FOUND" as const };
    if (job.state !== "interrupted") return { ok: false as const, code: "JOB_NOT_INTERRUPTED" as const };
    if (!answersInterrupts(job.interrupts!, value)) return { ok: false as const, code: "INVALID_RESUME" as const };
    const json = JSON.stringify(value);
    // The answer has an id of its own (the run that takes it names it, so it is delivered once):
    // learnt from the coordinator after the step (settleResumeIds). The run that stopped at the
    // interrupt is no longer the job's: the sweep must not take its state for the result.
    Object.assign(job, { state: "queued", interrupts: null, resume: { id: null, value: value as JsonValue }, deadline: null, runId: null, outageRunId: null });
    this.record(job, "resumed", { resumeId: null, ...(json.length <= 1024 ? { value } : { valueBytes: json.length }) });
    this.dispatch();
    return { ok: true as const, data: { jobId: id, status: "queued" as const } };
  }

  // ─── Operator actions (issue #16) ──────────────────────────────────────────────────────────

  /**
   * A failed or cancelled job goes back to the queue: a fresh retry budget, no stalls, no outage
   * or busy wait of its past, no current run; its thread, attempts and resume kept; counted against capacity
   * like an enqueue. On a client-chosen thread another job holds, it waits its turn.
   */
  retry(id: string) {
    const job = this.jobs.get(id);
    if (!job) return { ok: false as const, code: "JOB_NOT_FOUND" as const };
    if (job.state !== "failed" && job.state !== "cancelled") return { ok: false as const, code: "JOB_NOT_RETRYABLE" as const };
    const full = this.queueFull();
    if (full) return full;
    const previousStatus = job.state;
    this.requeue(job);
    this.dispatch();
    return { ok: true as const, data: { jobId: id, status: "queued" as const, previousStatus } };
  }

  /** The oldest jobs in `state` after the cursor (a seq), up to `limit` and as many as capacity takes. */
  retryMany(state: "failed" | "cancelled", limit: number, afterSeq: number) {
    const page = this.list(state).filter((job) => job.seq > afterSeq).sort((a, b) => a.seq - b.seq).slice(0, limit);
    if (page.length > 0) {
      const full = this.queueFull();
      if (full) return full;
    }
    const retried = page.slice(0, CONFIG.capacity - this.active());
    for (const job of retried) this.requeue(job);
    this.dispatch();
    const more = retried.length < page.length || page.length === limit;
    return { ok: true as const, data: { jobIds: retried.map((job) => job.id), nextCursor: more && retried.length > 0 ? String(retried.at(-1)!.seq) : null } };
  }

  /** Paused, nothing is dispatched; unpaused, the free slots fill at once. */
  setPaused(paused: boolean) {
    this.paused = paused;
    this.dispatch();
    return { ok: true as const, data: { paused } };
  }

  private queueFull() {
    if (this.active() < CONFIG.capacity) return null;
    return { ok: false as const, code: "QUEUE_FULL" as const, retryAfterSeconds: Math.max(1, Math.ceil(this.avgProcessSeconds() / CONFIG.concurrency)) };
  }

  private requeue(job: ModelJob): void {
    const previousStatus = job.state;
    const waiting = sharedThread(job) && this.onThread(job.threadId!).length > 0;
    this.retriedTotal++;
    const retryCount = job.retryCount;
    Object.assign(job, {
      state: waiting ? "waiting" : "queued", retryCount: 0, endedAt: null, expiresAt: null, error: null,
      stalls: 0, runId: null, outageSince: null, outageRunId: null, busySince: null,
    });
    this.record(job, "retried", { previousStatus, retryCount, waitingForThread: waiting ? true : undefined });
  }

  // ─── Consumer and follower reports ─────────────────────────────────────────────────────────

  /** Why a report naming `attempt` is refused: the job must be in flight under that attempt, in state `expected`. */
  refusal(job: ModelJob | undefined, attempt: number, expected: "dispatched" | "running"): Refusal | null {
    if (!job) return "JOB_NOT_FOUND";
    if (job.state === "cancelled") return "JOB_CANCELLED";
    if (TERMINAL.includes(job.state)) return "JOB_ENDED";
    if (!inFlight(job.state) || job.attempt !== attempt) return "STALE_ATTEMPT";
    if (job.state !== expected) return "STALE_ATTEMPT";
    return null;
  }

  /** A claim; a repeated delivery of the running attempt is answered too (to finish its hand-over), changing only its lease. */
  claim(id: string, attempt: number) {
    const job = this.jobs.get(id);
    const redelivery = job?.state === "running" && job.attempt === attempt;
    const refused = redelivery ? null : this.refusal(job, attempt, "dispatched");
    if (refused || !job) return { ok: false as const, code: refused! };
    const firstRun = job.startedAt === null;
    // An outage since the job's current run began: that run may be one LangGraph lost.
    const afterOutage = job.outageSince !== null || (job.outageRunId !== null && job.outageRunId === job.runId);
    Object.assign(job, { state: "running", startedAt: job.startedAt ?? this.now, attemptStartedAt: job.attemptStartedAt ?? this.now, leaseUntil: this.now + CONFIG.leaseMs });
    // The job's own time limit runs from the attempt's first claim.
    const timeoutMs = timeoutMsOf(job.body);
    if (!redelivery) job.deadline = timeoutMs === null ? null : this.now + timeoutMs;
    job.deliveries++;
    if (redelivery) {
      this.record(job, "redelivered", { deliveries: job.deliveries });
    } else {
      job.claims++;
      this.record(job, "started", { retryCount: job.retryCount });
    }
    return {
      ok: true as const,
      data: {
        jobId: id, type: job.body.type, assistantId: job.body.assistantId ?? job.body.type, payloadJson: JSON.stringify(job.body.payload),
        runOptionsJson: runOptionsOf(job.body) === null ? null : JSON.stringify(runOptionsOf(job.body)), sharedThread: sharedThread(job),
        resumeJson: resumeJsonOf(job), attempt, retryCount: job.retryCount, threadId: job.threadId, firstRun, afterOutage, redelivery,
      },
    };
  }

  report(id: string, attempt: number, update: ProgressUpdate) {
    const job = this.jobs.get(id);
    const refused = this.refusal(job, attempt, "running");
    if (refused || !job) return { ok: false as const, code: refused! };
    job.leaseUntil = this.now + CONFIG.leaseMs;
    if (update.progress !== undefined) job.progress = Math.max(0, Math.min(100, Math.round(update.progress)));
    const stepChanged = update.currentStep !== undefined && update.currentStep !== job.currentStep;
    const runChanged = update.runId !== undefined && update.runId !== job.runId;
    // A thread the client chose is the conversation's: never swapped for a copy.
    const newThread = sharedThread(job) ? undefined : update.threadId;
    const threadChanged = newThread !== undefined && newThread !== job.threadId;
    if (update.currentStep !== undefined) job.currentStep = update.currentStep;
    if (newThread !== undefined) job.threadId = newThread;
    // A run found going after an outage may be one LangGraph lost, while it stays the job's.
    if (update.rejoined && update.runId !== undefined && job.outageSince !== null) job.outageRunId = update.runId;
    if (update.runId !== undefined) {
      job.runId = update.runId;
      // The job has a run: whatever held its thread is gone.
      job.busySince = null;
      // A run was created or found: LangGraph answers.
      this.answered(job);
    }
    if (stepChanged) this.record(job, "progress", { progress: job.progress, step: job.currentStep });
    if (threadChanged) this.record(job, "thread_replaced", { to: job.threadId });
    if (runChanged) this.record(job, "run_created", { runId: job.runId });
    if (update.rejoined) this.record(job, "rejoined", { runId: job.runId });
    this.dispatch();
    return { ok: true as const, data: null };
  }

  complete(id: string, attempt: number, result: unknown) {
    const job = this.jobs.get(id);
    const refused = this.refusal(job, attempt, "running");
    if (refused || !job) return { ok: false as const, code: refused! };
    this.answered(job);
    this.finish(job, result, {});
    this.dispatch();
    return { ok: true as const, data: { state: "completed" as const } };
  }

  /** The attempt's run stopped at the graph's interrupt(): LangGraph answered; the job frees its slot and waits for a resume. */
  interrupted(id: string, attempt: number, interrupts: PendingInterrupt[]) {
    const job = this.jobs.get(id);
    const refused = this.refusal(job, attempt, "running");
    if (refused || !job) return { ok: false as const, code: refused! };
    this.answered(job);
    Object.assign(job, { state: "interrupted", interrupts, resume: null, leaseUntil: null, deadline: this.now + CONFIG.interruptTimeoutMs });
    this.record(job, "interrupted", { interrupts: interrupts.map(({ id: interruptId, node }) => ({ id: interruptId, node })) });
    this.dispatch();
    return { ok: true as const, data: { state: "interrupted" as const } };
  }

  fail(id: string, attempt: number, failure: Failure) {
    const job = this.jobs.get(id);
    const refused = this.refusal(job, attempt, "running");
    if (refused || !job) return { ok: false as const, code: refused! };
    if (!failure.unreachable && !failure.ours) this.answered(job);
    const state = this.failAttempt(job, failure);
    this.dispatch();
    return { ok: true as const, data: { state } };
  }

  /**
   * The dead-letter consumer: the Queue gave up delivering this attempt. Never claimed: the
   * coordinator was not reached, a stall. Claimed: the consumer kept failing on it, a failed attempt.
   */
  deadLetter(id: string, attempt: number): boolean {
    const job = this.jobs.get(id);
    if (!job || !inFlight(job.state) || job.attempt !== attempt) return false;
    if (job.state === "dispatched") this.stall(job, /no delivery .* reached the coordinator/);
    else this.failAttempt(job, { error: `the consumer failed on all ${job.deliveries} deliveries of attempt ${attempt} that reached the coordinator`, retryable: true });
    this.dispatch();
    return true;
  }

  /** The sweep found the attempt's run succeeded while nobody listened; it took `runMs` by LangGraph's clock. */
  recordFinishedRun(id: string, attempt: number, result: unknown, runMs: number): boolean {
    const job = this.jobs.get(id);
    if (!job || job.attempt !== attempt || (job.state !== "running" && job.state !== "delayed")) return false;
    this.answered(job);
    this.finish(job, result, { reconciled: true }, runMs);
    this.dispatch();
    return true;
  }

  // ─── Time ──────────────────────────────────────────────────────────────────────────────────

  /** Everything due at `now`: the probe, retries, leases, then deadlines (of what is left in its state), records; then dispatch. */
  runTimers(): void {
    if (this.circuit.state === "open" && this.circuit.probeAt !== null && this.circuit.probeAt <= this.now) {
      this.circuit = { ...this.circuit, state: "half_open", probeAt: null };
    }
    for (const job of this.list("delayed")) {
      if ((job.nextRetryAt as number) > this.now) continue;
      Object.assign(job, { state: "queued", nextRetryAt: null });
      this.record(job, "retry_due", { retryCount: job.retryCount });
    }
    for (const job of this.list("dispatched", "running")) {
      if (job.leaseUntil! > this.now) continue;
      if (job.state === "running") {
        // Not the job's doing: a stall, back to the queue unspent, up to maxStalls.
        this.stall(job, /lease expired/);
      } else {
        // Sent but never claimed: not the job's fault, no retry spent.
        Object.assign(job, { state: "queued", leaseUntil: null });
        this.record(job, "dispatch_expired");
      }
    }
    for (const job of [...this.jobs.values()].filter((each) => each.deadline !== null && each.deadline <= this.now)) {
      if (job.state === "running") {
        // Not retried: a run that outlasted its limit once would most likely do so again.
        this.failAttempt(job, { error: "timed out", retryable: false }, /^timed out: the run took longer than the job's timeoutSeconds/);
      } else if (job.state === "interrupted") {
        this.failedTotal++;
        this.end(job, "failed", { interruptExpired: true }, /^interrupted: no resume within INTERRUPT_TIMEOUT_SECONDS/);
      }
    }
    for (const job of this.list(...TERMINAL)) {
      if (job.expiresAt! <= this.now) this.jobs.delete(job.id);
    }
    this.dispatch();
  }

  /** The cron sweep: jobs running for JOB_TIMEOUT_SECONDS or more fail, then the timers run. */
  sweep(): { timedOut: number } {
    const overdue = this.list("running").filter((job) => this.now - job.attemptStartedAt! >= CONFIG.jobTimeoutMs);
    for (const job of overdue) this.failAttempt(job, { error: "timed out", retryable: false }, /timed out/);
    this.runTimers();
    return { timedOut: overdue.length };
  }

  /**
   * Learns the id the coordinator drew for each resume not yet known (from the job's stored
   * resume): a UUID never drawn before. The `resumed` event names it too.
   */
  settleResumeIds(actual: (id: string) => string | null): void {
    for (const job of this.jobs.values()) {
      if (job.resume === null || job.resume.id !== null) continue;
      const stored = actual(job.id);
      const id = stored === null ? null : (JSON.parse(stored) as { id?: unknown }).id;
      if (typeof id !== "string" || !UUID.test(id) || this.resumeIds.has(id)) {
        throw new Error(`job ${job.id}: resume stored as ${stored}, expected a new UUID as its id`);
      }
      this.resumeIds.add(id);
      job.resume.id = id;
      const resumed = job.events.findLast((e) => e.event === "resumed");
      if (resumed?.detail) resumed.detail.resumeId = id;
    }
  }

  /** Adopts the coordinator's jittered retry times once they are in their allowed range. */
  settleRetryTimes(actual: (id: string) => number | null): void {
    for (const job of this.jobs.values()) {
      if (job.nextRetryAt === null || typeof job.nextRetryAt === "number") continue;
      const at = actual(job.id);
      const { min, max } = job.nextRetryAt;
      if (at === null || at < min || at > max) {
        throw new Error(`job ${job.id}: next retry at ${at}, expected within [${min}, ${max}] (retry ${job.retryCount})`);
      }
      job.nextRetryAt = at;
    }
  }

  // ─── Rules ─────────────────────────────────────────────────────────────────────────────────

  /** Fills free slots with the best ready jobs, as the circuit allows: all when closed, none when open, one probe when half-open. */
  private dispatch(): void {
    if (this.paused) return;
    const free = CONFIG.concurrency - this.busy();
    const probe = this.circuit.probe;
    const probeInFlight = probe !== null && this.jobs.get(probe.id)?.attempt === probe.attempt && inFlight(this.jobs.get(probe.id)!.state);
    const allowed = this.circuit.state === "closed" ? free : this.circuit.state === "open" || probeInFlight ? 0 : Math.min(free, 1);
    // The probe: the best ready job that has not met the outage, else the best ready job.
    const ready = this.readyInOrder();
    const candidates = this.circuit.state === "half_open" ? [ready.find((job) => job.outageSince === null) ?? ready[0]].filter((job) => job !== undefined) : ready;
    const sent = candidates.slice(0, Math.max(0, allowed));
    for (const job of sent) {
      Object.assign(job, { state: "dispatched", attempt: job.attempt + 1, attemptStartedAt: null, leaseUntil: this.now + CONFIG.dispatchLeaseMs, deliveries: 0 });
      this.record(job, "dispatched");
    }
    if (this.circuit.state === "half_open" && sent[0]) this.circuit = { ...this.circuit, probe: { id: sent[0].id, attempt: sent[0].attempt } };
  }

  /** A failed attempt: back to the queue (LangGraph unreachable), a retry after a backoff, or the end. */
  private failAttempt(job: ModelJob, failure: Failure, error: ExpectedError = failure.error): State {
    // Another run holds the thread: not the job's fault. Waited out, no retry spent, for up to
    // JOB_TIMEOUT_SECONDS from the first busy answer since the job last had a run, looking again
    // after half the time waited so far (within RETRY_BASE_MS and RETRY_MAX_MS); then the attempt fails.
    if (failure.threadBusy) {
      const since = job.busySince ?? this.now;
      const waited = this.now - since;
      if (waited < CONFIG.jobTimeoutMs) {
        const nextRetryAt = this.now + Math.min(CONFIG.retryMaxMs, Math.max(CONFIG.retryBaseMs, Math.round(waited / 2)));
        Object.assign(job, { state: "delayed", busySince: since, leaseUntil: null, error, deadline: null, nextRetryAt });
        this.record(job, "thread_busy", { error: failure.error, busySince: new Date(since).toISOString(), nextRetryAt: new Date(nextRetryAt).toISOString() });
        return "delayed";
      }
      failure = { error: `the thread stayed busy for more than ${CONFIG.jobTimeoutMs / 1000}s: ${failure.error}`, retryable: false };
      error = failure.error;
    }
    // Unreachable again though LangGraph answered since this job's outage began: the job's own trouble.
    if (failure.unreachable && job.outageSince !== null && this.circuit.closedAt !== null && this.circuit.closedAt > job.outageSince) {
      failure = { error: `${failure.error} (LangGraph answered other jobs meanwhile)`, retryable: true };
      error = failure.error;
    }
    if (failure.unreachable) {
      this.trip();
      const since = job.outageSince ?? this.now;
      if (this.now - since < CONFIG.jobTimeoutMs) {
        Object.assign(job, { state: "queued", leaseUntil: null, error: failure.error, outageSince: since, outageRunId: job.runId, deadline: null });
        this.record(job, "outage");
        return "queued";
      }
      this.failedTotal++;
      this.end(job, "failed", {}, new RegExp(`unreachable.*${escapeRegExp(failure.error)}`));
      return "failed";
    }
    if (failure.retryable && job.retryCount < job.maxRetries) {
      const retry = job.retryCount + 1;
      this.retriedTotal++;
      const nominal = Math.min(CONFIG.retryMaxMs, CONFIG.retryBaseMs * 2 ** (retry - 1));
      Object.assign(job, {
        state: "delayed", retryCount: retry, leaseUntil: null, error, deadline: null,
        nextRetryAt: { min: this.now + Math.round(nominal / 2), max: this.now + nominal },
      });
      this.record(job, "retry_scheduled", { retryCount: retry });
      return "delayed";
    }
    this.failedTotal++;
    this.end(job, "failed", {}, error);
    return "failed";
  }

  /** A stall: back to the queue without spending a retry, or, past maxStalls, a failed attempt. */
  private stall(job: ModelJob, reason: RegExp): void {
    job.stalls++;
    if (job.stalls > CONFIG.maxStalls) {
      this.failAttempt(job, { error: "stalled", retryable: true }, new RegExp(`${reason.source}.*stalled ${job.stalls} times`));
      return;
    }
    Object.assign(job, { state: "queued", leaseUntil: null, deadline: null });
    this.record(job, "stalled", { stalls: job.stalls });
  }

  /**
   * A job completed; its run time (the attempt's, unless LangGraph says otherwise) feeds the
   * averages. A result of any size completes it: one over 1 MiB is kept in the bucket.
   */
  private finish(job: ModelJob, result: unknown, detail: Record<string, unknown>, runMs?: number): void {
    const durationMs = runMs ?? this.now - (job.attemptStartedAt ?? this.now);
    this.completedTotal++;
    this.processMsTotal += durationMs;
    const ofType = this.byType.get(job.body.type) ?? { completed: 0, processMs: 0 };
    this.byType.set(job.body.type, { completed: ofType.completed + 1, processMs: ofType.processMs + durationMs });
    job.progress = 100;
    job.result = result;
    job.resultInBucket = overRow(result);
    this.end(job, "completed", { durationMs, ...detail }, null);
  }

  /** A job ends; if it held its client-chosen thread, the oldest job waiting for that thread is queued. */
  private end(job: ModelJob, state: "completed" | "failed" | "cancelled", detail: Record<string, unknown>, error?: ExpectedError): void {
    const heldThread = sharedThread(job) && job.state !== "waiting";
    Object.assign(job, { state, endedAt: this.now, expiresAt: this.now + CONFIG.resultTtlMs, leaseUntil: null, nextRetryAt: null, deadline: null, interrupts: null });
    if (error !== undefined) job.error = error;
    this.record(job, state, detail);
    if (!heldThread) return;
    const next = this.onThread(job.threadId!).find((other) => other.state === "waiting");
    if (!next) return;
    next.state = "queued";
    this.record(next, "thread_free", { after: job.id });
  }

  /** An attempt found LangGraph unreachable: the circuit opens, or reopens for twice as long after a failed probe. */
  private trip(): void {
    if (this.circuit.state === "open") return;
    const probeDelayMs = this.circuit.state === "half_open" ? Math.min(2 * this.circuit.probeDelayMs, CONFIG.probeMaxMs) : CONFIG.probeFirstMs;
    this.circuit = { ...this.circuit, state: "open", openedAt: this.circuit.openedAt ?? this.now, probeAt: this.now + probeDelayMs, probeDelayMs, probe: null };
  }

  /** An attempt showed LangGraph answering: the circuit closes, and the job's outage is over. */
  private answered(job: ModelJob): void {
    if (this.circuit.state !== "closed") this.circuit = { ...CLOSED, closedAt: this.now };
    job.outageSince = null;
  }

  private record(job: ModelJob, event: string, detail?: Record<string, unknown>): void {
    job.events.push({ event, attempt: job.attempt, at: this.now, ...(detail ? { detail } : {}) });
  }

  private enqueueView(job: ModelJob) {
    const view = this.waitingView(job);
    return { jobId: job.id, status: publicOf(job.state), priority: job.priority, queuePosition: view?.queuePosition ?? 0, estimatedWaitTime: view?.estimatedWaitTime ?? 0 };
  }

  /**
   * Where a queued job stands: dispatched ones are leaving (position 0); a job waiting out a retry
   * has no position; one waiting for its thread stands where it would if its turn came now (behind
   * every ready job of its priority and above), and waits one run more (the one ahead on its thread).
   */
  waitingView(job: ModelJob): { queuePosition: number; estimatedWaitTime: number; waitingForThread?: true } | null {
    if (job.state === "dispatched") return { queuePosition: 0, estimatedWaitTime: 0 };
    if (job.state === "waiting") {
      const ahead = this.list("queued").filter((other) => this.score(other) >= this.score(job)).length;
      return { queuePosition: ahead + 1, estimatedWaitTime: this.estimateWait(ahead) + Math.ceil(this.avgProcessSeconds()), waitingForThread: true };
    }
    if (job.state !== "queued") return null;
    const ahead = this.jobsAhead(job);
    return { queuePosition: ahead + 1, estimatedWaitTime: this.estimateWait(ahead) };
  }

  /** The estimate's formula is jobs.ts's, unit-tested on its own; here its inputs are checked. */
  private estimateWait(ahead: number): number {
    const mustWaitFor = ahead - Math.max(0, CONFIG.concurrency - this.busy()) + 1;
    return mustWaitFor <= 0 ? 0 : Math.ceil(Math.ceil(mustWaitFor / CONFIG.concurrency) * this.avgProcessSeconds());
  }
}

/** A record holds at most 1 MiB of result, counted in UTF-8 bytes; a larger one (up to 25 MiB) is kept in the bucket. */
const overRow = (result: unknown): boolean => new TextEncoder().encode(JSON.stringify(result ?? null)).byteLength > 1024 * 1024;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
