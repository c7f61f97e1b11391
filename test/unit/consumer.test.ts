/**
 * The Queue consumer against the real workflows test server (test/support/workflows-server.ts).
 * Messages are delivered by hand with createMessageBatch, so duplicate and stale deliveries
 * can be made exactly.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { runJobMessage } from "../../src/consumer";
import worker from "../../src/index";
import type { JobMessage } from "../../src/queue-do";
import { freshCoordinator, job, statusOf } from "../support/jobs";

const workflowsUrl = inject("workflowsUrl");

async function deliver(queue: string, bodies: JobMessage[]) {
  const batch = createMessageBatch<JobMessage>(
    queue,
    bodies.map((body, i) => ({ id: `msg-${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  await worker.queue(batch, env);
  return getQueueResult(batch, createExecutionContext());
}

/** A job enqueued and dispatched (attempt 1) in a coordinator of its own. */
async function dispatched(id: string, payload: Record<string, unknown> = {}, maxRetries = 3) {
  const queue = freshCoordinator();
  const enqueued = await queue.enqueue(job(id, { payload: { itemName: id, ...payload }, maxRetries }));
  expect(enqueued.ok).toBe(true);
  const message: JobMessage = { queueName: await queueNameOf(queue), jobId: id, attempt: 1 };
  return { queue, message };
}

async function queueNameOf(queue: ReturnType<typeof freshCoordinator>) {
  return (await queue.stats()).queueName;
}

async function workflowCalls(jobId: string): Promise<number> {
  const response = await fetch(`${workflowsUrl}/calls/${encodeURIComponent(jobId)}`);
  return ((await response.json()) as { calls: number }).calls;
}


describe("job consumer", () => {
  it("runs a delivered job on LangGraph and records its result", async () => {
    const id = `happy-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id);
    const result = await deliver("queue-worker-jobs", [message]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(result.retryMessages).toEqual([]);
    expect(await statusOf(queue, id)).toMatchObject({
      status: "completed",
      progress: 100,
      result: { workflow: "research_workflow", input: { itemName: id }, call: 1 },
    });
  });

  it("runs a job once when the Queue delivers it twice", async () => {
    const id = `twice-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id, { delayMs: 200 });
    const result = await deliver("queue-worker-jobs", [message, message]);
    expect(result.explicitAcks.sort()).toEqual(["msg-0", "msg-1"]);
    expect(await workflowCalls(id)).toBe(1);
    expect((await statusOf(queue, id)).status).toBe("completed");
  });

  it("ignores a delivery for an attempt that is not current", async () => {
    const id = `stale-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id);
    const result = await deliver("queue-worker-jobs", [{ ...message, attempt: 7 }]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(await workflowCalls(id)).toBe(0);
    expect(await statusOf(queue, id)).toMatchObject({ status: "running", startedAt: null });
  });

  it("schedules a retry when LangGraph answers 503", async () => {
    const id = `flaky-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id, { failTimes: 1 });
    await deliver("queue-worker-jobs", [message]);
    const status = await statusOf(queue, id);
    expect(status).toMatchObject({ status: "queued", retryCount: 1 });
    expect(status.error).toMatch(/LangGraph answered 503/);
    expect(status.nextRetryAt).not.toBeNull();
  });

  it("fails at once when LangGraph rejects the job with a 4xx", async () => {
    const id = `rejected-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id, { failStatus: 422 });
    await deliver("queue-worker-jobs", [message]);
    const status = await statusOf(queue, id);
    expect(status).toMatchObject({ status: "failed", retryCount: 0 });
    expect(status.error).toMatch(/LangGraph answered 422/);
  });

  it("retries when LangGraph is down, then fails with the error when retries run out", async () => {
    const id = `down-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id, {}, 1);
    const down = { ...env, LANGGRAPH_API_URL: "http://127.0.0.1:9" };
    await runJobMessage(message, down);
    const first = await statusOf(queue, id);
    expect(first).toMatchObject({ status: "queued", retryCount: 1 });
    expect(first.error).toMatch(/LangGraph unreachable/);

    await queue.runTimers(Date.parse(first.nextRetryAt!));
    await runJobMessage({ ...message, attempt: 2 }, down);
    const last = await statusOf(queue, id);
    expect(last).toMatchObject({ status: "failed", retryCount: 1 });
    expect(last.error).toMatch(/LangGraph unreachable/);
  });

  it("stops a running job that is cancelled and records nothing after", async () => {
    const id = `cancel-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id, { delayMs: 1500 });
    // A short heartbeat, so the consumer hears of the cancel quickly.
    const run = runJobMessage(message, env, { heartbeatMs: 50 });
    await expect.poll(async () => (await statusOf(queue, id)).startedAt).not.toBeNull();
    expect(await queue.cancel(id)).toMatchObject({ ok: true, data: { previousStatus: "running" } });
    await run;
    expect(await statusOf(queue, id)).toMatchObject({ status: "cancelled", result: null });
    const history = await queue.history(id);
    expect(history.ok && history.data.events.map((e) => e.event)).not.toContain("completed");
  });
});

describe("run budget", () => {
  it("fails a workflows-flavour job that outlives RUN_BUDGET_SECONDS, as it cannot be rejoined", async () => {
    const { queue, message } = await dispatched(`slow-${crypto.randomUUID()}`, { delayMs: 2500 });
    await runJobMessage(message, { ...env, RUN_BUDGET_SECONDS: "1" });
    const status = await statusOf(queue, message.jobId);
    expect(status).toMatchObject({ status: "failed", retryCount: 0 });
    expect(status.error).toMatch(/longer than RUN_BUDGET_SECONDS/);
  });
});

describe("LANGGRAPH_API_KEY", () => {
  async function apiKeyUses(key: string): Promise<number> {
    return ((await (await fetch(`${workflowsUrl}/api-key-uses/${key}`)).json()) as { uses: number }).uses;
  }

  it("is sent as x-api-key by the workflows flavour", async () => {
    const { queue, message } = await dispatched(`keyed-${crypto.randomUUID()}`);
    const key = `lg-${crypto.randomUUID()}`;
    await runJobMessage(message, { ...env, LANGGRAPH_API_KEY: key });
    expect((await statusOf(queue, message.jobId)).status).toBe("completed");
    expect(await apiKeyUses(key)).toBe(1);
  });

  it("is sent as x-api-key by the platform flavour, whose 4xx answers fail the job at once", async () => {
    // This server speaks only the seed's contract, so LangGraph Server API calls get a 404.
    const { queue, message } = await dispatched(`platform-${crypto.randomUUID()}`);
    const key = `lg-${crypto.randomUUID()}`;
    await runJobMessage(message, { ...env, LANGGRAPH_API_FLAVOR: "platform", LANGGRAPH_API_KEY: key });
    const status = await statusOf(queue, message.jobId);
    expect(status).toMatchObject({ status: "failed", retryCount: 0 });
    expect(status.error).toMatch(/LangGraph answered 404/);
    expect(await apiKeyUses(key)).toBeGreaterThan(0);
  });
});

describe("dead-letter consumer", () => {
  it("fails a job whose deliveries kept crashing the consumer", async () => {
    const id = `poison-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id);
    const result = await deliver("queue-worker-jobs-dlq", [message]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    const status = await statusOf(queue, id);
    expect(status.status).toBe("failed");
    expect(status.error).toMatch(/delivery failed/);
  });
});
