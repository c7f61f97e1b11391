/**
 * A short network blip between the Worker and a LangGraph that stays up: the follower's stream is
 * cut in the middle of a 6 s node that ignores the abort signal (as a real LLM call does), and the
 * status check right after fails too; or, for another job, one single read (the result's
 * threads.get) is reset. LangGraph answered all along (its /ok did), so none of this is an
 * outage: the run is rejoined, never interrupted nor copied, and the long node runs once.
 *
 * What a user needs: the jobs complete, the long node ran exactly once (`ignoreAbortStarts` 1:
 * counted in the graph's process, so an execution whose run was interrupted counts too), no
 * retry was spent, the job's thread is the one it started on (no `thread_replaced`), and the
 * queue's LangGraph circuit never opened (no `outage`). A Worker of its own behind the fault
 * proxy, in front of the shared LangGraph server.
 */
import { Client } from "@langchain/langgraph-sdk";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { QueueClient, uniqueJobId, waitFor } from "../api";
import { startQueueWorker, type QueueWorker } from "../servers";
import { accountFor, completedTwice, explain, reportFigures } from "./figures";
import { startFaultProxy, type FaultProxy } from "./fault-proxy";

const STREAM_CUT = "blip-stream";
const READ_RESET = "blip-read";
const LONG_NODE_MS = 6000;
const RUN = /^\/threads\/[0-9a-f-]{36}\/runs\/[0-9a-f-]{36}$/; // runs.get
const THREAD = /^\/threads\/[0-9a-f-]{36}$/; // threads.get
const STREAM = /\/stream(\?|$)/;

const jobIds = { [STREAM_CUT]: uniqueJobId(STREAM_CUT), [READ_RESET]: uniqueJobId(READ_RESET) };
let persistDir: string;
let proxy: FaultProxy;
let worker: QueueWorker;

beforeAll(async () => {
  persistDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-blip-"));
  proxy = await startFaultProxy({
    target: inject("langgraphUrl"),
    rules: [
      // 2 s into the 6 s node: the follower's stream is cut, and the status check that follows is reset too.
      { fault: "reset", path: STREAM, jobId: jobIds[STREAM_CUT], times: 1, resetAfterMs: 2000 },
      { fault: "reset", method: "GET", path: RUN, jobId: jobIds[STREAM_CUT], times: 1 },
      // The run over, the read of its result is reset.
      { fault: "reset", method: "GET", path: THREAD, jobId: jobIds[READ_RESET], times: 1 },
    ],
  });
  // One queue per job: each queue's circuit shows what its job met.
  worker = await startQueueWorker({ name: "network-blip", langgraphUrl: proxy.url, persistDir, vars: { QUEUE_NAMES: `${STREAM_CUT},${READ_RESET}` } });
});

afterAll(async () => {
  await worker?.stop();
  await proxy?.close();
  await rm(persistDir, { recursive: true, force: true });
});

it(`a blip (a cut stream and a reset status check mid-node, or one reset read) costs no retry, and a ${LONG_NODE_MS / 1000} s node that ignores abort runs once`, async () => {
  const names = [STREAM_CUT, READ_RESET] as const;
  const queues = names.map((name) => new QueueClient(worker.url, name));
  const started = Date.now();
  await Promise.all(names.map((name, i) => queues[i]!.enqueue({
    id: jobIds[name], type: "research_workflow", payload: { itemName: name, ignoreAbortMs: LONG_NODE_MS, ignoreAbortKey: jobIds[name], instrument: true },
  })));
  const endedAfterMs = await Promise.all(names.map((name, i) =>
    waitFor(`job ${name}`, () => queues[i]!.status(jobIds[name]), (j) => ["completed", "failed", "cancelled"].includes(j.status), { timeoutMs: 60_000, intervalMs: 250 })
      .then(() => Date.now() - started)));
  const accounts = await Promise.all(names.map(async (name, i) => (await accountFor(queues[i]!, [jobIds[name]]))[0]!));
  const results = await Promise.all(names.map((name, i) => queues[i]!.status(jobIds[name])));
  const stats = await Promise.all(queues.map((queue) => queue.call<{ langgraph: { circuit: string } }>({ action: "stats" })));
  const langgraph = new Client({ apiUrl: inject("langgraphUrl") });
  const runsPerThread = await Promise.all(names.map(async (name) => Promise.all(proxy.threadsOf(jobIds[name]).map(async (t) => (await langgraph.runs.list(t)).length))));

  reportFigures("network-blip", Object.fromEntries(names.map((name, i) => [name, {
    faultsInjected: proxy.injected.filter((f) => f.jobId === jobIds[name]).map((f) => `${f.fault} ${f.method} ${f.path.replace(/[0-9a-f-]{36}/g, "…").split("?")[0]}`),
    status: accounts[i]!.status,
    endedAfterMs: endedAfterMs[i],
    longNodeStarts: results[i]!.result?.ignoreAbortStarts,
    nodeRuns: accounts[i]!.nodeRuns,
    retryCount: accounts[i]!.retryCount,
    attempts: accounts[i]!.attempts,
    history: accounts[i]!.events.map((e) => e.event),
    circuit: stats[i]!.langgraph.circuit,
    threads: runsPerThread[i]!.length,
    runsOnThread: runsPerThread[i],
    jobsCompletedTwice: completedTwice([accounts[i]!]).length,
  }])));

  expect(proxy.injected.filter((f) => f.jobId === jobIds[STREAM_CUT])).toHaveLength(2);
  expect(proxy.injected.filter((f) => f.jobId === jobIds[READ_RESET])).toHaveLength(1);
  for (const [i, account] of accounts.entries()) {
    expect(account.status, explain(account)).toBe("completed");
    expect(results[i]!.result?.ignoreAbortStarts, explain(account)).toBe(1);
    expect(account.nodeRuns, explain(account)).toEqual({ research: 1, draft: 1 });
    expect(account.completedEvents).toBe(1);
    // No wasted retry: the blip cost the attempt nothing.
    expect(account.retryCount, explain(account)).toBe(0);
    expect(account.attempts, explain(account)).toBe(1);
    const events = account.events.map((e) => e.event);
    expect(events, explain(account)).not.toContain("thread_replaced");
    expect(events, explain(account)).not.toContain("outage");
    expect(stats[i]!.langgraph.circuit).toBe("closed");
    // One thread, one run on it: nothing was started again.
    expect(runsPerThread[i], explain(account)).toEqual([1]);
  }
});
