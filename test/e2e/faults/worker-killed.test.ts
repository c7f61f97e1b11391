/**
 * The Worker is killed with SIGKILL (wrangler and workerd at once: no shutdown, no last write)
 * while three jobs run and two wait, and started again on the same persisted state. A Worker of
 * its own under `wrangler dev` in its own process group (wrangler-dev.ts); the shared LangGraph
 * server, whose runs go on meanwhile.
 *
 * What a user needs: every job completes, none is lost, none completes twice. The runs that were
 * going are taken up again by whatever notices first: the run follower's watchdog alarm (it fires
 * after a restart too, and rejoins the run), the cron sweep (which records a run that succeeded
 * while nobody listened; the test fires it right after the restart, so both race for the same
 * job), or, failing both, the lease expiry (a retry). One job's run ends while the Worker is
 * down, the two others' go on past the restart.
 */
import { Client } from "@langchain/langgraph-sdk";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { QueueClient, uniqueJobId, waitFor, type JobInput } from "../api";
import { accountFor, completedTwice, countBy, explain, reportFigures, type JobAccount } from "./figures";
import { startWranglerDev, type WranglerDev } from "./wrangler-dev";

const QUEUE = "faults-worker-killed";
let persistDir: string;
const workers: WranglerDev[] = [];

beforeAll(async () => {
  persistDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-worker-killed-"));
});

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  await rm(persistDir, { recursive: true, force: true });
});

const start = async (name: string) => {
  const worker = await startWranglerDev({
    name, langgraphUrl: inject("langgraphUrl"), persistDir, vars: { QUEUE_NAMES: QUEUE, MAX_CONCURRENCY: "3" },
  });
  workers.push(worker);
  return worker;
};

/** How the job's interrupted attempt was taken up again, from its history. */
function recoveredBy(account: JobAccount): string {
  const events = account.events;
  if (events.some((e) => e.event === "completed" && (e.detail as { reconciled?: boolean } | null)?.reconciled)) return "sweep";
  if (events.some((e) => e.event === "retry_scheduled" && String(e.detail?.error).includes("lease expired"))) return "lease expiry";
  if (events.some((e) => e.event === "rejoined")) return "watchdog";
  return "not interrupted";
}

it("completes every job, once, when the Worker is SIGKILLed mid-run and started again on its state", async () => {
  let worker = await start("worker-killed-1");
  let queue = new QueueClient(worker.url, QUEUE);
  const job = (label: string, delayMs: number): JobInput => ({ id: uniqueJobId(label), type: "research_workflow", payload: { itemName: label, delayMs, instrument: true } });
  // Three slots: two 2-node runs of 12 s and one of 3 s start at once; two short jobs wait.
  const running = [job("ends-while-down", 1500), job("long-a", 6000), job("long-b", 6000)];
  const waiting = [job("waiting-a", 300), job("waiting-b", 300)];
  for (const j of [...running, ...waiting]) await queue.enqueue(j);
  await Promise.all(running.map((j) => queue.waitForJob(j.id, (s) => s.status === "running" && s.currentStep !== null, { timeoutMs: 30_000 })));
  expect((await Promise.all(waiting.map((j) => queue.status(j.id)))).map((s) => s.status)).toEqual(["queued", "queued"]);

  const killedAt = Date.now();
  await worker.kill();
  worker = await start("worker-killed-2");
  queue = new QueueClient(worker.url, QUEUE);
  const backAt = Date.now();
  // The cron sweep, as the every-minute trigger would fire it.
  const sweep = await fetch(`${worker.url}/__scheduled?cron=${encodeURIComponent("* * * * *")}`);
  await sweep.body?.cancel();
  expect(sweep.ok).toBe(true);

  const ids = [...running, ...waiting].map((j) => j.id);
  await Promise.all(ids.map((id) => waitFor(`job ${id}`, () => queue.status(id), (s) => ["completed", "failed", "cancelled"].includes(s.status), { timeoutMs: 75_000, intervalMs: 500 })));
  const allDoneAt = Date.now();
  const accounts = await accountFor(queue, ids);
  const langgraph = new Client({ apiUrl: inject("langgraphUrl") });
  const runsPerThread = await Promise.all(
    accounts.map(async (a) => (await langgraph.runs.list(String(a.events.find((e) => e.event === "run_created")?.detail?.threadId))).length),
  );

  reportFigures("worker-killed", {
    jobs: ids.length,
    faultsInjected: { sigkill: 1, downMs: backAt - killedAt },
    recoveredBy: countBy(accounts.slice(0, running.length), recoveredBy),
    outcomes: countBy(accounts, (a) => a.status),
    allDoneAfterRestartMs: allDoneAt - backAt,
    runsPerThread,
    jobsLost: accounts.filter((a) => a.status === "lost").length,
    jobsCompletedTwice: completedTwice(accounts).length,
  });

  for (const account of accounts) {
    expect(account.status, explain(account)).toBe("completed");
    expect(account.completedEvents, explain(account)).toBe(1);
    expect(account.nodeRuns, explain(account)).toEqual({ research: 1, draft: 1 });
  }
  // No run was started twice: the runs going at the kill were taken up, not replaced.
  expect(runsPerThread).toEqual(ids.map(() => 1));
  const stats = await queue.call<{ totalJobs: number; completedJobs: number; runningJobs: number }>({ action: "stats" });
  expect(stats).toMatchObject({ totalJobs: ids.length, completedJobs: ids.length, runningJobs: 0 });
});
