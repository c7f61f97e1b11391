/**
 * The coordinator's metrics (coordinator/metrics.ts): histogram bucketing, the per-minute
 * `throughput` series (the minute under way in the counters row, minutes past in the throughput
 * table, pruned after an hour), and their rendering (http/metrics.ts). Time is passed as `now`,
 * so the minutes are chosen, not waited for. MAX_CONCURRENCY=2 here (vitest.config.ts).
 */
import { runInDurableObject } from "cloudflare:test";
import { AggregatorRegistry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  BUCKETS_SECONDS, bucketIndex, cumulativeCounts, minuteStart, THROUGHPUT_MINUTES, throughputSeries, type MinuteTotals,
} from "../../src/coordinator/metrics";
import { metricsOf } from "../../src/http/metrics";
import type { QueueCoordinator } from "../../src/queue-do";
import { freshCoordinator, job } from "../support/jobs";

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

describe("histogram buckets", () => {
  it("puts a duration in the first bucket whose bound it does not exceed, past the last in +Inf", () => {
    expect(bucketIndex(0)).toBe(0);
    expect(bucketIndex(-5)).toBe(0);
    expect(bucketIndex(50)).toBe(0);
    expect(bucketIndex(51)).toBe(1);
    expect(bucketIndex(30_000)).toBe(BUCKETS_SECONDS.indexOf(30));
    expect(bucketIndex(30_001)).toBe(BUCKETS_SECONDS.indexOf(60));
    expect(bucketIndex(HOUR_MS)).toBe(BUCKETS_SECONDS.length - 1);
    expect(bucketIndex(HOUR_MS + 1)).toBe(BUCKETS_SECONDS.length);
  });

  it("counts cumulatively, as Prometheus shows buckets", () => {
    expect(cumulativeCounts([1, 0, 2, 0, 3])).toEqual([1, 1, 3, 3, 6]);
  });
});

describe("throughput series", () => {
  it("has every minute of the last hour, oldest first, zeros and nulls where nothing happened, averages rounded", () => {
    const now = Date.UTC(2026, 0, 1, 12, 30, 45);
    const totals = new Map<number, MinuteTotals>([
      [Date.UTC(2026, 0, 1, 12, 30), { completed: 3, failed: 1, waits: 2, wait_ms: 1001, process_ms: 10 }],
      [Date.UTC(2026, 0, 1, 11, 31), { completed: 0, failed: 2, waits: 0, wait_ms: 0, process_ms: 0 }],
      // Older than the hour: not shown.
      [Date.UTC(2026, 0, 1, 11, 30), { completed: 9, failed: 9, waits: 9, wait_ms: 9, process_ms: 9 }],
    ]);
    const series = throughputSeries(totals, now);
    expect(series).toHaveLength(THROUGHPUT_MINUTES);
    expect(series[0]).toEqual({ at: "2026-01-01T11:31:00.000Z", completed: 0, failed: 2, averageWaitMs: null, averageProcessMs: null });
    expect(series[1]).toEqual({ at: "2026-01-01T11:32:00.000Z", completed: 0, failed: 0, averageWaitMs: null, averageProcessMs: null });
    expect(series.at(-1)).toEqual({ at: "2026-01-01T12:30:00.000Z", completed: 3, failed: 1, averageWaitMs: 501, averageProcessMs: 3 });
  });
});

/** The throughput table's rows, as stored. */
const tableRows = (queue: DurableObjectStub<QueueCoordinator>) =>
  runInDurableObject(queue, (_, state) => state.storage.sql.exec("SELECT * FROM throughput ORDER BY minute_ms").toArray());

describe("observed in the coordinator", () => {
  it("measures waits, dispatch latency and process times, per minute and in the histograms, moving finished minutes to the table", async () => {
    const queue = freshCoordinator();
    // Five seconds into a minute, ten minutes ago: the minutes this test uses are its own.
    const m0 = minuteStart(Date.now()) - 10 * MINUTE_MS;
    const t0 = m0 + 5000;
    // Enqueued and dispatched at t0 (a slot is free); claimed 2 s later; completed after a 30 s run.
    await queue.enqueue(job("a"), t0);
    expect((await queue.claim("a", 1, t0 + 2000)).ok).toBe(true);
    expect((await queue.complete("a", 1, { done: true }, t0 + 32_000)).ok).toBe(true);
    // The minute under way is in the counters row, not yet in the table.
    expect(await tableRows(queue)).toEqual([]);

    // The next minute: b waits 0.5 s, then fails for good. Its first observation moves m0 to the table.
    const t1 = m0 + MINUTE_MS + 1000;
    await queue.enqueue(job("b"), t1);
    expect((await queue.claim("b", 1, t1 + 500)).ok).toBe(true);
    expect((await queue.fail("b", 1, { error: "input rejected", retryable: false }, t1 + 600)).ok).toBe(true);
    expect(await tableRows(queue)).toEqual([{ minute_ms: m0, completed: 1, failed: 0, waits: 1, wait_ms: 2000, process_ms: 30_000 }]);

    // A report timed in a minute already past (its caller's clock) is added to that minute's row.
    await queue.enqueue(job("c"), t0 + 100);
    expect((await queue.claim("c", 1, t0 + 200)).ok).toBe(true);
    expect((await queue.complete("c", 1, null, t0 + 1200)).ok).toBe(true);

    const { minutes } = await queue.throughput(t1 + 1000);
    expect(minutes).toHaveLength(THROUGHPUT_MINUTES);
    expect(minutes.at(-2)).toEqual({ at: new Date(m0).toISOString(), completed: 2, failed: 0, averageWaitMs: 1050, averageProcessMs: 15_500 });
    expect(minutes.at(-1)).toEqual({ at: new Date(m0 + MINUTE_MS).toISOString(), completed: 0, failed: 1, averageWaitMs: 500, averageProcessMs: null });
    expect(minutes.slice(0, -2).every((m) => m.completed === 0 && m.failed === 0 && m.averageWaitMs === null)).toBe(true);

    const { histograms, totals } = await queue.metricsSnapshot();
    expect(totals).toEqual({ completed: 2, failed: 1, retried: 0, cancelled: 0 });
    // Process: 30 s (a) and 1 s (c).
    expect(histograms.process).toMatchObject({ count: 2, sumSeconds: 31 });
    expect(histograms.process.cumulative[BUCKETS_SECONDS.indexOf(1)]).toBe(1);
    expect(histograms.process.cumulative[BUCKETS_SECONDS.indexOf(10)]).toBe(1);
    expect(histograms.process.cumulative[BUCKETS_SECONDS.indexOf(30)]).toBe(2);
    // Waits: 2 s (a), 0.5 s (b), 0.1 s (c); each was dispatched when it became ready, so the dispatch latency is the same.
    for (const name of ["wait", "dispatch"] as const) {
      expect(histograms[name]).toMatchObject({ count: 3, sumSeconds: 2.6 });
      expect(histograms[name].cumulative.slice(0, 6)).toEqual([0, 1, 1, 2, 2, 3]);
    }

    // Two hours on: the minutes past go to the table, and whatever is older than the hour is deleted.
    const later = m0 + 2 * HOUR_MS;
    await queue.enqueue(job("d"), later);
    expect((await queue.claim("d", 1, later + 3000)).ok).toBe(true);
    expect(await tableRows(queue)).toEqual([]);
    const hourLater = await queue.throughput(later + 4000);
    expect(hourLater.minutes.filter((m) => m.averageWaitMs !== null)).toEqual([
      { at: new Date(later).toISOString(), completed: 0, failed: 0, averageWaitMs: 3000, averageProcessMs: null },
    ]);
  });

  it("counts the wait from when a retried job became ready again, not from its enqueue", async () => {
    const queue = freshCoordinator();
    const t0 = minuteStart(Date.now()) - 20 * MINUTE_MS;
    await queue.enqueue(job("flaky", { maxRetries: 1 }), t0);
    await queue.claim("flaky", 1, t0 + 100);
    expect(await queue.fail("flaky", 1, { error: "503", retryable: true }, t0 + 1000)).toMatchObject({ ok: true, data: { state: "delayed" } });
    // The retry's backoff (at most RETRY_MAX_MS, 1 s here) is over at t0 + 5000: ready then, dispatched by the alarm's run.
    await queue.runTimers(t0 + 5000);
    expect((await queue.claim("flaky", 2, t0 + 5250)).ok).toBe(true);
    const { histograms, totals } = await queue.metricsSnapshot();
    expect(totals.retried).toBe(1);
    expect(histograms.wait).toMatchObject({ count: 2, sumSeconds: 0.35 });
  });
});

describe("rendering", () => {
  it("writes a queue's figures in the text format, buckets cumulative with +Inf, every status and circuit state", async () => {
    const queue = freshCoordinator();
    const t0 = Date.now();
    await queue.enqueue(job("r"), t0);
    await queue.claim("r", 1, t0 + 60);
    await queue.complete("r", 1, null, t0 + 1060);
    const snapshot = await queue.metricsSnapshot();
    const text = await AggregatorRegistry.aggregate([metricsOf(snapshot)]).metrics();
    const q = `queue="${snapshot.queueName}"`;
    expect(text).toContain("# TYPE queue_worker_job_process_seconds histogram\n");
    expect(text).toContain(`queue_worker_job_process_seconds_bucket{le="0.5",${q}} 0\n`);
    expect(text).toContain(`queue_worker_job_process_seconds_bucket{le="1",${q}} 1\n`);
    expect(text).toContain(`queue_worker_job_process_seconds_bucket{le="+Inf",${q}} 1\n`);
    expect(text).toContain(`queue_worker_job_process_seconds_sum{${q}} 1\n`);
    expect(text).toContain(`queue_worker_job_process_seconds_count{${q}} 1\n`);
    expect(text).toContain(`queue_worker_job_dispatch_latency_seconds_bucket{le="0.1",${q}} 1\n`);
    expect(text).toContain("# TYPE queue_worker_jobs_completed_total counter\n");
    expect(text).toContain(`queue_worker_jobs_completed_total{${q}} 1\n`);
    for (const state of ["queued", "running", "interrupted", "failed", "cancelled"]) expect(text).toContain(`queue_worker_jobs{${q},state="${state}"} 0\n`);
    expect(text).toContain(`queue_worker_jobs{${q},state="completed"} 1\n`);
    expect(text).toContain(`queue_worker_langgraph_circuit_state{${q},state="closed"} 1\n`);
    expect(text).toContain(`queue_worker_langgraph_circuit_state{${q},state="open"} 0\n`);
  });
});
