/**
 * The fault tests' figures (jobs, faults injected, jobs lost, jobs completed twice…), shown in
 * the `npm test` output whether the test passes or fails: vitest hides a passing test's console
 * (`silent: "passed-only"`) but not what a test writes to stdout itself. Each test's figures also
 * go to .wrangler/e2e/fault-figures-<name>.json, to compare runs.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { JobEvent, JobStatusName, QueueClient } from "../api";
import { LOG_DIR } from "../servers";

export function reportFigures(name: string, figures: Record<string, unknown>): void {
  mkdirSync(LOG_DIR, { recursive: true });
  writeFileSync(join(LOG_DIR, `fault-figures-${name}.json`), `${JSON.stringify({ at: new Date().toISOString(), ...figures }, null, 2)}\n`);
  process.stdout.write(`[faults] ${name}: ${JSON.stringify(figures)}\n`);
}

/** Jobs that ran a node more than once, or whose history holds more than one `completed`. */
export function completedTwice(jobs: JobAccount[]): string[] {
  return jobs.filter((j) => j.completedEvents > 1 || Object.values(j.nodeRuns).some((runs) => runs > 1)).map((j) => j.jobId);
}

export interface JobAccount {
  jobId: string;
  status: JobStatusName | "lost";
  retryCount: number;
  /** Attempts dispatched (retries, and attempts put back by an outage). */
  attempts: number;
  nodeRuns: Record<string, number>;
  completedEvents: number;
  error: string | null;
  events: JobEvent[];
}

/**
 * What became of each job: its status, how often its nodes ran (the jobs must ask the example graphs
 * for `nodeRuns` with `"instrument": true`), how often it was recorded completed.
 */
export async function accountFor(queue: QueueClient, jobIds: string[]): Promise<JobAccount[]> {
  return Promise.all(
    jobIds.map(async (jobId): Promise<JobAccount> => {
      try {
        const [job, events] = await Promise.all([queue.status(jobId), queue.history(jobId)]);
        const nodeRuns = job.result?.nodeRuns as Record<string, number> | undefined;
        // The graphs count node runs only when asked: without the count, "no node ran twice" would pass unseen.
        if (job.status === "completed" && !nodeRuns) throw new Error(`job ${jobId} completed without nodeRuns in its result: enqueue it with "instrument": true in its payload`);
        return {
          jobId, status: job.status, retryCount: job.retryCount, error: job.error, events,
          attempts: Math.max(0, ...events.map((e) => e.attempt)),
          nodeRuns: nodeRuns ?? {},
          completedEvents: events.filter((e) => e.event === "completed").length,
        };
      } catch (error) {
        // The queue has no record of a job it accepted. Anything else is the test's trouble.
        if (!String(error).includes("JOB_NOT_FOUND")) throw error;
        return { jobId, status: "lost", retryCount: 0, attempts: 0, nodeRuns: {}, completedEvents: 0, error: String(error), events: [] };
      }
    }),
  );
}

export const countBy = <T>(items: T[], key: (item: T) => string): Record<string, number> =>
  items.reduce<Record<string, number>>((counts, item) => ({ ...counts, [key(item)]: (counts[key(item)] ?? 0) + 1 }), {});

/** A job's end and history, for assertion messages: what happened to it, attempt by attempt. */
export const explain = (a: JobAccount): string =>
  `${a.jobId}: ${a.status} ${a.error ?? ""}\n${a.events.map((e) => `  #${e.attempt} ${e.event} ${JSON.stringify(e.detail)}`).join("\n")}`;
