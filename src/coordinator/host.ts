/**
 * What the coordinator's parts share: the object's storage, its configuration and bindings, and
 * the one way a change is written into a job's history (and its log line).
 */
import type { AppEnv, QueueConfig } from "../config";
import { log } from "../log";
import type { JobEvent, JobRow, JobStore } from "./job-store";
import type { QueueMetrics } from "./metrics";
import type { JobViews } from "./views";

/** The QueueCoordinator as its parts see it. Read on every use, so a test may swap a binding. */
export interface CoordinatorHost {
  readonly store: JobStore;
  readonly views: JobViews;
  /** Histograms, totals and the per-minute series (metrics.ts), observed where jobs change. */
  readonly metrics: QueueMetrics;
  readonly config: QueueConfig;
  readonly env: AppEnv;
  readonly queueName: string;
}

/** An entry for the job's history (the store appends it with the change it goes with), and its log line. */
export function jobEvent(host: CoordinatorHost, job: Pick<JobRow, "id" | "attempt">, event: string, now: number, detail: Record<string, unknown>): JobEvent {
  log({ event, queue: host.queueName, jobId: job.id, attempt: job.attempt, ...detail });
  return { at_ms: now, event, attempt: job.attempt, detail };
}
