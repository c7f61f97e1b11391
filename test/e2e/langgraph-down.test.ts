/**
 * LangGraph unreachable: a Worker of its own, pointed at a port nobody listens on. An attempt
 * that cannot reach LangGraph is not the job's fault: the job goes back to the queue without
 * spending a retry, the queue's circuit opens and probes LangGraph with one job now and then,
 * and the job fails only once the outage has lasted JOB_TIMEOUT_SECONDS (3 s here).
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
  worker = await startQueueWorker({ name: "langgraph-down", langgraphUrl: deadUrl, persistDir, vars: { JOB_TIMEOUT_SECONDS: "3" } });
});

afterAll(async () => {
  await worker?.stop();
  await rm(persistDir, { recursive: true, force: true });
});

it("holds a job while LangGraph is down without spending its retries, then fails it once the outage outlasts JOB_TIMEOUT_SECONDS", async () => {
  const queue = new QueueClient(worker.url, "e2e-f");
  // Alive, but not ready (this Worker runs with auth off, so readiness needs no key here).
  expect(await (await fetch(`${worker.url}/health`)).json()).toEqual({ success: true, data: { status: "ok" } });
  const ready = await fetch(`${worker.url}/health/ready`);
  expect(ready.status).toBe(503);
  expect(await ready.json()).toMatchObject({ success: false, code: "NOT_READY", details: { status: "not_ready", langgraph: { ok: false } } });

  const jobId = uniqueJobId("no-langgraph");
  await queue.enqueue({ id: jobId, type: "research_workflow", payload: { itemName: "unreachable" }, maxRetries: 1 });

  const job = await queue.waitForEnd(jobId, "failed", { timeoutMs: 30_000 });
  expect(job.retryCount).toBe(0);
  expect(job.error).toContain("LangGraph unreachable for more than 3s");
  expect(job.error).toContain(`LangGraph unreachable at ${deadUrl}`);

  const events = (await queue.history(jobId)).map((e) => e.event);
  // The first attempt, then the circuit's probes (after 1 s, 2 s …), each put back unspent.
  expect(events.filter((e) => e === "outage").length).toBeGreaterThanOrEqual(2);
  expect(events).not.toContain("retry_scheduled");
  expect(events.at(-1)).toBe("failed");
  const stats = await queue.call<{ langgraph: { circuit: string } }>({ action: "stats" });
  expect(stats.langgraph.circuit).toBe("open");
  const after = await (await fetch(`${worker.url}/health/ready`)).json();
  expect(after).toMatchObject({ code: "NOT_READY", details: { queues: { "e2e-f": { circuit: "open" } } } });
});
