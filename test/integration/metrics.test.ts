/**
 * GET /metrics and the `throughput` action end to end inside workerd: jobs run through real Queue
 * delivery to the workflows test server, to completion, after a retry, to failure and to
 * cancellation; then a scrape is parsed with parse-prometheus-text-format (a parser of the text
 * format that is not the code that wrote it) and its figures checked against what happened.
 * Storage is this file's own, so the counts start at zero.
 */
import { exports } from "cloudflare:workers";
import parsePrometheusTextFormat, { type MetricFamily } from "parse-prometheus-text-format";
import { describe, expect, it } from "vitest";
import { BUCKETS_SECONDS } from "../../src/coordinator/metrics";
import { AUTH, call, ENDPOINT, uniqueId, waitForStatus } from "./http";

const METRICS_URL = `${new URL(ENDPOINT).origin}/metrics`;
const QUEUE = "langgraph-queue";

const job = (id: string, payload: object = {}) => ({ id, type: "data_sync", payload: { recordCount: 2, ...payload } });

let scrape: string;
let families: MetricFamily[];

/** The value of the sample of `name` whose labels include `labels`, as a number. */
function sample(name: string, labels: Record<string, string>): number {
  const family = families.find((f) => f.name === name);
  if (!family) throw new Error(`no metric ${name}`);
  const found = family.metrics.find((m) => Object.entries(labels).every(([key, value]) => m.labels?.[key] === value));
  if (!found) throw new Error(`no sample of ${name} with ${JSON.stringify(labels)}`);
  return Number(found.value ?? found.count);
}

/**
 * One queue's histogram. parse-prometheus-text-format keeps a histogram's `_sum` and `_count` only
 * when they carry no labels (a known bug of the parser: its issue #13), so the histogram's lines
 * of that queue are parsed with the `queue` label taken out.
 */
function histogram(name: string, queue = QUEUE) {
  const label = `queue="${queue}"`;
  const lines = scrape.split("\n").filter((line) => line.endsWith(` ${name}`) || line.includes(` ${name} `) || (line.startsWith(name) && line.includes(label)));
  const text = `${lines.map((line) => line.replace(`{${label}}`, "").replace(`,${label}`, "").replace(`${label},`, "")).join("\n")}\n`;
  const found = parsePrometheusTextFormat(text).find((f) => f.name === name);
  expect(found?.type).toBe("HISTOGRAM");
  const { buckets, count, sum } = found!.metrics[0]!;
  // An object keyed by `le`: its integer-like keys come first, so put the bounds back in order.
  const ordered = Object.entries(buckets!).map(([le, n]) => [le, Number(n)] as const).sort(([a], [b]) => Number(a) - Number(b));
  return { buckets: ordered, count: Number(count), sum: Number(sum) };
}

describe("GET /metrics", () => {
  const ids = { done: [uniqueId("done"), uniqueId("done")], flaky: uniqueId("flaky"), broken: uniqueId("broken"), cancelled: uniqueId("cancelled") };

  // The tests after this one read its scrape (they run in order, as vitest runs a file's tests).
  it("runs jobs to completion, through a retry, to failure and to cancellation, and serves a scrape of them", async () => {
    for (const id of ids.done) expect((await call({ action: "enqueue", job: job(id) })).status).toBe(201);
    // 503 once (retryable: one retry), then done.
    expect((await call({ action: "enqueue", job: job(ids.flaky, { failTimes: 1 }) })).status).toBe(201);
    // 400: LangGraph refused the input, not worth retrying: failed at once.
    expect((await call({ action: "enqueue", job: job(ids.broken, { failStatus: 400 }) })).status).toBe(201);
    // Cancelled once its run has started, so that every job's run start is counted.
    expect((await call({ action: "enqueue", job: job(ids.cancelled, { delayMs: 2000 }) })).status).toBe(201);
    await waitForStatus(ids.cancelled, ["running"]);
    expect((await call({ action: "cancel", jobId: ids.cancelled })).status).toBe(200);
    for (const id of [...ids.done, ids.flaky]) expect((await waitForStatus(id, ["completed", "failed"])).status).toBe("completed");
    expect((await waitForStatus(ids.broken, ["completed", "failed"])).status).toBe("failed");

    const response = await exports.default.fetch(METRICS_URL, { headers: AUTH });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    scrape = await response.text();
    families = parsePrometheusTextFormat(scrape);
  }, 40_000);

  it("refuses a scrape without a key, or with a wrong one, as the endpoint does", async () => {
    const refused: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }, { apikey: "wrong" }];
    for (const headers of refused) {
      const response = await exports.default.fetch(METRICS_URL, { headers });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ success: false, code: "UNAUTHORIZED" });
    }
    expect((await exports.default.fetch(METRICS_URL, { headers: { apikey: "test-key-2" } })).status).toBe(200);
  });

  it("counts jobs by status, and the queued ones by phase, for every configured queue", () => {
    const byStatus = { queued: 0, running: 0, interrupted: 0, completed: 3, failed: 1, cancelled: 1 };
    for (const [state, count] of Object.entries(byStatus)) expect({ state, count: sample("queue_worker_jobs", { queue: QUEUE, state }) }).toEqual({ state, count });
    for (const phase of ["ready", "delayed", "dispatched", "waiting"]) expect(sample("queue_worker_queued_jobs", { queue: QUEUE, phase })).toBe(0);
    // The other configured queue, which ran nothing, is there with zeros.
    expect(sample("queue_worker_jobs", { queue: "reports", state: "completed" })).toBe(0);
    expect(families.find((f) => f.name === "queue_worker_jobs")!.type).toBe("GAUGE");
  });

  it("totals completions, failures, retries and cancellations as counters", () => {
    expect(sample("queue_worker_jobs_completed_total", { queue: QUEUE })).toBe(3);
    expect(sample("queue_worker_jobs_failed_total", { queue: QUEUE })).toBe(1);
    expect(sample("queue_worker_jobs_retried_total", { queue: QUEUE })).toBe(1);
    expect(sample("queue_worker_jobs_cancelled_total", { queue: QUEUE })).toBe(1);
    for (const name of ["completed", "failed", "retried", "cancelled"]) {
      expect(families.find((f) => f.name === `queue_worker_jobs_${name}_total`)!.type).toBe("COUNTER");
    }
  });

  it("has histograms whose buckets, sums and counts agree with the runs", () => {
    const runsStarted = 2 + 2 + 1 + 1; // the two done, the flaky one twice, the broken one, the cancelled one
    const expected = { queue_worker_job_process_seconds: 3, queue_worker_job_wait_seconds: runsStarted, queue_worker_job_dispatch_latency_seconds: runsStarted };
    for (const [name, count] of Object.entries(expected)) {
      const h = histogram(name);
      expect({ name, count: h.count }).toEqual({ name, count });
      expect(h.buckets.map(([le]) => le)).toEqual([...BUCKETS_SECONDS.map(String), "+Inf"]);
      // Cumulative: never down, the last (+Inf) is the count.
      for (let i = 1; i < h.buckets.length; i++) expect(h.buckets[i]![1]).toBeGreaterThanOrEqual(h.buckets[i - 1]![1]);
      expect(h.buckets.at(-1)![1]).toBe(h.count);
      // The sum lies between what the bounds of the observations' buckets allow.
      let low = 0;
      let high = 0;
      h.buckets.forEach(([le, cumulative], i) => {
        const inBucket = cumulative - (i === 0 ? 0 : h.buckets[i - 1]![1]);
        if (inBucket === 0) return;
        low += inBucket * (i === 0 ? 0 : Number(h.buckets[i - 1]![0]));
        high += inBucket * (le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le));
      });
      expect(h.sum).toBeGreaterThanOrEqual(low);
      expect(h.sum).toBeLessThanOrEqual(high);
    }
    // A data_sync run against the test server takes milliseconds, not minutes.
    expect(histogram("queue_worker_job_process_seconds").sum).toBeLessThan(30);
    expect(histogram("queue_worker_job_process_seconds", "reports").count).toBe(0);
  });

  it("shows the LangGraph circuit closed, with no failures in a row", () => {
    expect(sample("queue_worker_langgraph_circuit_state", { queue: QUEUE, state: "closed" })).toBe(1);
    expect(sample("queue_worker_langgraph_circuit_state", { queue: QUEUE, state: "open" })).toBe(0);
    expect(sample("queue_worker_langgraph_circuit_state", { queue: QUEUE, state: "half_open" })).toBe(0);
    expect(sample("queue_worker_langgraph_consecutive_failures", { queue: QUEUE })).toBe(0);
  });

  it("shows a paused queue while it is paused", async () => {
    expect(sample("queue_worker_queue_paused", { queue: "reports" })).toBe(0);
    expect((await call({ action: "pause", queueName: "reports" })).status).toBe(200);
    const paused = parsePrometheusTextFormat(await (await exports.default.fetch(METRICS_URL, { headers: AUTH })).text());
    const value = (queue: string) => paused.find((f) => f.name === "queue_worker_queue_paused")!.metrics.find((m) => m.labels?.queue === queue)!.value;
    expect([value("reports"), value(QUEUE)]).toEqual(["1", "0"]);
    expect((await call({ action: "unpause", queueName: "reports" })).status).toBe(200);
  });

  it("answers `throughput` with the last 60 minutes, which hold this file's completions and failure", async () => {
    const { status, body } = await call({ action: "throughput" });
    expect(status).toBe(200);
    const { queueName, minutes } = body.data as { queueName: string; minutes: { at: string; completed: number; failed: number; averageWaitMs: number | null; averageProcessMs: number | null }[] };
    expect(queueName).toBe(QUEUE);
    expect(minutes).toHaveLength(60);
    const starts = minutes.map((m) => Date.parse(m.at));
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBe(60_000);
    expect(Date.now() - starts.at(-1)!).toBeLessThan(60_000);
    expect(minutes.reduce((sum, m) => sum + m.completed, 0)).toBe(3);
    expect(minutes.reduce((sum, m) => sum + m.failed, 0)).toBe(1);
    for (const m of minutes) {
      expect(m.averageProcessMs === null).toBe(m.completed === 0);
      if (m.averageWaitMs !== null) expect(m.averageWaitMs).toBeGreaterThanOrEqual(0);
    }
    expect(minutes.some((m) => m.averageWaitMs !== null)).toBe(true);
    expect((await call({ action: "throughput", queueName: "reports" })).body.data.minutes.every((m: { completed: number }) => m.completed === 0)).toBe(true);
  });
});
