/**
 * The LangGraph server is killed (SIGKILL to its whole process group) while five jobs run, and
 * started again eight seconds later on the same port and data directory. A LangGraph server of
 * its own and a Worker of its own, so killing it disturbs no other test.
 *
 * What a user needs: every job completes, none is lost, none runs a node twice or completes twice,
 * and the outage does not spend the jobs' retries (the queue's LangGraph circuit breaker puts
 * them back unspent; default maxRetries).
 *
 * The dev server writes its threads and checkpoints to disk 3 s after its last change, and while
 * a run is followed the follower's joined stream reads the run every 500 ms, which counts as a
 * change: a SIGKILL mid-run loses the jobs' threads, and the restarted server has never heard of
 * them. The Worker then starts each job afresh on its thread. `nodeRuns` (summed over the
 * thread's checkpoints) being 1 for each node shows no node ran twice in what LangGraph kept; the
 * figures say how many checkpoints survived (0 here). langgraph-lost-run.test.ts is the case
 * where they do survive.
 */
import { Client } from "@langchain/langgraph-sdk";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { QueueClient, uniqueJobId, waitFor } from "../api";
import { startQueueWorker, type QueueWorker } from "../servers";
import { accountFor, completedTwice, countBy, explain, reportFigures } from "./figures";
import { killableLangGraph, type KillableLangGraph } from "./langgraph-process";

const QUEUE = "faults-langgraph-killed";
const JOBS = 5;
const OUTAGE_MS = 8_000;

let persistDir: string;
let langgraphDir: string;
let langgraph: KillableLangGraph | undefined;
let worker: QueueWorker | undefined;

beforeAll(async () => {
  persistDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-lg-killed-"));
  langgraphDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-lg-killed-data-"));
  langgraph = await killableLangGraph("langgraph-killed", langgraphDir);
  const server = await langgraph.start();
  worker = await startQueueWorker({ name: "langgraph-killed", langgraphUrl: server.url, persistDir, vars: { QUEUE_NAMES: QUEUE, MAX_CONCURRENCY: String(JOBS) } });
});

afterAll(async () => {
  await worker?.stop();
  await langgraph?.stopAll();
  await rm(persistDir, { recursive: true, force: true });
  await rm(langgraphDir, { recursive: true, force: true });
});

it(`completes every job, once, when LangGraph is SIGKILLed mid-run and back ${OUTAGE_MS / 1000} s later`, async () => {
  const queue = new QueueClient(worker!.url, QUEUE);
  const ids = Array.from({ length: JOBS }, (_, i) => uniqueJobId(`lg-killed-${i}`));
  // Two nodes of 1.5 s each; the kill comes in the first.
  await Promise.all(ids.map((id) => queue.enqueue({ id, type: "research_workflow", payload: { itemName: id, delayMs: 1500, instrument: true } })));
  await Promise.all(ids.map((id) => queue.waitForJob(id, (j) => j.status === "running" && j.currentStep !== null, { timeoutMs: 30_000 })));
  await new Promise((resolve) => setTimeout(resolve, 1000));

  const killedAt = Date.now();
  await langgraph!.kill();
  // What the server had written to disk when it died: which jobs' threads (and checkpoints) it kept.
  const threadIds = await Promise.all(ids.map(async (id) => String((await queue.history(id)).find((e) => e.event === "run_created")?.detail?.threadId)));
  const { checkpoints } = await langgraph!.persisted();
  const checkpointsSurvived = threadIds.filter((threadId) => checkpoints.includes(threadId)).length;

  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
  const restarted = await langgraph!.start();
  const backAt = Date.now();

  const ended = await Promise.all(ids.map((id) => waitFor(`job ${id}`, () => queue.status(id), (j) => ["completed", "failed", "cancelled"].includes(j.status), { timeoutMs: 60_000, intervalMs: 500 })));
  const allDoneAt = Date.now();
  const accounts = await accountFor(queue, ids);
  const stats = await queue.call<{ totalJobs: number; completedJobs: number; langgraph: { circuit: string } }>({ action: "stats" });
  // The restarted server's view: one successful run per job's thread.
  const client = new Client({ apiUrl: restarted.url });
  const successfulRuns = await Promise.all(threadIds.map(async (threadId) => (await client.runs.list(threadId)).filter((r) => r.status === "success").length));

  reportFigures("langgraph-killed", {
    jobs: JOBS,
    faultsInjected: { sigkill: 1, outageMs: backAt - killedAt },
    checkpointsSurvived,
    outcomes: countBy(ended, (j) => j.status),
    retryCounts: accounts.map((a) => a.retryCount),
    attempts: accounts.map((a) => a.attempts),
    outageEvents: accounts.reduce((n, a) => n + a.events.filter((e) => e.event === "outage").length, 0),
    allDoneAfterRestartMs: allDoneAt - backAt,
    circuit: stats.langgraph.circuit,
    jobsLost: accounts.filter((a) => a.status === "lost").length,
    jobsCompletedTwice: completedTwice(accounts).length,
  });

  for (const account of accounts) {
    expect(account.status, explain(account)).toBe("completed");
    expect(account.completedEvents, explain(account)).toBe(1);
    expect(account.nodeRuns, explain(account)).toEqual({ research: 1, draft: 1 });
    // Jobs that met the outage went back to the queue without spending a retry.
    expect(account.retryCount, explain(account)).toBe(0);
  }
  expect(successfulRuns).toEqual(ids.map(() => 1));
  expect(stats).toMatchObject({ totalJobs: JOBS, completedJobs: JOBS });
  expect(stats.langgraph.circuit).toBe("closed");
});
