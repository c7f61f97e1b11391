/**
 * Live status over Server-Sent Events, through the Worker's routes to the coordinator's
 * hibernatable WebSockets: the status at once, then a transition and a status at every change,
 * progress that never goes down, the stream ending with the job; a reconnect with Last-Event-ID
 * gets what it missed; the errors before a stream starts are the API's envelope. The test drives
 * the job through the coordinator's own RPC, as a consumer and a follower would.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { QueueCoordinator } from "../../src/queue-do";
import { job } from "../support/jobs";

const BASE = "https://queue.test/functions/v1/queue-worker";
const KEY = { authorization: "Bearer test-key-1" };
const QUEUE = "reports";
const coordinator = () => env.QUEUE_COORDINATOR.getByName(QUEUE) as DurableObjectStub<QueueCoordinator>;

interface SseEvent {
  event: string;
  id?: string;
  data: any;
}

/** Reads a text/event-stream: each call to `next` waits for the next event; `ended` once the server closed it. */
function reader(response: Response) {
  const body = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let ended = false;
  async function next(): Promise<SseEvent | null> {
    for (;;) {
      const end = buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = new Map<string, string>();
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
        }
        if (!fields.has("data")) continue; // `retry:` or a comment
        return { event: fields.get("event") ?? "message", id: fields.get("id"), data: JSON.parse(fields.get("data")!) };
      }
      const chunk = await body.read();
      if (chunk.done) {
        ended = true;
        return null;
      }
      buffer += chunk.value;
    }
  }
  return { next, ended: () => ended, cancel: () => body.cancel() };
}

const watch = (jobId: string, headers: Record<string, string> = KEY, query = `?queueName=${QUEUE}`) =>
  exports.default.fetch(`${BASE}/jobs/${jobId}/events${query}`, { headers });

async function enqueued(id: string) {
  const queue = coordinator();
  expect(await queue.enqueue(job(id))).toMatchObject({ ok: true });
  return queue;
}

describe("a job's event stream", () => {
  it("sends the status at once, a transition and a status at every change, and ends with the job", async () => {
    const id = `live-${crypto.randomUUID()}`;
    const queue = await enqueued(id);
    const response = await watch(id);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const stream = reader(response);
    const first = await stream.next();
    // queued, dispatched (MAX_CONCURRENCY 2 here): the status reflects both entries.
    expect(first).toMatchObject({ event: "status", id: "2", data: { jobId: id, status: "queued", progress: 0 } });

    await queue.claim(id, 1);
    expect(await stream.next()).toMatchObject({ event: "transition", id: "3", data: { jobId: id, event: "started", attempt: 1 } });
    expect(await stream.next()).toMatchObject({ event: "status", id: "3", data: { status: "running" } });

    // Progress without a new step is a status of its own; a step change is a transition too.
    await queue.report(id, 1, { progress: 40 });
    expect(await stream.next()).toMatchObject({ event: "status", id: "3", data: { progress: 40 } });
    await queue.report(id, 1, { progress: 60, currentStep: "draft" });
    expect(await stream.next()).toMatchObject({ event: "transition", id: "4", data: { event: "progress", detail: { progress: 60, step: "draft" } } });
    expect(await stream.next()).toMatchObject({ event: "status", data: { progress: 60, currentStep: "draft" } });
    // Progress never goes down on the stream.
    await queue.report(id, 1, { progress: 30 });
    expect(await stream.next()).toMatchObject({ event: "status", data: { progress: 60 } });

    await queue.complete(id, 1, { answer: 42 });
    expect(await stream.next()).toMatchObject({ event: "transition", data: { event: "completed" } });
    expect(await stream.next()).toMatchObject({ event: "status", data: { status: "completed", progress: 100, result: { answer: 42 } } });
    expect(await stream.next()).toBeNull();
    expect(stream.ended()).toBe(true);
  });

  it("on a reconnect with Last-Event-ID, sends the transitions missed, then the status", async () => {
    const id = `again-${crypto.randomUUID()}`;
    const queue = await enqueued(id);
    const first = reader(await watch(id));
    expect(await first.next()).toMatchObject({ event: "status", id: "2" });
    await first.cancel();
    // While nobody watched: started, then failed and scheduled for a retry.
    await queue.claim(id, 1);
    await queue.fail(id, 1, { error: "boom", retryable: true });
    const again = reader(await watch(id, { ...KEY, "last-event-id": "2" }));
    expect(await again.next()).toMatchObject({ event: "transition", id: "3", data: { event: "started" } });
    expect(await again.next()).toMatchObject({ event: "transition", id: "4", data: { event: "retry_scheduled", detail: { error: "boom" } } });
    expect(await again.next()).toMatchObject({ event: "status", id: "4", data: { status: "queued", retryCount: 1 } });
    await queue.cancel(id);
    expect(await again.next()).toMatchObject({ event: "transition", data: { event: "cancelled" } });
    expect(await again.next()).toMatchObject({ event: "status", data: { status: "cancelled" } });
    expect(await again.next()).toBeNull();
  });

  it("ends at once for a job that has ended, with its final status; a reconnect that saw the end gets 204 (stop reconnecting)", async () => {
    const id = `over-${crypto.randomUUID()}`;
    const queue = await enqueued(id);
    await queue.cancel(id);
    const stream = reader(await watch(id));
    const last = await stream.next();
    expect(last).toMatchObject({ event: "status", data: { status: "cancelled" } });
    expect(await stream.next()).toBeNull();
    const again = await watch(id, { ...KEY, "last-event-id": last!.id! });
    expect(again.status).toBe(204);
    // One that missed the end still gets it.
    const behind = reader(await watch(id, { ...KEY, "last-event-id": String(Number(last!.id) - 1) }));
    expect(await behind.next()).toMatchObject({ event: "transition", data: { event: "cancelled" } });
    expect(await behind.next()).toMatchObject({ event: "status", data: { status: "cancelled" } });
  });

  it("streams a result kept in the bucket (over 1 MiB) into the last status, whole", async () => {
    const id = `big-${crypto.randomUUID()}`;
    const queue = await enqueued(id);
    await queue.claim(id, 1);
    const result = { history: "가".repeat(600_000), done: true };
    const stream = reader(await watch(id));
    expect(await stream.next()).toMatchObject({ event: "status", data: { status: "running" } });
    await queue.complete(id, 1, result);
    expect(await stream.next()).toMatchObject({ event: "transition", data: { event: "completed" } });
    const last = await stream.next();
    expect(last).toMatchObject({ event: "status", data: { status: "completed" } });
    expect(last!.data.result).toEqual(result);
    expect(last!.data).not.toHaveProperty("resultRef");
  });

  it("takes the key as ?apikey= (EventSource sends no headers), and answers errors with the envelope before any stream", async () => {
    const id = `keyed-${crypto.randomUUID()}`;
    await enqueued(id);
    const byQuery = await watch(id, {}, `?queueName=${QUEUE}&apikey=test-key-2`);
    expect(byQuery.status).toBe(200);
    await byQuery.body!.cancel();

    const refused = await watch(id, {});
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ success: false, code: "UNAUTHORIZED" });
    const wrongKey = await watch(id, {}, `?queueName=${QUEUE}&apikey=nope`);
    expect(wrongKey.status).toBe(401);
    const unknown = await watch(`never-${crypto.randomUUID()}`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ success: false, code: "JOB_NOT_FOUND" });
    const noQueue = await watch(id, KEY, "?queueName=nope");
    expect(noQueue.status).toBe(400);
    expect(await noQueue.json()).toMatchObject({ code: "UNKNOWN_QUEUE" });
  });

  it("is readable from another origin (CORS as on the endpoint)", async () => {
    const id = `cors-${crypto.randomUUID()}`;
    await enqueued(id);
    const preflight = await exports.default.fetch(`${BASE}/jobs/${id}/events`, {
      method: "OPTIONS", headers: { origin: "https://app.example.com", "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-methods")).toContain("GET");
    const response = await watch(id, { ...KEY, origin: "https://app.example.com" });
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    await response.body!.cancel();
  });
});

describe("a queue's event stream", () => {
  it("sends the counts at once, then every job's transitions and the counts after each change", async () => {
    const response = await exports.default.fetch(`${BASE}/queues/${QUEUE}/events`, { headers: KEY });
    expect(response.status).toBe(200);
    const stream = reader(response);
    const counts = await stream.next();
    expect(counts).toMatchObject({ event: "counts", data: { queueName: QUEUE, totalJobs: expect.any(Number) } });
    const id = `q-${crypto.randomUUID()}`;
    await coordinator().enqueue(job(id, { priority: "low" }));
    const seen: SseEvent[] = [];
    for (let event = await stream.next(); event && event.event !== "counts"; event = await stream.next()) seen.push(event);
    expect(seen.filter((event) => event.data.jobId === id).map((event) => event.data.event)).toContain("queued");
    await stream.cancel();
  });

  it("sends the counts when the queue is paused or unpaused, a change no job makes", async () => {
    const response = await exports.default.fetch(`${BASE}/queues/${QUEUE}/events`, { headers: KEY });
    const stream = reader(response);
    expect(await stream.next()).toMatchObject({ event: "counts", data: { paused: false } });
    try {
      await coordinator().setPaused(true);
      expect(await stream.next()).toMatchObject({ event: "counts", data: { queueName: QUEUE, paused: true } });
    } finally {
      await coordinator().setPaused(false);
    }
    expect(await stream.next()).toMatchObject({ event: "counts", data: { paused: false } });
    await stream.cancel();
  });
});
