/**
 * Issue #7: the coordinator's invariants, checked by a model-based test. fast-check generates
 * random sequences of everything that can happen to a queue (enqueues at every priority, on a
 * thread of its own or on one of a few client-chosen threads, with or without a timeoutSeconds,
 * an assistant or run options; enqueues of a taken id, agreeing or not; cancels, claims current,
 * duplicate and stale, progress reports, completions, failures retryable or not, with LangGraph
 * unreachable, or with the thread busy (once, or look after look up to and past the end of its
 * wait, JOB_TIMEOUT_SECONDS); interrupts with one or two questions and resumes that
 * answer them or not; dead letters, reconciled runs, alarms on time and late, the real alarm
 * handler, the cron sweep, evictions, time passing by up to a day, or to a run's own timeout,
 * a busy thread's or an interrupt's end of patience a week on), runs each against a
 * fresh coordinator and against the reference model (test/support/coordinator-model.ts), and
 * after every step checks
 *  - the invariants, on what the coordinator shows alone (its SQLite tables, stats, status,
 *    list, history, alarm): see `checkInvariants`;
 *  - that it agrees with the model: every record, every history event, every answer.
 *
 * The clock starts in 2045 so that no alarm fires on its own while a sequence runs (workerd
 * fires alarms that are due); the real alarm handler is run with `Date.now` pinned to the model's
 * clock. `Math.random` (the retry jitter) is seeded per sequence, so a failure replays exactly:
 * the message prints the seed and path, and the steps the failing sequence took.
 *
 * Default: 200 sequences of up to 50 operations (some operations take several steps), but after
 * 30 s (VITE_MODEL_SECONDS) no new sequence starts: on this 2-core machine, otherwise idle, about
 * 130 sequences and 4,300 steps in 31 s (the model before interrupts and threads: 120 and 4,400;
 * with busy threads waited out for JOB_TIMEOUT_SECONDS, under a load of 1.3 from other work: 89 and 3,227).
 * It prints how many, and what happened: the history events written and the refusals, by name.
 * A soak: as many sequences of up to 100 operations as two minutes allow (194 sequences, 14,211
 * steps when interrupts and threads came in; 174 and 13,134 with busy-thread waits, under that
 * load; VITE_MODEL_SECONDS=300 for five minutes):
 *   VITE_MODEL_RUNS=100000 VITE_MODEL_STEPS=100 VITE_MODEL_SECONDS=120 npx vitest run --project unit test/unit/coordinator-model.test.ts --silent=false
 * (VITE_: only such variables of the shell reach the tests inside workerd.) A failure prints the
 * command that replays it (VITE_MODEL_SEED, VITE_MODEL_PATH, VITE_MODEL_COMMANDS).
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, it, vi } from "vitest";
import type { JobRow } from "../../src/coordinator/job-store";
import type { JobType, JsonValue, Priority } from "../../src/jobs";
import type { QueueCoordinator } from "../../src/queue-do";
import {
  ACTIVE, bodyKey, CONFIG, CoordinatorModel, inFlight, publicOf, PUBLIC_STATUSES, ranksBefore, resumeJsonOf, runOptionsOf, SCORES, sharedThread, STATES, TERMINAL,
  timeoutMsOf, UUID, WITH_DEADLINE, type Body, type Failure, type ModelJob, type PendingInterrupt, type ProgressUpdate, type PublicStatus, type State,
} from "../support/coordinator-model";

type Stub = DurableObjectStub<QueueCoordinator>;

// Read at run time from process.env: `import.meta.env` is replaced when the file is transformed, and that is cached.
const setting = (name: string): string | undefined =>
  (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env[`VITE_${name}`];
const RUNS = Number(setting("MODEL_RUNS") ?? 200);
const STEPS = Number(setting("MODEL_STEPS") ?? 50);
/** No new sequence starts after this many seconds: 30 by default, so that a busy machine runs fewer rather than taking longer. */
const SECONDS = Number(setting("MODEL_SECONDS") ?? 30);
const REPLAY_SEED = setting("MODEL_SEED");
const REPLAY_PATH = setting("MODEL_PATH");
/** fc.commands' own replay path, which the counterexample shows as `replayPath="…"`. */
const REPLAY_COMMANDS = setting("MODEL_COMMANDS");

/** 2045-01-01: far enough ahead that workerd never fires one of these alarms by itself. */
const T0 = Date.UTC(2045, 0, 1);
const HOUR = 3_600_000;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

// ─── What the coordinator shows ────────────────────────────────────────────────────────────

type Row = JobRow & { outage_since_ms?: number | null };
/** One entry of a job's history (kept in the job's row): `index` is its place there, `job_seq` the job's. */
type EventRecord = { job_seq: number; index: number; job_id: string; at_ms: number; event: string; attempt: number; detail: string | null };
/** Per job (by seq), how many history entries it had: what was new since is what a step wrote. */
type HistoryLengths = Map<number, number>;
const historyLengths = (events: EventRecord[]): HistoryLengths => new Map(events.map((e) => [e.job_seq, e.index + 1]));
const writtenSince = (events: EventRecord[], before: HistoryLengths) => events.filter((e) => e.index >= (before.get(e.job_seq) ?? 0));

interface Snapshot {
  rows: Row[];
  events: EventRecord[];
  counters: Record<string, number>;
  meta: Record<string, string>;
  alarm: number | null;
  stats: Awaited<ReturnType<QueueCoordinator["stats"]>>;
  statuses: Map<string, ReturnType<QueueCoordinator["status"]>>;
  histories: Map<string, ReturnType<QueueCoordinator["history"]>>;
  lists: Record<"all" | PublicStatus, string[]>;
  pages: { all: string[]; queued: string[] };
  runs: ReturnType<QueueCoordinator["runsToCheck"]>;
  /** The keys of the queue's objects in the RESULTS bucket. */
  objects: string[];
}

/**
 * Everything at once, in one request: the tables read through SQL, and the views through the
 * methods clients use: `status` of `statusIds`, `history` of `historyIds`.
 */
function snapshot(stub: Stub, now: number, statusIds: readonly string[] = [], historyIds: readonly string[] = []): Promise<Snapshot> {
  return runInDurableObject(stub, async (instance: QueueCoordinator, state) => {
    const sql = state.storage.sql;
    const list = (status?: PublicStatus) =>
      instance.list({ status, limit: 1000 }).jobs.map((job) => job.jobId);
    /** The same list, read a few jobs at a time through nextCursor. */
    const paged = (status: "queued" | undefined, limit: number) => {
      const ids: string[] = [];
      for (let cursor: string | undefined, pages = 0; pages < 100; pages++) {
        const page = instance.list({ status, limit, cursor });
        ids.push(...page.jobs.map((job) => job.jobId));
        if (page.nextCursor === null) return ids;
        cursor = page.nextCursor;
      }
      return [...ids, "…more than 100 pages"];
    };
    const stored = sql.exec<Row & { history: string }>("SELECT * FROM jobs ORDER BY seq").toArray();
    const { counters = "{}", ...meta } = Object.fromEntries(sql.exec<{ key: string; value: string }>("SELECT key, value FROM meta").toArray().map((r) => [r.key, r.value]));
    return {
      rows: stored.map(({ history: _history, ...row }) => row),
      events: stored.flatMap((row) => (JSON.parse(row.history) as { at_ms: number; event: string; attempt: number; detail: unknown }[]).map((e, index) => ({
        job_seq: row.seq, index, job_id: row.id, at_ms: e.at_ms, event: e.event, attempt: e.attempt, detail: JSON.stringify(e.detail),
      }))),
      counters: JSON.parse(counters) as Record<string, number>,
      meta,
      alarm: await state.storage.getAlarm(),
      stats: instance.stats(),
      statuses: new Map(statusIds.map((id) => [id, instance.status(id, now)])),
      histories: new Map(historyIds.map((id) => [id, instance.history(id)])),
      lists: {
        all: list(), queued: list("queued"), running: list("running"), interrupted: list("interrupted"),
        completed: list("completed"), failed: list("failed"), cancelled: list("cancelled"),
      },
      pages: { all: paged(undefined, 3), queued: paged("queued", 2) },
      runs: instance.runsToCheck(now),
      objects: (await env.RESULTS.list({ prefix: `results/${encodeURIComponent(instance.queueName)}/` })).objects.map((o) => o.key).sort(),
    };
  });
}

// ─── Comparing ─────────────────────────────────────────────────────────────────────────────

const ANY_STRING = Symbol("any string");

/** Where `actual` differs from `expected`: a RegExp in `expected` matches a string, ANY_STRING any string; undefined keys are absent. */
function differences(actual: unknown, expected: unknown, path = ""): string[] {
  if (expected instanceof RegExp) return typeof actual === "string" && expected.test(actual) ? [] : [`${path}: ${JSON.stringify(actual)} does not match ${expected}`];
  if (expected === ANY_STRING) return typeof actual === "string" ? [] : [`${path}: ${JSON.stringify(actual)} is not a string`];
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: ${JSON.stringify(actual)}, expected an array`];
    if (actual.length !== expected.length) return [`${path}: coordinator ${JSON.stringify(actual)}, model ${JSON.stringify(expected)}`];
    return expected.flatMap((item, i) => differences(actual[i], item, `${path}[${i}]`));
  }
  if (expected !== null && typeof expected === "object") {
    if (actual === null || typeof actual !== "object") return [`${path}: ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`];
    const keys = new Set([...Object.keys(actual), ...Object.keys(expected)]);
    return [...keys].flatMap((key) =>
      differences((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key], path ? `${path}.${key}` : key),
    );
  }
  return Object.is(actual, expected) ? [] : [`${path}: coordinator ${JSON.stringify(actual)}, model ${JSON.stringify(expected)}`];
}

function same(what: string, actual: unknown, expected: unknown): void {
  const found = differences(actual, expected);
  if (found.length > 0) throw new Error(`${what} differs:\n  ${found.slice(0, 12).join("\n  ")}`);
}

function ensure(condition: boolean, message: () => string): void {
  if (!condition) throw new Error(`invariant: ${message()}`);
}

const parse = (json: string | null): unknown => (json === null ? null : JSON.parse(json));
const rankOf = (row: Pick<Row, "score" | "seq">) => ({ score: row.score, seq: row.seq });

// ─── Invariants: what must hold of the coordinator alone ───────────────────────────────────

interface StepContext {
  now: number;
  /** The step was refused (a full queue, a conflict, a stale or duplicate report), or changes nothing by nature (time passing, an eviction). */
  unchanged: boolean;
  /** The circuit when the step began (closed before the breaker existed). */
  circuitBefore: string;
  /** Events after this seq were written while the circuit was half-open. */
  halfOpenSince: HistoryLengths | null;
}

function checkInvariants(prev: Snapshot, snap: Snapshot, ctx: StepContext): void {
  const { rows, stats } = snap;
  const count = (...states: State[]) => rows.filter((row) => states.includes(row.state as State)).length;
  const circuit = stats.langgraph?.circuit ?? "closed";

  // Capacity (jobs waiting for their thread and interrupted ones count) and concurrency (slots: dispatched and running jobs only).
  ensure(count(...ACTIVE) <= CONFIG.capacity, () => `${count(...ACTIVE)} active jobs, capacity ${CONFIG.capacity}`);
  ensure(count("dispatched", "running") <= CONFIG.concurrency, () => `${count("dispatched", "running")} jobs hold slots, concurrency ${CONFIG.concurrency}`);

  // Client-chosen threads: one job at a time. Of a thread's jobs that have not ended at most one
  // is not waiting, and any that wait do so behind it: it was enqueued before all of them.
  const lastEvent = new Map(snap.events.map((e) => [e.job_id, e]));
  const onThreads = Map.groupBy(rows.filter((row) => row.shared_thread === 1 && !TERMINAL.includes(row.state as State)), (row) => row.thread_id);
  for (const [thread, jobs] of onThreads) {
    const holders = jobs.filter((row) => row.state !== "waiting");
    const waiting = jobs.filter((row) => row.state === "waiting");
    ensure(holders.length <= 1, () => `thread ${thread} held by ${holders.length} jobs at once: ${holders.map((row) => `${row.id} (${row.state})`)}`);
    // A job retried onto a thread another job holds waits behind it whatever its age.
    ensure(waiting.length === 0 || (holders.length === 1 && waiting.every((row) => row.seq > holders[0]!.seq || lastEvent.get(row.id)?.event === "retried")),
      () => `thread ${thread}: ${waiting.map((row) => row.id)} wait for ${holders.map((row) => row.id).join() || "nobody"}`);
  }
  for (const row of rows) {
    // Deadlines and interrupts belong to their states.
    if (!WITH_DEADLINE.includes(row.state as State)) ensure(row.deadline_ms === null, () => `job ${row.id} (${row.state}) has a deadline ${row.deadline_ms}`);
    if (row.state === "running") {
      const expected = row.timeout_ms === null ? null : row.attempt_started_at_ms! + row.timeout_ms;
      ensure(row.deadline_ms === expected, () => `running job ${row.id}: deadline ${row.deadline_ms}, its attempt's first claim + timeout ${expected}`);
    }
    if (row.state === "interrupted") ensure(row.deadline_ms !== null && row.interrupts !== null && row.lease_until_ms === null, () => `interrupted job ${row.id}: deadline ${row.deadline_ms}, interrupts ${row.interrupts}, lease ${row.lease_until_ms}`);
    else ensure(row.interrupts === null, () => `job ${row.id} (${row.state}) keeps interrupts ${row.interrupts}`);
    // A job waiting for its thread was never sent anywhere, unless it was retried to wait.
    if (row.state === "waiting") {
      ensure(row.shared_thread === 1 && ((row.attempt === 0 && row.started_at_ms === null) || lastEvent.get(row.id)?.event === "retried"),
        () => `waiting job ${row.id}: attempt ${row.attempt}, started ${row.started_at_ms}`);
    }
  }

  // A refused request (a full queue, a conflict, a stale or duplicate report) changes nothing.
  if (ctx.unchanged) {
    same("storage after a refused request", { rows: snap.rows, events: snap.events, counters: snap.counters, meta: snap.meta, alarm: snap.alarm },
      { rows: prev.rows, events: prev.events, counters: prev.counters, meta: prev.meta, alarm: prev.alarm });
  }

  // The counters behind stats are a recount of the records.
  for (const state of STATES) {
    ensure((snap.counters[`state:${state}`] ?? 0) === count(state), () => `counter state:${state} is ${snap.counters[`state:${state}`]}, ${count(state)} records`);
  }
  same("stats against a recount", {
    totalJobs: stats.totalJobs, queuedJobs: stats.queuedJobs, runningJobs: stats.runningJobs, interruptedJobs: stats.interruptedJobs,
    completedJobs: stats.completedJobs, failedJobs: stats.failedJobs, cancelledJobs: stats.cancelledJobs,
  }, {
    totalJobs: rows.length, queuedJobs: count("queued", "delayed", "dispatched", "waiting"), runningJobs: count("running"), interruptedJobs: count("interrupted"),
    completedJobs: count("completed"), failedJobs: count("failed"), cancelledJobs: count("cancelled"),
  });

  // An alarm is set, no later than the earliest timer, whenever there is one (it may be earlier:
  // it is only moved earlier, and re-arms when it fires with nothing due).
  const timers = rows.flatMap((row) => [
    row.state === "delayed" ? row.next_retry_at_ms : null,
    row.state === "dispatched" || row.state === "running" ? row.lease_until_ms : null,
    row.deadline_ms,
    TERMINAL.includes(row.state as State) ? row.expires_at_ms : null,
  ]).filter((at): at is number => at !== null);
  if (circuit === "open") timers.push(Date.parse(stats.langgraph!.nextProbeAt!));
  if (timers.length > 0) ensure(snap.alarm !== null && snap.alarm <= Math.min(...timers), () => `alarm ${snap.alarm}, earliest timer ${Math.min(...timers)}`);
  if (stats.langgraph) {
    const { openedAt, nextProbeAt } = stats.langgraph;
    ensure((circuit === "closed") === (openedAt === null) && (circuit === "open") === (nextProbeAt !== null), () => `circuit ${JSON.stringify(stats.langgraph)}`);
  }

  // Each job in exactly one state, shown to clients as the README says.
  const inLists = PUBLIC_STATUSES.flatMap((status) => snap.lists[status]);
  same("jobs listed by status (each exactly once)", [...inLists].sort(), rows.map((row) => row.id).sort());
  same("list read page by page", snap.pages, { all: snap.lists.all, queued: snap.lists.queued });
  // Every result object is named by a record, and every object a record names is there: a refused report or an expired record leaves none behind.
  same("result objects in the bucket", snap.objects, rows.map((row) => row.result_ref).filter((ref) => ref?.startsWith("results/")).sort());
  for (const row of rows) {
    ensure(STATES.includes(row.state as State), () => `job ${row.id} in unknown state ${row.state}`);
    const status = snap.statuses.get(row.id);
    if (!status) continue;
    ensure(status.ok, () => `status of existing job ${row.id} refused`);
    if (!status.ok) continue;
    const view = status.data;
    ensure(view.status === publicOf(row.state as State) && snap.lists[view.status].includes(row.id), () => `job ${row.id} (${row.state}) shows ${view.status}`);
    if (row.state === "dispatched") ensure(view.queuePosition === 0, () => `dispatched job ${row.id} at queuePosition ${view.queuePosition}`);
    if (row.state === "delayed") ensure(view.nextRetryAt === iso(row.next_retry_at_ms) && view.queuePosition === undefined, () => `job ${row.id} waiting to retry shows ${JSON.stringify(view)}`);
    if (row.state === "queued") {
      const ahead = rows.filter((other) => other.state === "queued" && ranksBefore(rankOf(other), rankOf(row))).length;
      ensure(view.queuePosition === ahead + 1, () => `job ${row.id} at queuePosition ${view.queuePosition}, ${ahead} ready jobs ahead`);
    }
    if (row.state === "waiting") {
      // Where it would stand if its turn came now: behind every ready job of its priority and above.
      const ahead = rows.filter((other) => other.state === "queued" && other.score >= row.score).length;
      ensure(view.queuePosition === ahead + 1 && view.waitingForThread === true, () => `job ${row.id} waiting for its thread shows ${JSON.stringify(view)}, ${ahead} ready jobs ahead`);
    }
    if (row.state === "running") ensure(view.startedAt !== null && row.attempt_started_at_ms !== null, () => `running job ${row.id} has no start time`);
    const asked = view as { interrupts?: unknown; interruptExpiresAt?: unknown };
    if (row.state === "interrupted") {
      same(`interrupts shown by ${row.id}`, { interrupts: asked.interrupts, interruptExpiresAt: asked.interruptExpiresAt }, { interrupts: parse(row.interrupts), interruptExpiresAt: iso(row.deadline_ms) });
    } else {
      ensure(!("interrupts" in view) && !("interruptExpiresAt" in view), () => `job ${row.id} (${row.state}) shows interrupts`);
    }
  }

  // An ended record stays as it was until it expires, unless an operator retried it.
  const byId = new Map(rows.map((row) => [row.id, row]));
  const newEvents = writtenSince(snap.events, historyLengths(prev.events));
  for (const before of prev.rows.filter((row) => TERMINAL.includes(row.state as State))) {
    const after = byId.get(before.id);
    if (!after) ensure(before.expires_at_ms! <= ctx.now, () => `ended job ${before.id} deleted before it expired`);
    else if (newEvents.some((e) => e.job_id === before.id && e.event === "retried")) ensure(after.ended_at_ms === null && after.expires_at_ms === null, () => `retried job ${before.id} still expires`);
    else same(`ended job ${before.id}`, after, before);
  }

  // The job dispatched next is the best ready one: better than every job still ready, in rank order among themselves.
  // A half-open circuit's probe is the best of the ready jobs that have not met the outage, if there are any.
  // Histories are kept per job, so the order in which one step dispatched several jobs is not
  // stored; each must still rank before every job left ready.
  const dispatchEvents = newEvents.filter((e) => e.event === "dispatched");
  const sent = dispatchEvents.map((e) => byId.get(e.job_id)!);
  const ready = rows.filter((row) => row.state === "queued");
  const metOutage = (row: Row) => row.outage_since_ms !== null && row.outage_since_ms !== undefined;
  for (const [i, job] of sent.entries()) {
    const probe = (JSON.parse(dispatchEvents[i]!.detail ?? "{}") as { probe?: boolean }).probe === true;
    if (probe && metOutage(job)) ensure(ready.every(metOutage), () => `probe ${job.id} met the outage while a job that has not was ready`);
    const rivals = probe && !metOutage(job) ? ready.filter((row) => !metOutage(row)) : ready;
    for (const waiting of rivals) ensure(ranksBefore(rankOf(job), rankOf(waiting)), () => `dispatched ${job.id} (score ${job.score}) while ${waiting.id} (score ${waiting.score}, earlier) was ready`);
  }
  // Nothing waits while a slot is free and the circuit is closed, unless the queue is paused; an
  // open circuit lets nothing through, nor does a paused queue.
  if (prev.stats.paused && stats.paused) ensure(sent.length === 0, () => `dispatched ${sent.map((job) => job.id)} while paused`);
  if (circuit === "closed" && !stats.paused) ensure(ready.length === 0 || count("dispatched", "running") === CONFIG.concurrency, () => `${ready.length} jobs ready and a slot free`);
  if (circuit === "open" && ctx.circuitBefore === "open") ensure(sent.length === 0, () => `dispatched ${sent.map((job) => job.id)} while the circuit was open`);
  // Half-open: one probe at a time.
  if (circuit === "half_open" && ctx.halfOpenSince !== null) {
    const probes = new Set(writtenSince(snap.events, ctx.halfOpenSince).filter((e) => e.event === "dispatched")
      .filter((e) => { const row = byId.get(e.job_id); return row && inFlight(row.state as State) && row.attempt === e.attempt; })
      .map((e) => e.job_id));
    ensure(probes.size <= 1, () => `${probes.size} probes in flight while half-open: ${[...probes]}`);
  }

  // Every history is consistent with its job's state.
  const eventsOf = Map.groupBy(snap.events, (e) => e.job_id);
  for (const [jobId] of eventsOf) ensure(byId.has(jobId), () => `history left behind for deleted job ${jobId}`);
  for (const row of rows) checkHistory(row, eventsOf.get(row.id) ?? []);
  // Every resume draws its own id.
  const resumeIds = snap.events.filter((e) => e.event === "resumed").map((e) => detailOf(e).resumeId);
  ensure(new Set(resumeIds).size === resumeIds.length, () => `resume ids drawn twice: ${resumeIds}`);
  for (const [id, history] of snap.histories) {
    const events = eventsOf.get(id);
    if (!events) ensure(!history.ok, () => `history of missing job ${id}`);
    else same(`history RPC of ${id}`, history.ok ? history.data.events : history,
      events.map((e) => ({ at: iso(e.at_ms), event: e.event, attempt: e.attempt, detail: parse(e.detail) })));
  }
}

/** An event's detail, as far as these checks read it. */
const detailOf = (e: EventRecord) => (parse(e.detail) ?? {}) as { error?: string; busySince?: string; nextRetryAt?: string; runId?: string; resumeId?: string };

function checkHistory(row: Row, events: EventRecord[]): void {
  const names = events.map((e) => e.event);
  const say = (what: string) => () => `job ${row.id} (${row.state}, attempt ${row.attempt}): ${what}; history ${names.join(",")}`;
  ensure(events[0]?.event === "queued" && events[0].at_ms === row.enqueued_at_ms && events[0].attempt === 0, say("does not start with queued"));
  ensure(events.every((e, i) => i === 0 || e.at_ms >= events[i - 1]!.at_ms), say("times go backwards"));
  // Every dispatch is a new attempt: attempts 1, 2, 3 … each dispatched once, in order.
  same(`job ${row.id}'s dispatched attempts`, events.filter((e) => e.event === "dispatched").map((e) => e.attempt), Array.from({ length: row.attempt }, (_, i) => i + 1));
  // One claim per attempt at most, each of a dispatched attempt: never running under two attempts.
  const started = events.filter((e) => e.event === "started");
  ensure(started.every((e, i) => i === 0 || e.attempt > started[i - 1]!.attempt), say("an attempt started twice"));
  ensure(events.every((e, i) => e.event !== "started" || events.slice(0, i).some((d) => d.event === "dispatched" && d.attempt === e.attempt)), say("started an attempt never dispatched"));
  // An operator's retry starts the job afresh (a retry budget, stalls), just after it ended.
  ensure(events.every((e, i) => e.event !== "retried" || TERMINAL.includes(events[i - 1]?.event as State)), say("retried but not just after it ended"));
  const sinceRetried = events.slice(events.findLastIndex((e) => e.event === "retried") + 1);
  ensure(sinceRetried.filter((e) => e.event === "retry_scheduled").length === row.retry_count, say(`retryCount ${row.retry_count}`));
  const ends = sinceRetried.filter((e) => TERMINAL.includes(e.event as State));
  if (TERMINAL.includes(row.state as State)) {
    ensure(ends.length === 1 && events.at(-1)!.event === row.state && events.at(-1)!.at_ms === row.ended_at_ms, say("does not end with its state"));
  } else {
    ensure(ends.length === 0, say("an ended event on a live job"));
  }
  if (row.state === "running") ensure(started.at(-1)?.attempt === row.attempt, say("running without a claim of its attempt"));
  if (row.state === "dispatched") ensure(events.at(-1)!.event === "dispatched" && !started.some((e) => e.attempt === row.attempt), say("dispatched but not last dispatched"));
  if (row.state === "delayed") ensure(["retry_scheduled", "thread_busy"].includes(events.at(-1)!.event), say("waiting to retry, but no retry scheduled last"));
  if (row.state === "interrupted") ensure(events.at(-1)!.event === "interrupted" && events.at(-1)!.attempt === row.attempt && row.deadline_ms === events.at(-1)!.at_ms + CONFIG.interruptTimeoutMs, say(`interrupted until ${row.deadline_ms}, not last interrupted a wait before`));
  // Stalls are stalls only (each a `stalled` event, or past MAX_STALLS a failed attempt that says
  // so): waiting for a busy thread is not one.
  const stallFailures = sinceRetried.filter((e) => e.event !== "stalled" && / stalled \d+ times$/.test(detailOf(e).error ?? "")).length;
  ensure(sinceRetried.filter((e) => e.event === "stalled").length + stallFailures === row.stalls, say(`${row.stalls} stalls`));
  // A busy thread is waited out from the first busy answer since the job last had a run, for less
  // than JOB_TIMEOUT_SECONDS, looking again after half the time waited so far (within the retry
  // backoff's bounds); the wait is the job's until a report names a run.
  for (const [i, e] of events.entries()) {
    if (e.event !== "thread_busy") continue;
    const { busySince, nextRetryAt } = detailOf(e);
    const since = Date.parse(busySince ?? "");
    const first = events.slice(0, i + 1).findLastIndex((other) => other.event === "thread_busy" && other.at_ms === since && detailOf(other).busySince === busySince);
    ensure(first >= 0 && first <= i && !events.slice(first, i).some((other) => other.event === "run_created"), say(`thread busy since ${busySince} at ${iso(e.at_ms)}, not since a busy answer with no run after it`));
    const waited = e.at_ms - since;
    ensure(waited >= 0 && waited < CONFIG.jobTimeoutMs && nextRetryAt === iso(e.at_ms + Math.min(CONFIG.retryMaxMs, Math.max(CONFIG.retryBaseMs, Math.round(waited / 2)))),
      say(`thread busy at ${iso(e.at_ms)} since ${busySince}, next look at ${nextRetryAt}`));
  }
  if (row.busy_since_ms !== null) {
    const since = iso(row.busy_since_ms);
    const lastBusy = events.findLast((e) => e.event === "thread_busy");
    const first = events.findLastIndex((e) => e.event === "thread_busy" && e.at_ms === row.busy_since_ms && detailOf(e).busySince === since);
    ensure(lastBusy !== undefined && detailOf(lastBusy).busySince === since && first >= 0 && !events.slice(first).some((e) => e.event === "run_created"),
      say(`busy since ${since}, but no busy answer since then, or a run since`));
  }
  if (row.state === "failed" && detailOf(events.at(-1)!).error?.startsWith("the thread stayed busy for more than")) {
    ensure(row.busy_since_ms !== null && row.ended_at_ms! - row.busy_since_ms >= CONFIG.jobTimeoutMs, say(`failed for a busy thread, busy since ${row.busy_since_ms}`));
  }
  // A resume ends the job's run (the one that stopped at the interrupt): the job's run, and the
  // run kept from an outage, are ones named since. The run is the last one named.
  const lastResumed = events.findLastIndex((e) => e.event === "resumed");
  const sinceResume = events.slice(lastResumed + 1);
  if (row.run_id !== null) ensure(detailOf(sinceResume.findLast((e) => e.event === "run_created") ?? events[0]!).runId === row.run_id, say(`run ${row.run_id} is not the last one created since the last resume`));
  if (row.outage_run_id !== null) ensure(sinceResume.some((e) => e.event === "run_created" || e.event === "rejoined"), say(`outage run ${row.outage_run_id} kept from before the last resume`));
  // The stored resume is the last one's (its id a UUID, named by its event), until the job is interrupted again.
  const lastInterrupted = events.findLastIndex((e) => e.event === "interrupted");
  if (row.resume === null) {
    ensure(lastResumed < lastInterrupted || lastResumed === -1, say("resumed, but its answer is not kept"));
  } else {
    const stored = parse(row.resume) as { id: string; value: unknown };
    const shown = detailOf(events[lastResumed] ?? events[0]!) as { resumeId?: string; value?: unknown };
    ensure(Object.keys(stored).join() === "id,value" && UUID.test(stored.id), say(`resume stored as ${row.resume}`));
    ensure(lastResumed > lastInterrupted && shown.resumeId === stored.id && (!("value" in shown) || JSON.stringify(shown.value) === JSON.stringify(stored.value)),
      say(`keeps resume ${row.resume}, not the last resume's (${JSON.stringify(shown)}) since the last interrupt`));
  }
  // A job enqueued (or retried) behind another on its thread: nothing happens to it until its turn comes (`thread_free`), but its cancel.
  const waits = (e: EventRecord | undefined) => (e?.event === "queued" || e?.event === "retried") && (parse(e.detail) as { waitingForThread?: boolean } | null)?.waitingForThread === true;
  for (const [i, e] of events.entries()) {
    const next = events[i + 1];
    if (waits(e)) ensure(next === undefined ? row.state === "waiting" : next.event === "thread_free" || next.event === "cancelled", say("went on before its thread was free"));
    if (e.event === "thread_free") ensure(waits(events[i - 1]), say("its thread freed for a job that did not wait"));
  }
  if (row.state === "waiting") ensure(waits(events.at(-1)), say("waits for its thread, but was not enqueued or retried to, or moved since"));
  // Every resume answered an interrupt.
  ensure(events.every((e, i) => e.event !== "resumed" || events[i - 1]?.event === "interrupted"), say("resumed without an interrupt just before"));
}

// ─── The model against the coordinator ─────────────────────────────────────────────────────

/** The bucket key of a job's result: its queue, id and attempt, and a write's own suffix. */
const objectKeyOf = (queueName: string, job: ModelJob) =>
  new RegExp(`^results/${escapeRegExp(encodeURIComponent(queueName))}/${escapeRegExp(job.id)}/${job.attempt}-[0-9a-f-]{36}\\.json$`);
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function compareWithModel(model: CoordinatorModel, snap: Snapshot, harness: Harness): void {
  same("jobs kept, in enqueue order", snap.rows.map((row) => row.id), [...model.jobs.values()].sort((a, b) => a.seq - b.seq).map((job) => job.id));
  const eventsOf = Map.groupBy(snap.events, (e) => e.job_id);
  for (const row of snap.rows) {
    const job = model.jobs.get(row.id)!;
    same(`job ${row.id}`, {
      state: row.state, priority: row.priority, score: row.score, type: row.type, payload: parse(row.payload), attempt: row.attempt,
      retryCount: row.retry_count, maxRetries: row.max_retries, progress: row.progress, currentStep: row.current_step, runId: row.run_id,
      threadId: row.thread_id, result: parse(row.result), resultRef: row.result_ref, error: row.error, enqueuedAt: row.enqueued_at_ms, startedAt: row.started_at_ms,
      attemptStartedAt: row.attempt_started_at_ms, endedAt: row.ended_at_ms, nextRetryAt: row.next_retry_at_ms,
      leaseUntil: row.lease_until_ms, expiresAt: row.expires_at_ms, deliveries: row.deliveries, stalls: row.stalls,
      ...("outage_since_ms" in row ? { outageSince: row.outage_since_ms } : {}),
      assistantId: row.assistant_id, runOptions: parse(row.run_options), sharedThread: row.shared_thread, timeoutMs: row.timeout_ms,
      deadline: row.deadline_ms, interrupts: parse(row.interrupts), resumeJson: row.resume, busySince: row.busy_since_ms, outageRunId: row.outage_run_id,
    }, {
      state: job.state, priority: job.priority, score: SCORES[job.priority], type: job.body.type, payload: job.body.payload, attempt: job.attempt,
      retryCount: job.retryCount, maxRetries: job.maxRetries, progress: job.progress, currentStep: job.currentStep, runId: job.runId,
      threadId: job.threadId, result: job.resultInBucket ? null : job.result ?? null, resultRef: job.resultInBucket ? objectKeyOf(harness.name, job) : null,
      error: job.error, enqueuedAt: job.enqueuedAt, startedAt: job.startedAt,
      attemptStartedAt: job.attemptStartedAt, endedAt: job.endedAt, nextRetryAt: job.nextRetryAt,
      leaseUntil: job.leaseUntil, expiresAt: job.expiresAt, deliveries: job.deliveries, stalls: job.stalls,
      ...("outage_since_ms" in row ? { outageSince: job.outageSince } : {}),
      assistantId: job.body.assistantId ?? job.body.type, runOptions: runOptionsOf(job.body), sharedThread: sharedThread(job) ? 1 : 0,
      timeoutMs: timeoutMsOf(job.body), deadline: job.deadline, interrupts: job.interrupts, resumeJson: resumeJsonOf(job), busySince: job.busySince,
      outageRunId: job.outageRunId,
    });
    same(`claims of ${row.id}`, (eventsOf.get(row.id) ?? []).filter((e) => e.event === "started").length, job.claims);
    same(`history of ${row.id}`, (eventsOf.get(row.id) ?? []).map((e) => ({ event: e.event, attempt: e.attempt, at: e.at_ms })),
      job.events.map((e) => ({ event: e.event, attempt: e.attempt, at: e.at })));
    for (const [i, e] of job.events.entries()) {
      if (e.detail) same(`history of ${row.id}, event ${i} (${e.event}) detail`, pick(parse(eventsOf.get(row.id)![i]!.detail), Object.keys(e.detail)), e.detail);
    }
  }

  const ended = model.completedTotal + model.failedTotal;
  same("stats", snap.stats, {
    queueName: harness.name,
    totalJobs: model.jobs.size,
    queuedJobs: model.list("queued", "delayed", "dispatched", "waiting").length,
    runningJobs: model.list("running").length,
    interruptedJobs: model.list("interrupted").length,
    completedJobs: model.list("completed").length,
    failedJobs: model.list("failed").length,
    cancelledJobs: model.list("cancelled").length,
    averageProcessTime: model.completedTotal > 0 ? Math.round(model.processMsTotal / model.completedTotal) / 1000 : 0,
    successRate: ended > 0 ? Math.round((model.completedTotal / ended) * 1000) / 1000 : null,
    capacity: CONFIG.capacity,
    concurrency: CONFIG.concurrency,
    paused: model.paused,
    langgraph: model.circuitView(),
  });
  const lifetime: Record<string, number> = {
    completed_total: model.completedTotal, failed_total: model.failedTotal, process_ms_total: model.processMsTotal, retried_total: model.retriedTotal,
  };
  for (const [type, totals] of model.byType) Object.assign(lifetime, { [`completed:${type}`]: totals.completed, [`process_ms:${type}`]: totals.processMs });
  same("lifetime counters", pick(snap.counters, Object.keys(lifetime), 0), lifetime);
  const nextTimer = model.nextTimer();
  if (nextTimer !== null) ensure(snap.alarm !== null && snap.alarm <= nextTimer, () => `alarm ${snap.alarm}, the model's next timer ${nextTimer}`);

  for (const [id, status] of snap.statuses) {
    const job = model.jobs.get(id);
    if (!job) {
      same(`status of ${id}`, status.ok ? "found" : status.code, "JOB_NOT_FOUND");
      continue;
    }
    same(`status of ${id}`, status, {
      ok: true,
      data: {
        jobId: id, type: job.body.type, status: publicOf(job.state), priority: job.priority, payload: job.body.payload, progress: job.progress, currentStep: job.currentStep, ...model.waitingView(job),
        enqueuedAt: iso(job.enqueuedAt), startedAt: iso(job.startedAt), estimatedCompletion: job.state === "running" ? ANY_STRING : null,
        completedAt: iso(job.endedAt), retryCount: job.retryCount, maxRetries: job.maxRetries,
        nextRetryAt: iso(job.nextRetryAt as number | null), result: job.resultInBucket ? null : job.result ?? null, error: job.error, threadId: job.threadId,
        assistantId: job.body.assistantId ?? job.body.type, ...runOptionsOf(job.body), timeoutSeconds: job.body.timeoutSeconds ?? null,
        ...(job.state === "interrupted" && { interrupts: job.interrupts, interruptExpiresAt: iso(job.deadline) }),
        resultRef: job.resultInBucket ? objectKeyOf(harness.name, job) : undefined,
      },
    });
  }

  const bySeqDesc = (jobs: ModelJob[]) => jobs.sort((a, b) => b.seq - a.seq).map((job) => job.id);
  const listRank = (job: ModelJob) => ({ score: job.state === "dispatched" ? 1000 : job.state === "waiting" ? 0 : SCORES[job.priority], seq: job.seq });
  same("list", snap.lists, {
    all: bySeqDesc(model.list(...STATES)),
    // Dispatched jobs first (they are leaving), then by priority and age, jobs waiting to retry
    // among them; last, oldest first, the jobs waiting for their thread.
    queued: model.list("queued", "delayed", "dispatched", "waiting").sort((a, b) => (ranksBefore(listRank(a), listRank(b)) ? -1 : 1)).map((job) => job.id),
    running: bySeqDesc(model.list("running")),
    interrupted: bySeqDesc(model.list("interrupted")),
    completed: bySeqDesc(model.list("completed")),
    failed: bySeqDesc(model.list("failed")),
    cancelled: bySeqDesc(model.list("cancelled")),
  });

  const run = (job: ModelJob) => ({ jobId: job.id, attempt: job.attempt, threadId: job.threadId, runId: job.runId });
  const byJob = (a: { jobId: string }, b: { jobId: string }) => (a.jobId < b.jobId ? -1 : 1);
  same("runs to check", { unfinished: [...snap.runs.unfinished].sort(byJob), stopped: [...snap.runs.stopped].sort(byJob) }, {
    unfinished: model.list("running", "delayed").filter((job) => job.runId !== null).map(run).sort(byJob),
    stopped: model.list("cancelled", "failed").filter((job) => job.runId !== null && job.endedAt! >= model.now - CONFIG.recentlyStoppedMs).map(run).sort(byJob),
  });
}

function pick(value: unknown, keys: string[], missing?: unknown): Record<string, unknown> {
  const object = (value ?? {}) as Record<string, unknown>;
  return Object.fromEntries(keys.map((key) => [key, key in object ? object[key] : missing]));
}

// ─── The harness: one coordinator, its model, and the steps taken ──────────────────────────

interface Harness {
  stub: Stub;
  name: string;
  prev: Snapshot;
  /** Every id ever used, so that later steps can reuse ones whose records expired. */
  ids: string[];
  bodies: Map<string, Body>;
  /** How long each job's history was after the last step. */
  historyLengths: Map<string, number>;
  /** Every LangGraph thread a job was enqueued with: an id enqueued again after expiry must get a new one. */
  threads: Set<string>;
  halfOpenSince: HistoryLengths | null;
  trace: string[];
  steps: number;
}

let totalSteps = 0;
/** What the sequences made happen, over all of them: history events written, and refusals by call and code. */
const tally = new Map<string, number>();
const tallyOf = (what: string) => tally.set(what, (tally.get(what) ?? 0) + 1);

/** Runs one step against both, compares the answers, then checks everything. */
async function step(model: CoordinatorModel, h: Harness, label: string, act: () => Promise<{ unchanged: boolean; note?: string; alarmFired?: boolean }>): Promise<void> {
  h.trace.push(`${String(h.steps).padStart(3)} t+${model.now - T0}ms ${label}`);
  h.steps++;
  totalSteps++;
  const { unchanged, note, alarmFired = false } = await act();
  if (note) h.trace[h.trace.length - 1] += ` → ${note}`;
  // Views of every job live before or after the step; histories of those whose history changed, or that are gone.
  const live = new Set([...h.prev.rows.map((row) => row.id), ...model.jobs.keys()]);
  const changed = [...live].filter((id) => model.jobs.get(id)?.events.length !== h.historyLengths.get(id));
  const snap = await snapshot(h.stub, model.now, [...live], changed);
  for (const e of writtenSince(snap.events, historyLengths(h.prev.events))) {
    const detail = (parse(e.detail) ?? {}) as { error?: string; interruptExpired?: boolean; previousStatus?: string };
    tallyOf(e.event);
    if (e.event === "failed" && detail.interruptExpired) tallyOf("failed: no resume in time");
    if (e.event === "failed" && detail.error?.startsWith("timed out: the run took longer")) tallyOf("failed: its own timeout");
    if (e.event === "failed" && detail.error?.startsWith("the thread stayed busy")) tallyOf("failed: thread busy too long");
    if (e.event === "retried") tallyOf(`retried: was ${detail.previousStatus}${e.detail?.includes("waitingForThread") ? " (to wait for its thread)" : ""}`);
    if (e.event === "cancelled") tallyOf(`cancelled: was ${detail.previousStatus}${e.index === 1 && snap.events.some((first) => first.job_seq === e.job_seq && first.index === 0 && first.detail?.includes("waitingForThread")) ? " (waiting for its thread)" : ""}`);
  }
  h.historyLengths = new Map([...model.jobs.values()].map((job) => [job.id, job.events.length]));
  for (const row of snap.rows) {
    const job = model.jobs.get(row.id);
    if (!job || job.threadId !== null) continue;
    ensure(row.thread_id !== null && !h.threads.has(row.thread_id), () => `job ${row.id} enqueued with thread ${row.thread_id}, already used`);
    job.threadId = row.thread_id!;
    h.threads.add(job.threadId);
  }
  model.settleRetryTimes((id) => snap.rows.find((row) => row.id === id)?.next_retry_at_ms ?? null);
  model.settleResumeIds((id) => snap.rows.find((row) => row.id === id)?.resume ?? null);
  checkInvariants(h.prev, snap, { now: model.now, unchanged, circuitBefore: h.prev.stats.langgraph?.circuit ?? "closed", halfOpenSince: h.halfOpenSince });
  compareWithModel(model, snap, h);
  // Once it has fired, the alarm is exactly the earliest timer, or unset: an early alarm re-arms
  // to what is due next, never to something sooner (which would fire again and again).
  if (alarmFired) same("the alarm once it fired", snap.alarm, model.nextTimer());
  const circuit = snap.stats.langgraph?.circuit;
  if (circuit !== "half_open") h.halfOpenSince = null;
  else h.halfOpenSince ??= historyLengths(h.prev.events);
  h.prev = snap;
}

/** Compares an answer with the model's: everything the model states must match. */
function answer(what: string, actual: unknown, expected: Record<string, unknown>): void {
  if (expected.ok === false) tallyOf(`${what.split(" ")[0]} ${String(expected.code ?? "refused")}`);
  same(what, pick(actual, Object.keys(expected)), expected);
}

type Op = fc.AsyncCommand<CoordinatorModel, Harness>;

function op(label: string, run: (model: CoordinatorModel, h: Harness) => Promise<void>): Op {
  return { check: () => true, run, toString: () => label };
}

// ─── Consumer and follower calls ───────────────────────────────────────────────────────────

/** A job in one of `preferred` states if any, else any job; chosen by `n`. */
function target(model: CoordinatorModel, n: number, preferred: State[]): ModelJob | undefined {
  const candidates = model.list(...preferred);
  const pool = candidates.length > 0 ? candidates : [...model.jobs.values()];
  return pool.length > 0 ? pool[n % pool.length] : undefined;
}

type AttemptChoice = "current" | "stale" | "next";
const attemptOf = (job: ModelJob | undefined, choice: AttemptChoice): number =>
  !job ? 1 : choice === "current" ? job.attempt : choice === "stale" ? job.attempt - 1 : job.attempt + 1;

/** A call naming a job's attempt, made to the coordinator and to the model: their two answers. */
type Call = { label: string; both: (model: CoordinatorModel, h: Harness, id: string, attempt: number) => Promise<[actual: unknown, expected: Record<string, unknown> & { ok: boolean }]> };

const claimCall: Call = {
  label: "claim",
  both: async (model, h, id, a) => {
    const actual = await h.stub.claim(id, a, model.now);
    const expected = model.claim(id, a);
    // The job's record, named as its follower is: its runs carry it, which tells them from another record's on the thread.
    const key = () => `${h.name}:${model.jobs.get(id)!.seq}`;
    return [actual, expected.ok ? { ...expected, data: { ...expected.data, queueName: h.name, jobKey: key(), followerName: key() } } : expected];
  },
};
const reportCall = (update: ProgressUpdate): Call => ({
  label: `report ${JSON.stringify(update)}`,
  both: async (model, h, id, a) => [await h.stub.report(id, a, update, model.now), model.report(id, a, update)],
});
/** A result over the 1 MiB a record may hold (in UTF-8 bytes: 600,000 two-byte characters): kept in the RESULTS bucket. */
const HUGE = { text: "é".repeat(600_000) };
const completeCall = (huge = false): Call => ({
  label: `complete${huge ? " (a result over 1 MiB)" : ""}`,
  both: async (model, h, id, a) => {
    const result = huge ? HUGE : { answer: id, attempt: a };
    return [await h.stub.complete(id, a, result, model.now), model.complete(id, a, result)];
  },
});
const failCall = (retryable: boolean, unreachable: boolean, ours = false, threadBusy = false): Call => ({
  label: `fail${retryable ? " retryable" : ""}${unreachable ? " unreachable" : ""}${ours ? " (our own bug)" : ""}${threadBusy ? " (thread busy)" : ""}`,
  both: async (model, h, id, a) => {
    const error = unreachable ? `connection refused (step ${h.steps})` : ours ? `unexpected error: x is not a function (step ${h.steps})`
      : threadBusy ? `LangGraph 409: thread is busy with another run (step ${h.steps})` : `LangGraph 503 (step ${h.steps})`;
    const failure: Failure = { error, retryable, ...(unreachable ? { unreachable } : {}), ...(ours ? { ours } : {}), ...(threadBusy ? { threadBusy } : {}) };
    return [await h.stub.fail(id, a, failure, model.now), model.fail(id, a, failure)];
  },
});
/**
 * The run stopped at the graph's interrupt(): one question, or two asked in parallel. Ids unique
 * to the step, as LangGraph makes them (32 hex digits), or as the platform client makes them
 * when LangGraph gives none (the task's id and the interrupt's index).
 */
const interruptedCall = (count: 1 | 2, hexIds = true): Call => ({
  label: `interrupted (${count} interrupt${count > 1 ? "s" : ""}${hexIds ? "" : ", ids of tasks"})`,
  both: async (model, h, id, a) => {
    const interrupts: PendingInterrupt[] = Array.from({ length: count }, (_, i) => ({
      id: hexIds ? `${i}${h.steps.toString(16)}`.padStart(32, "e") : `task-${h.steps}:${i}`, value: { question: `approve ${id}?`, part: i }, node: i === 0 ? "review" : null,
    }));
    return [await h.stub.interrupted(id, a, interrupts, model.now), model.interrupted(id, a, interrupts)];
  },
});
const deadLetterCall: Call = {
  label: "deadLetter",
  both: async (model, h, id, a) => [{ ok: (await h.stub.deadLetter(id, a, model.now)) !== null }, { ok: model.deadLetter(id, a) }],
};
const reconcileCall = (huge: boolean): Call => ({
  label: `recordFinishedRun${huge ? " (a result over 1 MiB)" : ""}`,
  both: async (model, h, id, a) => {
    const result = huge ? HUGE : { reconciled: id };
    return [{ ok: await h.stub.recordFinishedRun(id, a, result, 1234, model.now) }, { ok: model.recordFinishedRun(id, a, result, 1234) }];
  },
});

/** One call as a step: answers compared, refusals must change nothing. Returns whether it was accepted. */
async function callStep(model: CoordinatorModel, h: Harness, call: Call, id: string, attempt: number): Promise<boolean> {
  let accepted = false;
  await step(model, h, call.label, async () => {
    const [actual, expected] = await call.both(model, h, id, attempt);
    answer(`${call.label.split(" ")[0]} answer`, actual, expected);
    accepted = expected.ok;
    return { unchanged: !expected.ok, note: `${id}@${attempt} ${JSON.stringify(expected)}` };
  });
  return accepted;
}

/** A call on some job in one of `preferred` states (any job if none), naming its current, a stale or the next attempt. */
const attemptOp = (preferred: State[], call: Call, args: { n: number; attempt: AttemptChoice; dt: number }): Op =>
  op(`${call.label}(${preferred.join("|")} #${args.n}, ${args.attempt}${args.dt ? `, +${args.dt}ms` : ""})`, async (model, h) => {
    model.now += args.dt;
    const job = target(model, args.n, preferred);
    await callStep(model, h, call, job?.id ?? "ghost", attemptOf(job, args.attempt));
  });

const TYPES: JobType[] = ["research_workflow", "content_generation", "batch_processing", "data_sync"];
const priority = fc.constantFrom<Priority>("high", "medium", "low");
const dt = fc.constantFrom(0, 0, 0, 1, 250, 5000);
const target_ = { n: fc.nat(), attempt: fc.constantFrom<AttemptChoice>("current", "current", "current", "current", "stale", "next"), dt };

/** `arbitrary` one time in eight, else undefined. */
const rarely = <T,>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 7 }, { arbitrary, weight: 1 });

const progressUpdate = fc.record({
  progress: fc.option(fc.oneof(fc.integer({ min: -10, max: 120 }), fc.constant(33.6)), { nil: undefined }),
  currentStep: fc.option(fc.constantFrom("research", "draft", "review"), { nil: undefined }),
  runId: fc.option(fc.constantFrom("run-a", "run-b"), { nil: undefined }),
  rejoined: rarely(fc.constant(true)),
  threadId: rarely(fc.constantFrom("thread-copy-1", "thread-copy-2")),
}).map((update) => Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined)) as ProgressUpdate);

const outcome = fc.oneof(
  { arbitrary: fc.constantFrom(completeCall(), completeCall(), completeCall(), completeCall(), completeCall(), completeCall(), completeCall(), completeCall(true)), weight: 6 },
  { arbitrary: fc.record({ retryable: fc.boolean(), unreachable: fc.constantFrom(false, false, true) }).map(({ retryable, unreachable }) => failCall(retryable, unreachable)), weight: 6 },
  { arbitrary: fc.constant(failCall(true, false, true)), weight: 3 },
  { arbitrary: fc.constant(failCall(true, false, false, true)), weight: 3 },
  { arbitrary: fc.constantFrom(interruptedCall(1), interruptedCall(2), interruptedCall(2), interruptedCall(2, false)), weight: 4 },
);

const claim = fc.record({ ...target_, duplicate: fc.boolean() }).map(({ duplicate, ...args }) => attemptOp(duplicate ? ["running"] : ["dispatched"], claimCall, args));
const report = fc.record({ ...target_, update: progressUpdate }).map(({ update, ...args }) => attemptOp(["running"], reportCall(update), args));
const finish = fc.record({ ...target_, call: outcome }).map(({ call, ...args }) => attemptOp(["running"], call, args));
const deadLetter = fc.record(target_).map((args) => attemptOp(["dispatched", "running"], deadLetterCall, args));
const reconcile = fc.record({ ...target_, huge: fc.constantFrom(false, false, false, true) }).map(({ huge, ...args }) => attemptOp(["running", "delayed"], reconcileCall(huge), args));

/**
 * What a consumer and a run follower do with a dispatched attempt: claim it, report, and end it
 * (completed, failed, interrupted); or die, leaving the lease to expire; or run for
 * JOB_TIMEOUT_SECONDS (give or take 1 ms, the follower heartbeating all along) until the cron
 * sweep finds it; or, for a job with a timeoutSeconds, run past that (its last heartbeat 10 s
 * before, or 30 s: the lease lapsing at the deadline itself) until the timers, the real alarm
 * handler or the sweep find it. Each call is a step of its own.
 */
type Ending = { call: Call; dt: number } | { long: number } | { ownTimeout: number; beat: number; then: "timers" | "alarm" | "sweep" } | null;
const ending: fc.Arbitrary<Ending> = fc.oneof(
  { arbitrary: fc.record({ call: outcome, dt: fc.constantFrom(0, 10, 1000, 20_000) }), weight: 6 },
  { arbitrary: fc.constant(null), weight: 1 },
  { arbitrary: fc.record({ long: fc.constantFrom(-1, 0, 1) }), weight: 1 },
  { arbitrary: fc.record({ ownTimeout: fc.constantFrom(-1, 0, 1), beat: fc.constantFrom(10_000, 30_000), then: fc.constantFrom<"timers" | "alarm" | "sweep">("timers", "alarm", "sweep") }), weight: 2 },
);
const endingLabel = (end: Ending) => end === null ? "follower dies"
  : "long" in end ? `runs until the timeout ${end.long}ms`
  : "ownTimeout" in end ? `runs past its own timeout ${end.ownTimeout}ms (last beat ${end.beat / 1000}s before), then ${end.then}`
  : end.call.label;

const work = fc.record({
  n: fc.nat(),
  reports: fc.array(fc.record({ update: progressUpdate, dt: fc.constantFrom(0, 10, 1000, 10_000, 29_000) }), { maxLength: 3 }),
  end: ending,
}).map(({ n, reports, end }) => op(`work(dispatched #${n}, ${reports.length} reports, ${endingLabel(end)})`, async (model, h) => {
  const job = target(model, n, ["dispatched"]);
  if (!job || job.state !== "dispatched") return;
  const { id, attempt } = job;
  if (!(await callStep(model, h, claimCall, id, attempt))) return;
  for (const { update, dt } of reports) {
    model.now += dt;
    await callStep(model, h, reportCall(update), id, attempt);
  }
  if (end === null) return;
  if ("long" in end) {
    model.now = Math.max(model.now, job.attemptStartedAt! + CONFIG.jobTimeoutMs + end.long);
    await callStep(model, h, reportCall({}), id, attempt);
    await sweepStep(model, h);
    return;
  }
  if ("ownTimeout" in end) {
    const deadline = job.deadline;
    // The model's job, moved on by the calls above.
    if ((job.state as State) !== "running" || job.attempt !== attempt || deadline === null) return;
    if (deadline - end.beat > model.now) {
      model.now = deadline - end.beat;
      await callStep(model, h, reportCall({}), id, attempt);
    }
    model.now = Math.max(model.now, deadline + end.ownTimeout);
    await (end.then === "sweep" ? sweepStep : end.then === "alarm" ? realAlarmStep : timersStep)(model, h);
    return;
  }
  model.now += end.dt;
  await callStep(model, h, end.call, id, attempt);
}));

/** A body as the coordinator's RPC is sent it: no key whose value is undefined. */
const defined = <T extends object>(value: T): T => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

async function enqueueBoth(model: CoordinatorModel, h: Harness, id: string, body: Body, prio: Priority, maxRetries: number): Promise<void> {
  const { type: _type, payload: _payload, ...rest } = body;
  await step(model, h, `enqueue ${id} ${prio} ${body.type} ${JSON.stringify(body.payload)} maxRetries=${maxRetries}${Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : ""}`, async () => {
    if (!h.ids.includes(id)) h.ids.push(id);
    const actual = await h.stub.enqueue({ id, ...body, priority: prio, maxRetries }, model.now);
    const expected = model.enqueue(id, body, prio, maxRetries);
    if (expected.ok && expected.created) h.bodies.set(id, body);
    answer("enqueue answer", actual, expected);
    // Full means every place taken, by jobs waiting for their thread and interrupted ones too.
    const active = h.prev.rows.filter((row) => ACTIVE.includes(row.state as State)).length;
    if (!actual.ok && actual.code === "QUEUE_FULL") ensure(active >= CONFIG.capacity, () => `QUEUE_FULL with ${active} active jobs, capacity ${CONFIG.capacity}`);
    return { unchanged: !(expected.ok && expected.created), note: JSON.stringify(expected) };
  });
}

/** Client-chosen LangGraph threads (UUIDs, as the API requires): few, so that their jobs queue up behind each other. */
const THREADS = ["3f0c8a52-7d1e-4b6a-9c2f-5e8d1a000001", "3f0c8a52-7d1e-4b6a-9c2f-5e8d1a000002", "3f0c8a52-7d1e-4b6a-9c2f-5e8d1a000003"];
const threadName = (thread: string | undefined) => (thread === undefined ? "own thread" : `thread T${THREADS.indexOf(thread) + 1}`);
/** A job's own time limits: one second (the lease outlives it), 20 s, 45 s (a heartbeat needed), and JOB_TIMEOUT_SECONDS itself. */
const TIMEOUTS = [1, 20, 45, 3600];
const RUN_OPTIONS: Body[] = [
  { type: "data_sync", payload: {}, config: { configurable: { model: "m1", temperature: 0 }, tags: ["a"] } },
  { type: "data_sync", payload: {}, context: { user: "u1" }, metadata: { source: "model-test" } },
];
const runOptionsPart = ({ config, context, metadata }: Body) => defined({ config, context, metadata });

const enqueueNew = fc.record({
  prio: priority, maxRetries: fc.integer({ min: 0, max: 3 }), type: fc.constantFrom(...TYPES), v: fc.nat(3), count: fc.constantFrom(1, 1, 1, 1, 1, 1, 3, 12),
  thread: fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: fc.constantFrom(...THREADS), weight: 2 }),
  timeoutSeconds: fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: fc.constantFrom(...TIMEOUTS), weight: 1 }),
  options: rarely(fc.constantFrom(...RUN_OPTIONS.map(runOptionsPart))),
  assistantId: rarely(fc.constantFrom("agent_a", "agent_b")),
}).map(({ prio, maxRetries, type, v, count, thread, timeoutSeconds, options, assistantId }) =>
  op(`enqueue ${count} new (${prio}, ${type}, maxRetries ${maxRetries}, ${threadName(thread)}${timeoutSeconds ? `, timeout ${timeoutSeconds}s` : ""}${options ? ", run options" : ""}${assistantId ? `, ${assistantId}` : ""})`, async (model, h) => {
    for (let i = 0; i < count; i++) {
      const id = `j${h.ids.length}`;
      await enqueueBoth(model, h, id, defined({ type, payload: { item: id, v }, threadId: thread, timeoutSeconds, assistantId, ...options }), prio, maxRetries);
    }
  }));

/**
 * The same id again: the same body (keys reordered, or its type named as its assistant: still
 * the same), or one that differs in one thing: payload, type, thread, assistant, run options, timeout.
 */
const CHANGES = ["same", "same", "same assistant named", "payload", "type", "thread", "assistant", "run options", "timeout"] as const;
const enqueueAgain = fc.record({ n: fc.nat(), change: fc.constantFrom(...CHANGES), prio: priority, maxRetries: fc.integer({ min: 0, max: 3 }) })
  .map(({ n, change, prio, maxRetries }) => op(`enqueue again (#${n}, ${change.startsWith("same") ? change : `other ${change}`}, ${prio})`, async (model, h) => {
    const id = h.ids[n % Math.max(1, h.ids.length)] ?? "j0";
    const last = h.bodies.get(id) ?? { type: "data_sync" as JobType, payload: { item: id, v: 0 } };
    const reversed = <T extends object>(value: T) => Object.fromEntries(Object.entries(value).reverse()) as T;
    const body: Body = defined(
      change === "same" ? { ...last, payload: reversed(last.payload), ...(last.config && { config: reversed(last.config) }) }
      : change === "same assistant named" ? { ...last, assistantId: last.assistantId ?? last.type }
      : change === "payload" ? { ...last, payload: { ...last.payload, v: Number(last.payload.v) + 1 } }
      : change === "type" ? { ...last, type: TYPES[(TYPES.indexOf(last.type) + 1) % TYPES.length]! }
      : change === "thread" ? { ...last, threadId: last.threadId === undefined ? THREADS[n % THREADS.length] : n % 2 === 0 ? undefined : THREADS[(THREADS.indexOf(last.threadId) + 1) % THREADS.length] }
      : change === "assistant" ? { ...last, assistantId: (last.assistantId ?? last.type) === "agent_a" ? "agent_b" : "agent_a" }
      : change === "run options" ? { ...last, context: last.context === undefined ? { user: "u2" } : undefined }
      : { ...last, timeoutSeconds: last.timeoutSeconds === undefined ? 20 : last.timeoutSeconds + 1 });
    if (change.startsWith("same") !== (bodyKey(body) === bodyKey(last))) throw new Error(`test bug: ${change}, but the bodies are ${bodyKey(body) === bodyKey(last) ? "the same" : "not"}`);
    await enqueueBoth(model, h, id, body, prio, maxRetries);
  }));

const cancel = fc.record({ n: fc.nat(), live: fc.boolean(), dt }).map(({ n, live, dt }) => op(`cancel(${live ? "live" : "any"} #${n})`, (model, h) =>
  step(model, h, "cancel", async () => {
    model.now += dt;
    const id = live ? target(model, n, [...ACTIVE])?.id ?? "ghost" : h.ids[n % Math.max(1, h.ids.length)] ?? "ghost";
    const actual = await h.stub.cancel(id, model.now);
    const expected = model.cancel(id);
    answer("cancel answer", actual, expected);
    // Cancelling a cancelled job answers ok, and changes nothing.
    return { unchanged: !expected.ok || expected.data.previousStatus === "cancelled", note: `${id} ${JSON.stringify(expected)}` };
  })));

/** An operator's retry of one job: an ended one mostly, or any, or one never enqueued. */
const retry = fc.record({ n: fc.nat(), of: fc.constantFrom("ended", "ended", "ended", "any", "ghost"), dt }).map(({ n, of, dt }) => op(`retry(${of} #${n})`, (model, h) =>
  step(model, h, "retry", async () => {
    model.now += dt;
    const id = of === "ghost" ? "ghost" : target(model, n, of === "ended" ? ["failed", "cancelled"] : [...STATES])?.id ?? "ghost";
    const actual = await h.stub.retry(id, model.now);
    const expected = model.retry(id);
    answer("retry answer", actual, expected);
    return { unchanged: !expected.ok, note: `${id} ${JSON.stringify(expected)}` };
  })));

/** A bulk retry: a page of the failed or cancelled jobs, after no cursor or after some job's. */
const retryMany = fc.record({ state: fc.constantFrom<"failed" | "cancelled">("failed", "cancelled"), limit: fc.constantFrom(1, 2, 5, 100), after: fc.option(fc.nat(), { nil: undefined }) })
  .map(({ state, limit, after }) => op(`retryMany(${state}, ${limit}, ${after ?? "-"})`, (model, h) =>
    step(model, h, "retryMany", async () => {
      const seqs = [...model.jobs.values()].map((job) => job.seq);
      const cursor = after === undefined || seqs.length === 0 ? undefined : String(seqs[after % seqs.length]);
      const actual = await h.stub.retryMany(state, limit, cursor, model.now);
      const expected = model.retryMany(state, limit, cursor === undefined ? 0 : Number(cursor));
      answer("retryMany answer", actual, expected);
      return { unchanged: !expected.ok || expected.data.jobIds.length === 0, note: `${cursor ?? "-"} ${JSON.stringify(expected)}` };
    })));

/** An operator pauses or unpauses the queue (unpausing more often, so that sequences keep moving). */
const pause = fc.constantFrom(true, false, false).map((paused) => op(paused ? "pause" : "unpause", (model, h) =>
  step(model, h, paused ? "pause" : "unpause", async () => {
    const unchanged = model.paused === paused;
    const actual = await h.stub.setPaused(paused, model.now);
    const expected = model.setPaused(paused);
    answer("pause answer", actual, { ...expected, data: { queueName: h.name, ...expected.data } });
    return { unchanged };
  })));

/** A running attempt's run stops at the graph's interrupt(), with one question or two. */
const interrupt = fc.record({ ...target_, count: fc.constantFrom<1 | 2>(1, 2), hexIds: fc.constantFrom(true, true, false) })
  .map(({ count, hexIds, ...args }) => attemptOp(["running"], interruptedCall(count, hexIds), args));

/**
 * How a client answers an interrupted job: a plain value (a text, an object whose keys are no
 * interrupt ids, null, an array, an empty object, one over the 1 KiB a history entry shows), or
 * a map by interrupt id: of all pending ones, of the first only, of one not pending (an id as
 * LangGraph makes them), or of the pending ones and another key (a plain one, or an id not pending).
 */
const ANSWERS = ["text", "object", "all", "all", "first", "not pending", "plain key", "with a plain key", "with an id not pending", "empty", "null", "array", "big"] as const;
const NOT_PENDING = "0123456789abcdef0123456789abcdef";
function answerTo(kind: (typeof ANSWERS)[number], pending: readonly PendingInterrupt[]): JsonValue {
  const ids = pending.map((interrupt) => interrupt.id);
  const all = Object.fromEntries(ids.map((id, i) => [id, { approved: i % 2 === 0 }]));
  switch (kind) {
    case "text": return "approved";
    case "object": return { approved: true, note: "looks good" };
    case "all": return all;
    case "first": return { [ids[0] ?? NOT_PENDING]: "yes" };
    case "not pending": return { [NOT_PENDING]: "yes" };
    case "plain key": return { "i-not-pending": "yes" };
    case "with a plain key": return { ...all, note: "no" };
    case "with an id not pending": return { ...all, [NOT_PENDING]: "no" };
    case "empty": return {};
    case "null": return null;
    case "array": return ids;
    case "big": return { text: "x".repeat(1500) };
  }
}
const resume = fc.record({ n: fc.nat(), of: fc.constantFrom("interrupted", "interrupted", "interrupted", "interrupted", "any", "ghost"), kind: fc.constantFrom(...ANSWERS), dt })
  .map(({ n, of, kind, dt }) => op(`resume(${of} #${n}, ${kind})`, (model, h) => step(model, h, `resume (${kind})`, async () => {
    model.now += dt;
    const job = of === "ghost" ? undefined : of === "interrupted" ? target(model, n, ["interrupted"]) : model.jobs.get(h.ids[n % Math.max(1, h.ids.length)] ?? "ghost");
    const id = job?.id ?? "ghost";
    const value = answerTo(kind, job?.interrupts ?? []);
    const actual = await h.stub.resume(id, value, model.now);
    const expected = model.resume(id, value);
    answer("resume answer", actual, expected);
    return { unchanged: !expected.ok, note: `${id} ${JSON.stringify(value)?.slice(0, 80)} → ${JSON.stringify(expected)}` };
  })));

/**
 * A human in the loop: a dispatched attempt is claimed, and its run stops at an interrupt (one
 * question or two); a while later the client answers (well or not); the next attempt, if one is
 * dispatched, is claimed (carrying the answer) and ends as any run does.
 */
const approval = fc.record({
  n: fc.nat(), count: fc.constantFrom<1 | 2>(1, 2, 2), kind: fc.constantFrom(...ANSWERS), wait: fc.constantFrom(0, 1000, HOUR), end: outcome,
}).map(({ n, count, kind, wait, end }) => op(`approval(dispatched #${n}, ${count} interrupts, answered after ${wait}ms with ${kind}, then ${end.label})`, async (model, h) => {
  const job = target(model, n, ["dispatched"]);
  if (!job || job.state !== "dispatched") return;
  if (!(await callStep(model, h, claimCall, job.id, job.attempt))) return;
  if (!(await callStep(model, h, interruptedCall(count), job.id, job.attempt))) return;
  model.now += wait;
  await step(model, h, `resume (${kind})`, async () => {
    const value = answerTo(kind, job.interrupts ?? []);
    const actual = await h.stub.resume(job.id, value, model.now);
    const expected = model.resume(job.id, value);
    answer("resume answer", actual, expected);
    return { unchanged: !expected.ok, note: `${job.id} ${JSON.stringify(value)?.slice(0, 80)} → ${JSON.stringify(expected)}` };
  });
  if ((job.state as State) !== "dispatched") return;
  if (await callStep(model, h, claimCall, job.id, job.attempt)) await callStep(model, h, end, job.id, job.attempt);
}));

/** The real alarm handler at the model's clock (it reads `Date.now()`: pinned to it). */
async function realAlarm(model: CoordinatorModel, h: Harness): Promise<{ unchanged: boolean; alarmFired: boolean }> {
  const clock = vi.spyOn(Date, "now").mockReturnValue(model.now);
  let ran: boolean;
  try {
    ran = await runDurableObjectAlarm(h.stub);
  } finally {
    clock.mockRestore();
  }
  ensure(ran || model.nextTimer() === null, () => `no alarm set, the model's next timer ${model.nextTimer()}`);
  if (ran) model.runTimers();
  return { unchanged: !ran, alarmFired: ran };
}
const realAlarmStep = (model: CoordinatorModel, h: Harness) => step(model, h, "alarm (real handler)", () => realAlarm(model, h));

/**
 * An alarm: at the next timer (on time, a millisecond early or late) or now. Through `runTimers`,
 * or through the real alarm handler, which reads `Date.now()`: pinned to the model's clock.
 */
const alarm = fc.record({ when: fc.constantFrom("next", "next", "next", "early", "late", "now"), real: fc.constantFrom(false, false, false, true) })
  .map(({ when, real }) => op(`alarm(${when}${real ? ", real handler" : ""})`, (model, h) =>
    step(model, h, `alarm ${when}${real ? " (real handler)" : ""}`, async () => {
      const next = model.nextTimer();
      if (when !== "now" && next !== null) model.now = Math.max(model.now, next + (when === "early" ? -1 : when === "late" ? 1 : 0));
      if (!real) {
        await h.stub.runTimers(model.now);
        model.runTimers();
        return { unchanged: false };
      }
      return realAlarm(model, h);
    })));

const sweepStep = (model: CoordinatorModel, h: Harness) => step(model, h, "sweep", async () => {
  const actual = await h.stub.sweep(model.now);
  const expected = model.sweep();
  same("sweep answer", actual, expected);
  return { unchanged: false, note: JSON.stringify(expected) };
});
const timersStep = (model: CoordinatorModel, h: Harness) => step(model, h, "runTimers", async () => {
  await h.stub.runTimers(model.now);
  model.runTimers();
  return { unchanged: false };
});

const sweep = fc.constant(null).map(() => op("sweep", sweepStep));

/** Time passes and nothing runs: as when an alarm is late. Steps around the lease, dispatch lease, timeout and retention. */
const advance = fc.constantFrom(1, 150, 1000, 10_000, 29_999, 30_000, 45_000, 60_000, 61_000, 10 * 60_000, HOUR - 1000, HOUR, HOUR + 1, 24 * HOUR, 25 * HOUR)
  .map((ms) => op(`advance ${ms}ms`, (model, h) => step(model, h, `advance ${ms}ms`, async () => {
    model.now += ms;
    return { unchanged: true };
  })));

/**
 * Time moves to an instant where something changes: the next timer, a run's timeout (the queue's
 * or its job's own), an outage's end of patience, an interrupt's, a busy thread's, or a millisecond either side;
 * then maybe the cron sweep, the timers or the real alarm handler runs.
 */
type Instant = "timer" | "runTimeout" | "outageTimeout" | "ownTimeout" | "interruptTimeout" | "busyTimeout";
const advanceTo = fc.record({
  to: fc.constantFrom<Instant>("timer", "timer", "runTimeout", "outageTimeout", "ownTimeout", "ownTimeout", "interruptTimeout", "busyTimeout"),
  delta: fc.constantFrom(-1, 0, 1),
  then: fc.constantFrom("nothing", "sweep", "timers", "timers", "alarm"),
}).map(({ to, delta, then }) => op(`advance to ${to}${delta ? ` ${delta > 0 ? "+" : ""}${delta}ms` : ""}, then ${then}`, async (model, h) => {
  await step(model, h, `advance to ${to} ${delta}`, async () => {
    const at = to === "timer" ? model.nextTimer() : model.deadlines()[to];
    if (at !== null) model.now = Math.max(model.now, at + delta);
    return { unchanged: true };
  });
  if (then === "sweep") await sweepStep(model, h);
  if (then === "timers") await timersStep(model, h);
  if (then === "alarm") await realAlarmStep(model, h);
}));

/**
 * LangGraph stays down: at each probe (the next timer) every dispatched attempt is claimed and
 * finds it unreachable. Optionally first to a job's outage deadline, so that its next outage fails it.
 */
const outage = fc.record({ probes: fc.integer({ min: 1, max: 3 }), toDeadline: fc.boolean(), delta: fc.constantFrom(-1, 0, 1) })
  .map(({ probes, toDeadline, delta }) => op(`outage(${probes} probes${toDeadline ? `, from the outage deadline ${delta}ms` : ""})`, async (model, h) => {
    const deadline = model.deadlines().outageTimeout;
    if (toDeadline && deadline !== null) model.now = Math.max(model.now, deadline + delta);
    for (let i = 0; i < probes; i++) {
      if (i > 0 || !toDeadline) model.now = Math.max(model.now, model.nextTimer() ?? model.now);
      await timersStep(model, h);
      for (const job of model.list("dispatched")) {
        if (await callStep(model, h, claimCall, job.id, job.attempt)) await callStep(model, h, failCall(true, true), job.id, job.attempt);
      }
    }
  }));

/**
 * Another run holds a job's thread (the thread's previous job's, still stopping, or one started
 * outside the queue): a dispatched job is claimed and told so, then again at each look (when it
 * gets a slot), `tries` times in all; the last look optionally at the end of its wait
 * (JOB_TIMEOUT_SECONDS after the first busy answer), give or take 1 ms; or at the last look the
 * thread is free at last, and the follower reports the run it created.
 */
const busyThread = fc.record({ n: fc.nat(), tries: fc.integer({ min: 1, max: 4 }), toEnd: fc.boolean(), delta: fc.constantFrom(-1, 0, 1), thenRun: fc.boolean() })
  .map(({ n, tries, toEnd, delta, thenRun }) => op(`thread busy(dispatched #${n}, ${tries} looks${toEnd ? `, the last at the wait's end ${delta}ms` : ""}${thenRun ? ", then a run" : ""})`, async (model, h) => {
    const job = target(model, n, ["dispatched"]);
    if (!job || job.state !== "dispatched") return;
    for (let i = 0; i < tries; i++) {
      const last = i === tries - 1;
      if (i > 0) {
        if ((job.state as State) !== "delayed" || typeof job.nextRetryAt !== "number") return;
        const end = toEnd && last && job.busySince !== null ? job.busySince + CONFIG.jobTimeoutMs + delta : model.now;
        model.now = Math.max(model.now, job.nextRetryAt, end);
        await timersStep(model, h);
        if ((job.state as State) !== "dispatched") return;
      }
      if (!(await callStep(model, h, claimCall, job.id, job.attempt))) return;
      await callStep(model, h, last && thenRun ? reportCall({ runId: `run-${h.steps}` }) : failCall(true, false, false, true), job.id, job.attempt);
    }
  }));

/** Every running job's follower sends a heartbeat, as it does every 10 s. */
const heartbeats = fc.constant(null).map(() => op("heartbeats", async (model, h) => {
  for (const job of model.list("running")) await callStep(model, h, reportCall({}), job.id, job.attempt);
}));

const evict = fc.constant(null).map(() => op("evict", (model, h) => step(model, h, "evict", async () => {
  await evictDurableObject(h.stub);
  return { unchanged: true };
})));

const operations = fc.oneof(
  { arbitrary: enqueueNew, weight: 10 },
  { arbitrary: enqueueAgain, weight: 3 },
  { arbitrary: cancel, weight: 4 },
  { arbitrary: work, weight: 14 },
  { arbitrary: claim, weight: 5 },
  { arbitrary: report, weight: 4 },
  { arbitrary: finish, weight: 6 },
  { arbitrary: interrupt, weight: 3 },
  { arbitrary: resume, weight: 4 },
  { arbitrary: approval, weight: 5 },
  { arbitrary: deadLetter, weight: 2 },
  { arbitrary: reconcile, weight: 2 },
  { arbitrary: alarm, weight: 12 },
  { arbitrary: sweep, weight: 3 },
  { arbitrary: advance, weight: 4 },
  { arbitrary: advanceTo, weight: 4 },
  { arbitrary: heartbeats, weight: 3 },
  { arbitrary: outage, weight: 3 },
  { arbitrary: busyThread, weight: 3 },
  { arbitrary: evict, weight: 2 },
  { arbitrary: retry, weight: 6 },
  { arbitrary: retryMany, weight: 2 },
  { arbitrary: pause, weight: 1 },
);

/** A small deterministic PRNG (mulberry32): the coordinator's retry jitter, replayable from the seed. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("the coordinator against its reference model", () => {
  it(`keeps every invariant over ${RUNS} random sequences of up to ${STEPS} steps`, { timeout: 0 }, async () => {
    let failingTrace: string[] = [];
    const property = fc.asyncProperty(fc.integer(), fc.commands([operations], { maxCommands: STEPS, size: "max", ...(REPLAY_COMMANDS ? { replayPath: REPLAY_COMMANDS } : {}) }), async (seed, ops) => {
      const name = `model-${crypto.randomUUID()}`;
      const stub = env.QUEUE_COORDINATOR.getByName(name) as Stub;
      const random = vi.spyOn(Math, "random").mockImplementation(seededRandom(seed));
      // Every transition logs a JSON line; thousands of steps of them are noise here.
      const quiet = (["log", "warn", "error"] as const).map((level) => vi.spyOn(console, level).mockImplementation(() => {}));
      const h: Harness = { stub, name, prev: await snapshot(stub, T0), ids: [], historyLengths: new Map(), bodies: new Map(), threads: new Set(), halfOpenSince: null, trace: [], steps: 0 };
      try {
        await fc.asyncModelRun(() => ({ model: new CoordinatorModel(T0), real: h }), ops);
      } catch (error) {
        failingTrace = h.trace;
        throw error;
      } finally {
        random.mockRestore();
        for (const spy of quiet) spy.mockRestore();
      }
    });
    const started = Date.now();
    const details = await fc.check(property, {
      numRuns: RUNS,
      interruptAfterTimeLimit: SECONDS * 1000,
      ...(REPLAY_SEED ? { seed: Number(REPLAY_SEED) } : {}),
      ...(REPLAY_PATH ? { path: REPLAY_PATH, endOnFailure: true } : {}),
    });
    if (details.failed) {
      const commands = /replayPath="([^"]*)"/.exec(String(details.counterexample?.[1]))?.[1];
      const replay = [
        `VITE_MODEL_RUNS=${RUNS} VITE_MODEL_STEPS=${STEPS} VITE_MODEL_SEED=${details.seed} VITE_MODEL_PATH=${details.counterexamplePath}`,
        commands ? `VITE_MODEL_COMMANDS='${commands}'` : "",
        "npx vitest run --project unit test/unit/coordinator-model.test.ts",
      ].filter(Boolean).join(" ");
      const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
      throw new Error(`${fc.defaultReportMessage(details)}\n\n${cause}\n\nReplay: ${replay}\n\nSteps of the shrunk failing sequence:\n${failingTrace.join("\n")}`);
    }
    console.info(`coordinator model: ${details.numRuns} sequences, ${totalSteps} steps in ${Math.round((Date.now() - started) / 1000)} s, 0 disagreements`);
    console.info(`  events and refusals: ${[...tally].sort(([a], [b]) => (a < b ? -1 : 1)).map(([what, n]) => `${what} ${n}`).join(", ")}`);
  });
});
