/**
 * The Queue consumer against the real workflows test server (test/support/workflows-server.ts).
 * Messages are delivered by hand with createMessageBatch, so duplicate and stale deliveries can
 * be made exactly. The consumer claims, starts the run and hands it to the job's RunFollower,
 * whose alarm follows it to the end: the tests poll for the outcome as a client would.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runJobMessage } from "../../src/consumer";
import worker from "../../src/index";
import type { JobMessage } from "../../src/queue-do";
import { dispatched, job, statusOf, waitForStatus } from "../support/jobs";
import { apiKeyUses, workflowCalls, workflowThreads } from "../support/workflows-calls";

async function deliver(queue: string, bodies: JobMessage[]) {
  const batch = createMessageBatch<JobMessage>(
    queue,
    bodies.map((body, i) => ({ id: `msg-${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  await worker.queue(batch, env);
  return getQueueResult(batch, createExecutionContext());
}

describe("job consumer", () => {
  it("starts a delivered job, whose follower runs it on LangGraph and records its result", async () => {
    const id = `happy-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id);
    const result = await deliver("queue-worker-jobs", [message]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(result.retryMessages).toEqual([]);
    expect(await waitForStatus(queue, id, "completed")).toMatchObject({
      progress: 100,
      result: { workflow: "research_workflow", input: { itemName: id }, call: 1 },
    });
  });

  it("returns while the run goes on: the invocation does not wait out the run", async () => {
    const id = `long-${crypto.randomUUID()}`;
    // A 2 s run: the delivery is acked, and the job taken on, long before it ends.
    const { queue, message } = await dispatched(id, { delayMs: 2000 });
    const result = await deliver("queue-worker-jobs", [message]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    const taken = await statusOf(queue, id);
    expect(taken.status).toBe("running");
    expect(taken.startedAt).not.toBeNull();
    expect(await waitForStatus(queue, id, "completed")).toMatchObject({ result: { call: 1 } });
  });

  it("calls the workflow on the job's own thread, so an id enqueued again after its record expired starts afresh", async () => {
    const id = `thread-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id);
    await deliver("queue-worker-jobs", [message]);
    const first = await waitForStatus(queue, id, "completed");
    // Its record expires; the same id is enqueued again, into the same queue.
    await queue.runTimers(Date.now() + 25 * 3_600_000);
    expect(await queue.enqueue(job(id))).toMatchObject({ ok: true, created: true });
    await deliver("queue-worker-jobs", [{ ...message, attempt: 1 }]);
    const second = await waitForStatus(queue, id, "completed");
    expect(second.threadId).not.toBe(first.threadId);
    expect(await workflowThreads(id)).toEqual([first.threadId, second.threadId]);
  });

  it("runs a job once when the Queue delivers it twice", async () => {
    const id = `twice-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id, { delayMs: 200 });
    const result = await deliver("queue-worker-jobs", [message, message]);
    expect(result.explicitAcks.sort()).toEqual(["msg-0", "msg-1"]);
    await waitForStatus(queue, id, "completed");
    expect(await workflowCalls(id)).toBe(1);
  });

  it("ignores a delivery for an attempt that is not current", async () => {
    const id = `stale-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id);
    const result = await deliver("queue-worker-jobs", [{ ...message, attempt: 7 }]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(await workflowCalls(id)).toBe(0);
    // Still dispatched, waiting for the delivery of its real attempt.
    expect(await statusOf(queue, id)).toMatchObject({ status: "queued", queuePosition: 0, startedAt: null });
  });

  it("fails a platform-flavour start that LangGraph refuses with a 4xx at once, sending LANGGRAPH_API_KEY as x-api-key", async () => {
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

describe("a hand-over that failed after the claim", () => {
  it("is finished by the Queue's redelivery of the same attempt: the job runs once, on its first attempt, spending no retry", async () => {
    const id = `handover-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id, { delayMs: 200 }, 0);
    // Injected fault: the follower cannot be reached (this runtime cannot make a Durable Object unreachable by itself).
    const unreachableFollower = { getByName: () => ({ follow: () => Promise.reject(new Error("follower unreachable (injected)")) }) };
    await expect(runJobMessage(message, { ...env, RUN_FOLLOWER: unreachableFollower as unknown as typeof env.RUN_FOLLOWER })).rejects.toThrow(/injected/);
    expect(await statusOf(queue, id)).toMatchObject({ status: "running", retryCount: 0 });
    // The Queue delivers the message again: the redelivery finishes the hand-over.
    const result = await deliver("queue-worker-jobs", [message]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(await waitForStatus(queue, id, "completed")).toMatchObject({ retryCount: 0, result: { call: 1 } });
    expect(await workflowCalls(id)).toBe(1);
    const history = await queue.history(id);
    expect(history.ok && history.data.events.map((e) => e.event)).toEqual(["queued", "dispatched", "started", "redelivered", "completed"]);
  });
});

describe("dead-letter consumer", () => {
  it("puts back, unspent, a job whose deliveries never reached the coordinator", async () => {
    const id = `blip-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id, {}, 0);
    const result = await deliver("queue-worker-jobs-dlq", [message]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    // Back in the queue and, a slot being free, dispatched again as attempt 2, with maxRetries 0 untouched.
    expect(await statusOf(queue, id)).toMatchObject({ status: "queued", retryCount: 0, error: null });
    const history = await queue.history(id);
    expect(history.ok && history.data.events.map((e) => e.event)).toEqual(["queued", "dispatched", "stalled", "dispatched"]);
  });

  it("fails the attempt of a job whose claimed deliveries kept crashing the consumer, with the true count", async () => {
    const id = `poison-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id, {}, 0);
    for (let i = 0; i < 2; i++) expect(await queue.claim(id, 1)).toMatchObject({ ok: true });
    await deliver("queue-worker-jobs-dlq", [message]);
    expect(await statusOf(queue, id)).toMatchObject({
      status: "failed", error: "the consumer failed on all 2 deliveries of attempt 1 that reached the coordinator",
    });
  });
});
