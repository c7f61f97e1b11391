/**
 * GET /metrics: every configured queue's figures (coordinator/metrics.ts) in the Prometheus text
 * exposition format, for a Prometheus scrape; the same keys as the POST endpoint.
 *
 * prom-client writes the text (names, HELP and TYPE lines, label escaping, +Inf). It runs in
 * workerd with nodejs_compat: the Node modules it imports for its other uses (cluster, the
 * Pushgateway's http) are the runtime's, and never called here. Its Gauge and
 * Counter classes would do for the counts, but its Histogram only takes one observation at a time,
 * and the histograms here are already bucketed, in each queue's Durable Object. So each queue's
 * figures are given to prom-client as the metrics JSON its registries export
 * (`getMetricsAsJSON()`), and `AggregatorRegistry.aggregate`, which merges the registries of
 * several processes for one scrape, merges the queues' (each under its own `queue` label) into
 * the registry that renders them.
 */
import type { Context } from "hono";
import { AggregatorRegistry } from "prom-client";
import { queueNames, type AppEnv } from "../config";
import { BUCKETS_SECONDS, type HistogramSnapshot, type MetricsSnapshot } from "../coordinator/metrics";
import { coordinatorFor } from "../rpc";
import { authenticate } from "./auth";

/** One metric as a prom-client registry exports it (getMetricsAsJSON): what `aggregate` takes. */
interface MetricJson {
  name: string;
  help: string;
  type: "gauge" | "counter" | "histogram";
  aggregator: "sum";
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

const PREFIX = "queue_worker_";

/** What clients see (jobs.ts JobStatus), and the stored states that clients see as `queued`. */
const STATUSES = ["queued", "running", "interrupted", "completed", "failed", "cancelled"] as const;
const QUEUED_PHASES = { ready: "queued", delayed: "delayed", dispatched: "dispatched", waiting: "waiting" } as const;
const CIRCUIT_STATES = ["closed", "open", "half_open"] as const;

const HISTOGRAM_FAMILIES = {
  process: ["job_process_seconds", "Run time of completed jobs: from the start of the attempt that completed to its completion."],
  wait: ["job_wait_seconds", "Wait of each run: from when the job became ready (enqueued, or requeued: a retry due, a resume, an operator's retry, a stall) to the start of its run."],
  dispatch: ["job_dispatch_latency_seconds", "From a job's dispatch to the Queue to a consumer's claim of it."],
} as const;

export async function metricsRoute(c: Context<{ Bindings: AppEnv }>): Promise<Response> {
  await authenticate(c.req.raw.headers, c.env);
  const snapshots = await Promise.all(queueNames(c.env).map((name) => coordinatorFor(c.env, name).metricsSnapshot()));
  const registry = AggregatorRegistry.aggregate(snapshots.map(metricsOf));
  return c.body(await registry.metrics(), 200, { "content-type": registry.contentType });
}

/** One queue's figures as prom-client's metrics JSON, as one registry would export them. */
export function metricsOf(snapshot: MetricsSnapshot): MetricJson[] {
  const queue = snapshot.queueName;
  const { states, totals } = snapshot;
  const metric = (type: MetricJson["type"], name: string, help: string, values: MetricJson["values"]): MetricJson =>
    ({ name: PREFIX + name, help, type, aggregator: "sum", values });
  const counter = (name: string, help: string, value: number) => metric("counter", name, help, [{ value, labels: { queue } }]);
  const byStatus: Record<(typeof STATUSES)[number], number> = {
    queued: states.queued + states.delayed + states.dispatched + states.waiting,
    running: states.running, interrupted: states.interrupted, completed: states.completed, failed: states.failed, cancelled: states.cancelled,
  };
  return [
    metric("gauge", "jobs", "Jobs by status, as the API shows them. queued counts jobs ready, waiting to retry, dispatched and waiting for their thread " +
      "(queue_worker_queued_jobs splits them); completed, failed and cancelled count the records kept (RESULT_TTL_SECONDS).",
    STATUSES.map((status) => ({ value: byStatus[status], labels: { queue, state: status } }))),
    metric("gauge", "queued_jobs", "Queued jobs by phase: ready to dispatch, delayed (waiting out a retry backoff), dispatched (sent to the Queue, not yet claimed), " +
      "waiting (for an earlier job on their LangGraph thread).",
    Object.entries(QUEUED_PHASES).map(([phase, state]) => ({ value: states[state], labels: { queue, phase } }))),
    counter("jobs_completed_total", "Jobs completed.", totals.completed),
    counter("jobs_failed_total", "Jobs failed for good (retries spent, or an error not worth retrying).", totals.failed),
    counter("jobs_retried_total", "Retries: one scheduled after a failed attempt, or an operator's retry of a failed or cancelled job.", totals.retried),
    counter("jobs_cancelled_total", "Jobs cancelled.", totals.cancelled),
    ...Object.entries(HISTOGRAM_FAMILIES).map(([key, [name, help]]) => histogram(PREFIX + name, help, queue, snapshot.histograms[key as keyof typeof HISTOGRAM_FAMILIES])),
    metric("gauge", "langgraph_circuit_state", "The queue's circuit breaker for LangGraph: 1 for the state it is in (closed: dispatching; open: holding jobs back; " +
      "half_open: one probe job in flight), 0 for the others.",
    CIRCUIT_STATES.map((state) => ({ value: snapshot.circuit.state === state ? 1 : 0, labels: { queue, state } }))),
    metric("gauge", "langgraph_consecutive_failures", "Attempts in a row that found LangGraph unreachable; 0 once it answers again.",
      [{ value: snapshot.circuit.consecutiveFailures, labels: { queue } }]),
    metric("gauge", "queue_paused", "1 while an operator has paused the queue (nothing is dispatched), else 0.", [{ value: snapshot.paused ? 1 : 0, labels: { queue } }]),
  ];
}

function histogram(name: string, help: string, queue: string, h: HistogramSnapshot): MetricJson {
  const bounds = [...BUCKETS_SECONDS, "+Inf"] as const;
  return {
    name, help, type: "histogram", aggregator: "sum",
    values: [
      ...bounds.map((le, i) => ({ value: h.cumulative[i]!, labels: { le, queue }, metricName: `${name}_bucket` })),
      { value: h.sumSeconds, labels: { queue }, metricName: `${name}_sum` },
      { value: h.count, labels: { queue }, metricName: `${name}_count` },
    ],
  };
}
