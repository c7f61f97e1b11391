/**
 * LangGraph is killed (SIGKILL) after it wrote a running job's checkpoints to disk, the first
 * node finished and the second under way, and started again on them. What a user needs: the job
 * completes, resuming from the checkpoint LangGraph kept, so the node that had finished does not
 * run again, and the outage spends no retry.
 *
 * The JS dev server writes each of its stores 3 s after that store's last change. Checkpoints
 * change only when a node ends, so they reach the disk during a long node; threads and runs are
 * read every 500 ms while anyone follows the run, so they do not. After the restart the server
 * has the thread's checkpoints but not the thread's run (the figures say what it had on disk).
 * A LangGraph server and a Worker of its own.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { QueueClient, uniqueJobId, waitFor } from "../api";
import { startQueueWorker, type QueueWorker } from "../servers";
import { accountFor, completedTwice, explain, reportFigures } from "./figures";
import { killableLangGraph, type KillableLangGraph } from "./langgraph-process";

const QUEUE = "faults-lost-run";

let persistDir: string;
let langgraphDir: string;
let langgraph: KillableLangGraph | undefined;
let worker: QueueWorker | undefined;

beforeAll(async () => {
  persistDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-lost-run-"));
  langgraphDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-lost-run-data-"));
  langgraph = await killableLangGraph("langgraph-lost-run", langgraphDir);
  const server = await langgraph.start();
  worker = await startQueueWorker({ name: "langgraph-lost-run", langgraphUrl: server.url, persistDir, vars: { QUEUE_NAMES: QUEUE } });
});

afterAll(async () => {
  await worker?.stop();
  await langgraph?.stopAll();
  await rm(persistDir, { recursive: true, force: true });
  await rm(langgraphDir, { recursive: true, force: true });
});

it("resumes from the checkpoint a killed LangGraph kept: the node that had finished does not run again", async () => {
  const queue = new QueueClient(worker!.url, QUEUE);
  const jobId = uniqueJobId("lost-run");
  // Two nodes of 6 s: the kill comes during the second, once the first is checkpointed on disk.
  await queue.enqueue({ id: jobId, type: "research_workflow", payload: { itemName: "lost run", delayMs: 6000, instrument: true } });
  await queue.waitForJob(jobId, (j) => j.currentStep === "draft", { timeoutMs: 30_000 });
  const { threadId, runId } = (await queue.history(jobId)).find((e) => e.event === "run_created")!.detail as { threadId: string; runId: string };
  await waitFor(
    "the dev server to write the first node's checkpoint to disk",
    async () => checkpointedNodeRuns((await langgraph!.persisted()).checkpoints, threadId),
    (nodeRuns) => nodeRuns.research === 1,
    { timeoutMs: 5_000, intervalMs: 100 },
  );
  const killedAt = Date.now();
  await langgraph!.kill();
  const onDisk = await langgraph!.persisted();
  await langgraph!.start();
  const backAt = Date.now();

  await queue.waitForJob(jobId, (j) => ["completed", "failed", "cancelled"].includes(j.status), { timeoutMs: 60_000, intervalMs: 500 });
  const [account] = await accountFor(queue, [jobId]);
  const job = await queue.status(jobId);
  const stepTimes = (job.result?.stepTimes ?? {}) as Record<string, { startedAtMs: number; endedAtMs: number }>;
  reportFigures("langgraph-lost-run", {
    jobs: 1,
    faultsInjected: { sigkill: 1, downMs: backAt - killedAt },
    onDiskAtKill: { checkpointedNodeRuns: checkpointedNodeRuns(onDisk.checkpoints, threadId), thread: onDisk.ops.includes(threadId), run: onDisk.ops.includes(runId) },
    status: job.status,
    history: account!.events.map((e) => e.event),
    nodeRuns: account!.nodeRuns,
    researchRanAfterKill: (stepTimes.research?.startedAtMs ?? 0) > killedAt,
    jobsLost: account!.status === "lost" ? 1 : 0,
    jobsCompletedTwice: completedTwice([account!]).length,
  });

  expect(job.status, explain(account!)).toBe("completed");
  expect(account!.completedEvents).toBe(1);
  expect(job.retryCount, explain(account!)).toBe(0);
  expect(account!.nodeRuns, explain(account!)).toEqual({ research: 1, draft: 1 });
  // The research the result holds is the one from before the kill; draft ran (again) after it.
  expect(stepTimes.research!.endedAtMs).toBeLessThan(killedAt);
  expect(stepTimes.draft!.startedAtMs).toBeGreaterThan(killedAt);
});

/**
 * `nodeRuns` as the thread's newest checkpoint in the dev server's checkpointer file holds it.
 * The file is superjson: storage[thread][namespace][checkpointId] = [checkpoint, metadata,
 * parentId], the first two base64-encoded JSON.
 */
function checkpointedNodeRuns(fileText: string, threadId: string): Record<string, number> {
  if (!fileText) return {};
  const storage = (JSON.parse(fileText) as { json: { storage: Record<string, Record<string, Record<string, [string, string, string | null]>>> } }).json.storage;
  const checkpoints = Object.entries(storage[threadId]?.[""] ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const newest = checkpoints.at(-1)?.[1][0];
  if (!newest) return {};
  return (JSON.parse(Buffer.from(newest, "base64").toString("utf8")) as { channel_values: { nodeRuns?: Record<string, number> } }).channel_values.nodeRuns ?? {};
}
