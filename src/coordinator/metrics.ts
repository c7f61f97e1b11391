/**
 * What the coordinator measures for GET /metrics (http/metrics.ts renders it) and the `throughput`
 * action: totals, three histograms (a completed run's process time, the wait from ready to run,
 * the dispatch latency from dispatch to a consumer's claim), the LangGraph circuit's failures, and
 * a per-minute series of the last hour.
 *
 * Everything cumulative lives in the counters row (JobStore.bump), which each transaction that
 * changes it writes once anyway: an observation costs no row of its own. A histogram is one
 * counter per bucket it has seen (`h:<name>:<bucket>`, not cumulative) and its sum. The minute
 * under way is counted there too (`tp:*`); when a later minute's first observation comes, the
 * finished one goes into the `throughput` table (one row a minute), and rows past the hour are
 * deleted. This file is the one place that table's SQL is. Call the observe functions inside
 * a store transaction, as the change they measure.
 */
import type { JobStore } from "./job-store";

/**
 * Upper bounds of the histograms' buckets, in seconds: from a 50 ms hand-over to a consumer to an
 * hour-long LangGraph run (JOB_TIMEOUT_SECONDS' default); past the last, +Inf.
 */
export const BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600] as const;

export const HISTOGRAMS = ["process", "wait", "dispatch"] as const;
export type HistogramName = (typeof HISTOGRAMS)[number];

/** How far back the `throughput` series goes, in minutes, the minute under way included. */
export const THROUGHPUT_MINUTES = 60;
const MINUTE_MS = 60_000;

/** The bucket a duration falls in: the first whose bound it does not exceed, or BUCKETS_SECONDS.length (+Inf). */
export function bucketIndex(durationMs: number): number {
  const seconds = Math.max(0, durationMs) / 1000;
  const index = BUCKETS_SECONDS.findIndex((bound) => seconds <= bound);
  return index === -1 ? BUCKETS_SECONDS.length : index;
}

/** A histogram as Prometheus shows it: cumulative counts per bound (the last one +Inf), the sum in seconds, the count. */
export interface HistogramSnapshot {
  cumulative: number[];
  sumSeconds: number;
  count: number;
}

/** Cumulative counts from per-bucket ones (BUCKETS_SECONDS.length + 1 of them, +Inf last). */
export function cumulativeCounts(perBucket: readonly number[]): number[] {
  let total = 0;
  return perBucket.map((count) => (total += count));
}

export const minuteStart = (ms: number): number => Math.floor(ms / MINUTE_MS) * MINUTE_MS;

/** What one minute counted: jobs ended, and the waits (runs started) and run times behind the averages. */
export type MinuteTotals = {
  completed: number;
  failed: number;
  waits: number;
  wait_ms: number;
  process_ms: number;
};
const MINUTE_FIELDS = ["completed", "failed", "waits", "wait_ms", "process_ms"] as const satisfies readonly (keyof MinuteTotals)[];

export interface ThroughputMinute {
  /** The minute's start, ISO-8601 UTC. */
  at: string;
  completed: number;
  failed: number;
  /** Mean wait from ready to run of the runs that started in the minute; null when none did. */
  averageWaitMs: number | null;
  /** Mean process time of the jobs that completed in the minute; null when none did. */
  averageProcessMs: number | null;
}

/** The last THROUGHPUT_MINUTES minutes up to the one `now` falls in, oldest first, every minute present. */
export function throughputSeries(totals: ReadonlyMap<number, MinuteTotals>, now: number): ThroughputMinute[] {
  const last = minuteStart(now);
  return Array.from({ length: THROUGHPUT_MINUTES }, (_, i) => {
    const minute = last - (THROUGHPUT_MINUTES - 1 - i) * MINUTE_MS;
    const t = totals.get(minute);
    return {
      at: new Date(minute).toISOString(),
      completed: t?.completed ?? 0,
      failed: t?.failed ?? 0,
      averageWaitMs: t && t.waits > 0 ? Math.round(t.wait_ms / t.waits) : null,
      averageProcessMs: t && t.completed > 0 ? Math.round(t.process_ms / t.completed) : null,
    };
  });
}

/** Counter names in the counters row. `retried_total` is bumped by QueueMetrics.retried, and by nothing else. */
const RETRIED_TOTAL = "retried_total";
const CANCELLED_TOTAL = "cancelled_total";
const CIRCUIT_FAILURES = "circuit_failures";
const bucketCounter = (name: HistogramName, bucket: number) => `h:${name}:${bucket}`;
const sumCounter = (name: HistogramName) => `h:${name}:sum_ms`;
const MINUTE_UNDER_WAY = "tp:minute";
const minuteCounter = (field: keyof MinuteTotals) => `tp:${field}`;

/** One queue's figures, as GET /metrics shows them (http/metrics.ts). */
export interface MetricsSnapshot {
  queueName: string;
  /** Jobs by stored state (jobs.ts JobState): clients see delayed, dispatched and waiting as queued. */
  states: {
    queued: number; delayed: number; dispatched: number; waiting: number;
    running: number; interrupted: number; completed: number; failed: number; cancelled: number;
  };
  totals: { completed: number; failed: number; retried: number; cancelled: number };
  histograms: Record<HistogramName, HistogramSnapshot>;
  circuit: { state: "closed" | "open" | "half_open"; consecutiveFailures: number };
  /** An operator paused dispatching (admin.ts). */
  paused: boolean;
}

export class QueueMetrics {
  constructor(
    private readonly sql: SqlStorage,
    private readonly store: JobStore,
  ) {}

  /** A job completed after `processMs` of its run. */
  completed(processMs: number, now: number): void {
    this.observe("process", processMs);
    this.addToMinute(now, { completed: 1, process_ms: Math.round(processMs) });
  }

  /** A job failed for good. */
  failed(now: number): void {
    this.addToMinute(now, { failed: 1 });
  }

  cancelled(): void {
    this.store.bump(CANCELLED_TOTAL, 1);
  }

  /**
   * A retry: one scheduled after a failed attempt, or an operator's (transitions.ts).
   * Shown as queue_worker_jobs_retried_total.
   */
  retried(): void {
    this.store.bump(RETRIED_TOTAL, 1);
  }

  /**
   * A run started (a consumer's first claim of an attempt): `readyAtMs`, when the job last became
   * ready (enqueued or requeued), and `dispatchedAtMs`, when it was sent to the Queue.
   */
  started(readyAtMs: number, dispatchedAtMs: number, now: number): void {
    const waitMs = Math.max(0, now - readyAtMs);
    this.observe("wait", waitMs);
    this.observe("dispatch", Math.max(0, now - dispatchedAtMs));
    this.addToMinute(now, { waits: 1, wait_ms: waitMs });
  }

  /** An attempt found LangGraph unreachable: one more failure in a row, until it answers again. */
  langGraphUnreachable(): void {
    this.store.bump(CIRCUIT_FAILURES, 1);
  }

  /** LangGraph answered: the circuit closed, its failures in a row are over. */
  langGraphAnswered(): void {
    const failures = this.store.counter(CIRCUIT_FAILURES);
    if (failures !== 0) this.store.bump(CIRCUIT_FAILURES, -failures);
  }

  snapshot(queueName: string): MetricsSnapshot {
    const { store } = this;
    const c = store.counters();
    const histogram = (name: HistogramName): HistogramSnapshot => {
      const cumulative = cumulativeCounts(Array.from({ length: BUCKETS_SECONDS.length + 1 }, (_, i) => store.counter(bucketCounter(name, i))));
      return { cumulative, sumSeconds: store.counter(sumCounter(name)) / 1000, count: cumulative.at(-1)! };
    };
    return {
      queueName,
      states: {
        queued: c.queued, delayed: c.delayed, dispatched: c.dispatched, waiting: c.waiting,
        running: c.running, interrupted: c.interrupted, completed: c.completed, failed: c.failed, cancelled: c.cancelled,
      },
      totals: { completed: c.completedTotal, failed: c.failedTotal, retried: store.counter(RETRIED_TOTAL), cancelled: store.counter(CANCELLED_TOTAL) },
      histograms: { process: histogram("process"), wait: histogram("wait"), dispatch: histogram("dispatch") },
      circuit: { state: store.circuit().state, consecutiveFailures: store.counter(CIRCUIT_FAILURES) },
      paused: store.paused(),
    };
  }

  /** The `throughput` action's minutes: the table's rows of the last hour, and the minute under way. */
  throughput(now: number): ThroughputMinute[] {
    const first = minuteStart(now) - (THROUGHPUT_MINUTES - 1) * MINUTE_MS;
    const cursor = this.sql.exec<{ minute_ms: number } & MinuteTotals>(
      "SELECT minute_ms, completed, failed, waits, wait_ms, process_ms FROM throughput WHERE minute_ms >= ? ORDER BY minute_ms", first,
    );
    const totals = new Map(cursor.toArray().map(({ minute_ms, ...minute }) => [minute_ms, minute]));
    this.store.io.rowsRead += cursor.rowsRead;
    const underWay = this.store.counter(MINUTE_UNDER_WAY);
    // Minutes in the table all come before the one under way.
    if (underWay >= first) totals.set(underWay, this.minuteUnderWay());
    return throughputSeries(totals, now);
  }

  private observe(name: HistogramName, durationMs: number): void {
    this.store.bump(bucketCounter(name, bucketIndex(durationMs)), 1);
    this.store.bump(sumCounter(name), durationMs);
  }

  private minuteUnderWay(): MinuteTotals {
    return Object.fromEntries(MINUTE_FIELDS.map((field) => [field, this.store.counter(minuteCounter(field))])) as unknown as MinuteTotals;
  }

  /**
   * Counts `delta` in the minute `now` falls in. The minute under way is in the counters row; the
   * first observation of a later minute moves it into the table. One of an earlier minute (a
   * caller's `now` from before the minute under way) goes into the table at once.
   */
  private addToMinute(now: number, delta: Partial<MinuteTotals>): void {
    const minute = minuteStart(now);
    const underWay = this.store.counter(MINUTE_UNDER_WAY);
    if (minute < underWay) {
      this.writeMinute(minute, { completed: 0, failed: 0, waits: 0, wait_ms: 0, process_ms: 0, ...delta });
      return;
    }
    if (minute > underWay) {
      const finished = this.minuteUnderWay();
      if (MINUTE_FIELDS.some((field) => finished[field] !== 0)) this.writeMinute(underWay, finished);
      for (const field of MINUTE_FIELDS) if (finished[field] !== 0) this.store.bump(minuteCounter(field), -finished[field]);
      this.store.bump(MINUTE_UNDER_WAY, minute - underWay);
      this.prune(minute);
    }
    for (const field of MINUTE_FIELDS) if (delta[field]) this.store.bump(minuteCounter(field), delta[field]);
  }

  private writeMinute(minute: number, totals: MinuteTotals): void {
    this.run(
      `INSERT INTO throughput (minute_ms, completed, failed, waits, wait_ms, process_ms) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (minute_ms) DO UPDATE SET completed = completed + excluded.completed, failed = failed + excluded.failed,
         waits = waits + excluded.waits, wait_ms = wait_ms + excluded.wait_ms, process_ms = process_ms + excluded.process_ms`,
      minute, totals.completed, totals.failed, totals.waits, totals.wait_ms, totals.process_ms,
    );
  }

  /** Rows older than the series reaches, once a minute at most (when a new minute begins). */
  private prune(minute: number): void {
    this.run("DELETE FROM throughput WHERE minute_ms < ?", minute - THROUGHPUT_MINUTES * MINUTE_MS);
  }

  /** Counted in the store's figures, as its own statements are (what the benchmarks report). */
  private run(statement: string, ...params: SqlStorageValue[]): void {
    const cursor = this.sql.exec(statement, ...params);
    cursor.toArray();
    this.store.io.rowsRead += cursor.rowsRead;
    this.store.io.rowsWritten += cursor.rowsWritten;
  }
}
