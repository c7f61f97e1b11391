/**
 * The Worker stops and starts again on the same Durable Object storage (what a deploy or an
 * evicted isolate does to a queue): jobs it held, running or waiting, still finish. A Worker of
 * its own, so stopping it disturbs no other test.
 *
 * The running job's RunFollower dies with the Worker, but its LangGraph run goes on. The
 * follower's watchdog alarm (persisted with its storage, pushed ahead at every heartbeat) fires
 * after the restart and rejoins the run, before the attempt's lease runs out: no retry is spent
 * and the run is not started again. Meanwhile the waiting job gets the slot once the first ends.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { QueueClient, uniqueJobId } from "./api";
import { startQueueWorker, type QueueWorker } from "./servers";

let worker: QueueWorker | undefined;
let persistDir: string;

beforeAll(async () => {
  persistDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-restart-"));
});

afterAll(async () => {
  await worker?.stop();
  await rm(persistDir, { recursive: true, force: true });
});

it("finishes the jobs it held, running and queued, after a restart on the same storage", async () => {
  const langgraphUrl = inject("langgraphUrl");
  worker = await startQueueWorker({ name: "restart-1", langgraphUrl, persistDir });
  let queue = new QueueClient(worker.url, "e2e-g");
  const running = uniqueJobId("running-at-stop");
  const waiting = uniqueJobId("queued-at-stop");
  await queue.enqueue({ id: running, type: "research_workflow", payload: { itemName: "survivor", delayMs: 1500, instrument: true } });
  await queue.enqueue({ id: waiting, type: "research_workflow", payload: { itemName: "next in line", delayMs: 200, instrument: true } });
  // Claimed by a consumer and its LangGraph run created, not just dispatched.
  await queue.waitForJob(running, (j) => j.status === "running" && j.currentStep !== null);
  expect((await queue.status(waiting)).status).toBe("queued");

  await worker.stop();
  worker = await startQueueWorker({ name: "restart-2", langgraphUrl, persistDir });
  queue = new QueueClient(worker.url, "e2e-g");

  const [first, second] = await Promise.all([
    queue.waitForEnd(running, "completed", { timeoutMs: 75_000, intervalMs: 500 }),
    queue.waitForEnd(waiting, "completed", { timeoutMs: 75_000, intervalMs: 500 }),
  ]);
  // The run the first Worker started is the one that finished: no node ran twice, no retry.
  expect(first.result).toMatchObject({ nodeRuns: { research: 1, draft: 1 } });
  expect(first.retryCount).toBe(0);
  expect((await queue.history(running)).map((e) => e.event)).toContain("rejoined");
  expect(second.result).toMatchObject({ nodeRuns: { research: 1, draft: 1 } });
});
