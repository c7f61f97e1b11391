/**
 * A run that outlives one alarm invocation of its RunFollower (Cloudflare gives an alarm handler
 * 15 minutes; this Worker of its own gives it 1 s, RUN_BUDGET_SECONDS=1). The follower lets go,
 * the run goes on in LangGraph, and the follower's next alarm rejoins the same run instead of
 * starting another: one run on the thread, each node run once, no retry spent.
 */
import { Client } from "@langchain/langgraph-sdk";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { QueueClient, uniqueJobId } from "./api";
import { startQueueWorker, type QueueWorker } from "./servers";

let worker: QueueWorker;
let persistDir: string;

beforeAll(async () => {
  persistDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-long-"));
  worker = await startQueueWorker({
    name: "long-run", langgraphUrl: inject("langgraphUrl"), persistDir, vars: { RUN_BUDGET_SECONDS: "1" },
  });
});

afterAll(async () => {
  await worker?.stop();
  await rm(persistDir, { recursive: true, force: true });
});

it("rejoins a run that outlives one follower invocation's budget, in the next invocation", async () => {
  const queue = new QueueClient(worker.url, "e2e-h");
  const jobId = uniqueJobId("marathon");
  // Two nodes of 1.5 s each: the run lasts about three budgets.
  await queue.enqueue({ id: jobId, type: "research_workflow", payload: { itemName: "marathon", delayMs: 1500, instrument: true } });

  const job = await queue.waitForEnd(jobId, "completed");
  expect(job.retryCount).toBe(0);
  expect(job.result).toMatchObject({ nodeRuns: { research: 1, draft: 1 } });

  const history = await queue.history(jobId);
  const events = history.map((e) => e.event);
  expect(events).toContain("rejoined");
  expect(events.filter((e) => e === "started")).toHaveLength(1);
  expect(events.filter((e) => e === "run_created")).toHaveLength(1);

  const threadId = String(history.find((e) => e.event === "run_created")?.detail?.threadId);
  const runs = await new Client({ apiUrl: inject("langgraphUrl") }).runs.list(threadId);
  expect(runs.map((run) => run.status)).toEqual(["success"]);
});
