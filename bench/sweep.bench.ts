/**
 * `npm run bench:sweep`: one cron sweep of a queue holding 1,000 running jobs, each with a
 * LangGraph run id, while LangGraph is down, (a) refusing connections, (b) accepting them and
 * never answering. Side by side: the unbounded loop the sweep was until issue 13 (kept below,
 * as it was, with a stop flag so the bench can end it) and today's bounded sweep (src/sweep.ts).
 * Prints how long each sweep took and how many LangGraph calls it made.
 *
 * The unbounded loop against a LangGraph that never answers would take 1,000 × 10 s: it is
 * stopped after 65 s (past the next cron run) and its figures projected.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, inject, it, vi } from "vitest";
import type { AppEnv } from "../src/config";
import { langGraphClient } from "../src/langgraph";
import type { QueueCoordinator } from "../src/queue-do";
import { sweepAll } from "../src/sweep";

const QUEUE = "sweep-bench";
const JOBS = 1000;
const OLD_LOOP_CAP_MS = 65_000;

const coordinatorFor = (testEnv: AppEnv, queueName: string) =>
  testEnv.QUEUE_COORDINATOR.getByName(queueName) as DurableObjectStub<QueueCoordinator>;

/** The sweep's LangGraph part as it was before issue 13: every run, one after another, no bound. */
async function unboundedSweep(testEnv: AppEnv, queueName: string, stop: { now: boolean }): Promise<void> {
  const coordinator = coordinatorFor(testEnv, queueName);
  await coordinator.sweep();
  const langgraph = langGraphClient(testEnv);
  const { unfinished, stopped } = await coordinator.runsToCheck();
  for (const job of unfinished) {
    if (stop.now) return;
    const check = await langgraph.checkRun(job.threadId, job.runId);
    if (check.status === "completed") await coordinator.recordFinishedRun(job.jobId, job.attempt, check.result, check.runMs);
  }
  for (const job of stopped) {
    if (stop.now) return;
    if ((await langgraph.checkRun(job.threadId, job.runId)).status === "active") await langgraph.cancelRun(job.threadId, job.runId);
  }
}

/**
 * 1,000 jobs running with run ids, as consumers and followers would leave them. Their times are
 * a day ahead, so that no lease or dispatch lease runs out while the bench runs (there is no
 * follower to renew them): the list of runs to check stays the same for every sweep.
 */
async function fillWithRunningJobs(): Promise<void> {
  const at = Date.now() + 86_400_000;
  const coordinator = coordinatorFor(env, QUEUE);
  await runInDurableObject(coordinator, async (instance) => {
    for (let start = 0; start < JOBS; start += 100) {
      const jobs = Array.from({ length: 100 }, (_, k) => ({
        id: `running-${start + k}`, type: "data_sync" as const, payload: { n: start + k }, priority: "medium" as const, maxRetries: 3,
      }));
      const outcome = await instance.enqueueBatch(jobs, at);
      if (!outcome.ok) throw new Error(`enqueueBatch: ${outcome.message}`);
      const claimed = instance.claimBatch(jobs.map((job) => ({ jobId: job.id, attempt: 1 })), at);
      if (!claimed.every((c) => c.ok)) throw new Error(`claimBatch: ${JSON.stringify(claimed.find((c) => !c.ok))}`);
      for (const job of jobs) {
        const reported = await instance.report(job.id, 1, { runId: `run-${job.id}` }, at);
        if (!reported.ok) throw new Error(`report: ${reported.message}`);
      }
    }
  });
  const { unfinished } = await coordinator.runsToCheck();
  expect(unfinished).toHaveLength(JOBS);
}

interface Measured {
  ms: number;
  calls: number;
  note?: string;
}

/** Runs `sweep` and counts the fetches it makes to `url` (the LangGraph SDK and the health probe both use the global fetch). */
async function measure(url: string, sweep: () => Promise<string | undefined>): Promise<Measured> {
  const fetchSpy = vi.spyOn(globalThis, "fetch");
  const started = performance.now();
  try {
    const note = await sweep();
    const ms = performance.now() - started;
    const calls = fetchSpy.mock.calls.filter(([input]) => String(input instanceof Request ? input.url : input).startsWith(url)).length;
    return { ms, calls, note };
  } finally {
    fetchSpy.mockRestore();
  }
}

async function before(url: string): Promise<Measured> {
  const stop = { now: false };
  return measure(url, async () => {
    const loop = unboundedSweep({ ...env, LANGGRAPH_API_URL: url }, QUEUE, stop);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finished = await Promise.race([loop.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), OLD_LOOP_CAP_MS)))]);
    clearTimeout(timer);
    if (finished) return undefined;
    // Let the call under way end (its own 10 s timeout), so it does not count against the next sweep.
    stop.now = true;
    await loop;
    return `stopped after ${OLD_LOOP_CAP_MS / 1000} s, still going`;
  });
}

async function after(url: string): Promise<Measured> {
  return measure(url, async () => {
    const [report] = await sweepAll({ ...env, LANGGRAPH_API_URL: url }, Date.now());
    return `runs listed ${report!.runsListed}, checked ${report!.runsChecked}, stopped early: ${report!.stoppedEarly}`;
  });
}

it("sweeps 1,000 running jobs while LangGraph is down: before and after", async () => {
  await fillWithRunningJobs();
  const refusedUrl = inject("refusedUrl");
  const silentUrl = inject("silentUrl");
  const rows: [string, string, Measured][] = [];
  rows.push(["refused", "before (unbounded loop)", await before(refusedUrl)]);
  rows.push(["refused", "after (bounded sweep)", await after(refusedUrl)]);
  rows.push(["never answers", "before (unbounded loop)", await before(silentUrl)]);
  rows.push(["never answers", "after (bounded sweep)", await after(silentUrl)]);

  const lines = [
    `[bench:sweep] one sweep, ${JOBS} running jobs with run ids, LangGraph down (platform flavour)`,
    "| LangGraph | sweep | took | LangGraph calls | note |",
    "|---|---|---:|---:|---|",
    ...rows.map(([down, sweep, m]) => `| ${down} | ${sweep} | ${(m.ms / 1000).toFixed(2)} s | ${m.calls} | ${m.note ?? ""} |`),
  ];
  const silentBefore = rows[2]![2];
  if (silentBefore.note) {
    const perCall = silentBefore.ms / Math.max(1, silentBefore.calls);
    lines.push(`projected, unbounded loop against a LangGraph that never answers: ${JOBS} calls × ${(perCall / 1000).toFixed(1)} s = ${((JOBS * perCall) / 60_000).toFixed(0)} min`);
  }
  console.log(lines.join("\n"));
  // The bounded sweep ends well inside the minute, having made a handful of calls.
  expect(rows[1]![2].ms).toBeLessThan(60_000);
  expect(rows[3]![2].ms).toBeLessThan(60_000);
});
