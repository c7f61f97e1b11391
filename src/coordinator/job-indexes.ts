/**
 * The jobs table's partial indexes, as the queries that use them must name them: without
 * statistics SQLite may pick another index and sort (job-store.ts says why each state has its own).
 */
import type { JobState } from "../jobs";

/** The active jobs of threads clients chose (jobs_thread). */
export const ON_SHARED_THREAD = "INDEXED BY jobs_thread WHERE shared_thread = 1 AND ended_at_ms IS NULL";

/** Each state's own index, and the condition that lets a query use it. */
export const BY_STATE: Record<JobState, string> = {
  queued: "INDEXED BY jobs_ready WHERE state = 'queued'",
  delayed: "INDEXED BY jobs_delayed WHERE state = 'delayed'",
  dispatched: "INDEXED BY jobs_leased WHERE state IN ('dispatched', 'running') AND state = 'dispatched'",
  running: "INDEXED BY jobs_leased WHERE state IN ('dispatched', 'running') AND state = 'running'",
  waiting: `${ON_SHARED_THREAD} AND state = 'waiting'`,
  // Every interrupted job has a deadline (INTERRUPT_TIMEOUT_SECONDS).
  interrupted: "INDEXED BY jobs_deadline WHERE deadline_ms IS NOT NULL AND state = 'interrupted'",
  completed: "INDEXED BY jobs_ended WHERE ended_at_ms IS NOT NULL AND state = 'completed'",
  failed: "INDEXED BY jobs_ended WHERE ended_at_ms IS NOT NULL AND state = 'failed'",
  cancelled: "INDEXED BY jobs_ended WHERE ended_at_ms IS NOT NULL AND state = 'cancelled'",
};
