/**
 * Real concurrency on the real system: MAX_CONCURRENCY jobs run at once whatever their lengths,
 * and a job never waits behind another job's run while a slot is free. A Worker of its own with
 * five slots (the shared one has one, for the priority test). Bounds are generous: they tell a
 * job held behind another (seconds) from one that was not, not how fast the machine is.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { QueueClient, uniqueJobId } from "./api";
import { startQueueWorker, type QueueWorker } from "./servers";

const QUEUE = "e2e-concurrency";
let worker: QueueWorker;
let persistDir: string;

beforeAll(async () => {
  persistDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-concurrency-"));
  worker = await startQueueWorker({
    name: "concurrency", langgraphUrl: inject("langgraphUrl"), persistDir, vars: { MAX_CONCURRENCY: "5", QUEUE_NAMES: QUEUE },
  });
});

afterAll(async () => {
  await worker?.stop();
  await rm(persistDir, { recursive: true, force: true });
});

it("runs a short job at once while a long one holds another slot, and finishes it first", async () => {
  const queue = new QueueClient(worker.url, QUEUE);
  const long = uniqueJobId("long");
  const short = uniqueJobId("short");
  // Three nodes of 4 s: the long job runs for 12 s.
  await queue.enqueue({ id: long, type: "content_generation", payload: { topic: "long", delayMs: 4000 } });
  await queue.waitForJob(long, (j) => j.status === "running");
  await queue.enqueue({ id: short, type: "data_sync", payload: { recordCount: 3, delayMs: 20 } });

  const done = await queue.waitForEnd(short, "completed", { timeoutMs: 8000, intervalMs: 100 });
  expect((await queue.status(long)).status).toBe("running");
  // Well under the long job's 12 s: it did not wait for it.
  expect(Date.parse(done.completedAt!) - Date.parse(done.enqueuedAt)).toBeLessThan(6000);
  await queue.waitForEnd(long, "completed", { timeoutMs: 60_000, intervalMs: 500 });
});

it("runs five jobs at once with five slots: every run overlaps every other", async () => {
  const queue = new QueueClient(worker.url, QUEUE);
  const ids = Array.from({ length: 5 }, (_, i) => uniqueJobId(`overlap-${i}`));
  // Two nodes of 1.5 s each: one after another they would take 15 s.
  await Promise.all(ids.map((id) => queue.enqueue({ id, type: "research_workflow", payload: { itemName: id, delayMs: 1500, instrument: true } })));
  const jobs = await Promise.all(ids.map((id) => queue.waitForEnd(id, "completed", { timeoutMs: 60_000, intervalMs: 250 })));

  const lastStart = Math.max(...jobs.map((j) => Date.parse(j.startedAt!)));
  const firstEnd = Math.min(...jobs.map((j) => Date.parse(j.completedAt!)));
  expect(lastStart).toBeLessThan(firstEnd);
  // The nodes ran inside LangGraph at overlapping times too, not just the jobs' records.
  const nodeStarts = jobs.map((j) => (j.result as { stepTimes: Record<string, { startedAtMs: number; endedAtMs: number }> }).stepTimes);
  const lastNodeStart = Math.max(...nodeStarts.map((t) => t.research!.startedAtMs));
  const firstNodeEnd = Math.min(...nodeStarts.map((t) => t.draft!.endedAtMs));
  expect(lastNodeStart).toBeLessThan(firstNodeEnd);
});
