/**
 * LangGraph unreachable: a Worker of its own, pointed at a port nobody listens on. Each attempt
 * fails to connect; the job is retried with backoff while retries remain, then fails with an
 * error that says LangGraph could not be reached.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { QueueClient, uniqueJobId } from "./api";
import { freePort, startQueueWorker, type QueueWorker } from "./servers";

let worker: QueueWorker;
let persistDir: string;
let deadUrl: string;

beforeAll(async () => {
  persistDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-down-"));
  deadUrl = `http://127.0.0.1:${await freePort()}`;
  worker = await startQueueWorker({ name: "langgraph-down", langgraphUrl: deadUrl, persistDir });
});

afterAll(async () => {
  await worker?.stop();
  await rm(persistDir, { recursive: true, force: true });
});

it("retries a job while LangGraph is down, then fails it with the connection error", async () => {
  const queue = new QueueClient(worker.url, "e2e-f");
  const health = await (await fetch(`${worker.url}/health`)).json();
  expect(health).toMatchObject({ success: true, data: { status: "ok", langgraph: { ok: false } } });

  const jobId = uniqueJobId("no-langgraph");
  await queue.enqueue({ id: jobId, type: "research_workflow", payload: { itemName: "unreachable" }, maxRetries: 1 });

  const job = await queue.waitForEnd(jobId, "failed");
  expect(job.retryCount).toBe(1);
  expect(job.error).toContain(`LangGraph unreachable at ${deadUrl}`);

  const events = await queue.history(jobId);
  expect(events.map((e) => e.event)).toEqual(
    expect.arrayContaining(["queued", "dispatched", "started", "retry_scheduled", "failed"]),
  );
  expect(events.filter((e) => e.event === "started").map((e) => e.attempt)).toEqual([1, 2]);
  expect(events.at(-1)).toMatchObject({ event: "failed", attempt: 2 });
});
