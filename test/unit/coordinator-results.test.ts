/**
 * Results too large for a coordinator's SQLite row (a row holds at most 2 MB): over 1 MiB they
 * are kept in the RESULTS R2 bucket, up to 25 MiB, and `status` returns them whole; past that the
 * job still completes and `status` says where its final state is. An object is deleted with its
 * job's record, and a report the coordinator refuses leaves none behind.
 */
import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { QueueCoordinator } from "../../src/queue-do";
import { freshCoordinator, job, statusOf } from "../support/jobs";

const MiB = 1024 * 1024;
const DAY_MS = 24 * 3_600_000;

/** A final state of about `bytes` bytes as JSON, as an agent with a long message history leaves: ASCII and two-byte characters. */
function stateOf(bytes: number, seed: string) {
  const message = `${seed} é`.padEnd(1000, "abcdefghij");
  const messages: { role: string; content: string }[] = [];
  for (let size = 0; size < bytes; size += message.length) messages.push({ role: messages.length % 2 ? "ai" : "human", content: message });
  return { messages, seed };
}

const jsonBytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).byteLength;

/** A job enqueued and claimed (attempt 1) in `queue`. */
async function running(queue: DurableObjectStub<QueueCoordinator>, id: string, now = Date.now()) {
  await queue.enqueue(job(id), now);
  const claim = await queue.claim(id, 1, now);
  if (!claim.ok) throw new Error(claim.message);
  return { now, threadId: claim.data.threadId, queueName: claim.data.queueName };
}

const row = (queue: DurableObjectStub<QueueCoordinator>, id: string) =>
  runInDurableObject(queue, (_, state) => state.storage.sql.exec<{ result: string | null; result_ref: string | null }>(
    "SELECT result, result_ref FROM jobs WHERE id = ?", id).one());

/** The keys of the objects kept for a job. */
async function objectsOf(queueName: string, id: string): Promise<string[]> {
  const listed = await env.RESULTS.list({ prefix: `results/${encodeURIComponent(queueName)}/${id}/` });
  return listed.objects.map((object) => object.key);
}

/** `status` through the Worker's endpoint, as a client asks it. */
async function statusOverHttp(jobId: string, queueName: string) {
  const response = await exports.default.fetch("https://queue.test/functions/v1/queue-worker", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer test-key-1" },
    body: JSON.stringify({ action: "status", jobId, queueName }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { success: boolean; data: any }).data;
}

describe("results over 1 MiB", () => {
  // "reports" is one of the test QUEUE_NAMES, so the endpoint reaches it.
  const reports = () => env.QUEUE_COORDINATOR.getByName("reports") as DurableObjectStub<QueueCoordinator>;

  for (const [label, bytes] of [["2 MiB", 2 * MiB], ["12 MiB", 12 * MiB]] as const) {
    it(`keeps a ${label} result in the bucket and returns it whole from status`, async () => {
      const queue = reports();
      const id = `big_${bytes}_${crypto.randomUUID().slice(0, 8)}`;
      const { queueName } = await running(queue, id);
      const result = stateOf(bytes, id);
      expect(jsonBytes(result)).toBeGreaterThan(bytes);
      expect(await queue.complete(id, 1, result)).toEqual({ ok: true, data: { state: "completed" } });

      // The row keeps the object's key, not the result; the object is the result's JSON.
      const kept = await row(queue, id);
      expect(kept.result).toBeNull();
      expect(await objectsOf(queueName, id)).toEqual([kept.result_ref]);
      expect(await (await env.RESULTS.get(kept.result_ref!))!.json()).toEqual(result);
      // The coordinator's answer stays small: the key, not the result.
      const answer = await statusOf(queue, id);
      expect(answer).toMatchObject({ status: "completed", result: null, resultRef: kept.result_ref });
      expect(jsonBytes(answer)).toBeLessThan(2000);

      const status = await statusOverHttp(id, queueName);
      expect(status).toMatchObject({ jobId: id, status: "completed", progress: 100, error: null });
      expect(status).not.toHaveProperty("resultRef");
      expect(status.result).toEqual(result);
      // List summaries carry no result, as before.
      const listed = await queue.list({ status: "completed", limit: 100 });
      expect(listed.jobs.find((summary) => summary.jobId === id)).not.toHaveProperty("result");
    });
  }

  it("completes a job whose result is past the 25 MiB kept, its status saying where the final state is", async () => {
    const queue = reports();
    const id = `huge_${crypto.randomUUID().slice(0, 8)}`;
    const { queueName, threadId } = await running(queue, id);
    const result = { messages: "x".repeat(26 * MiB) };
    expect(await queue.complete(id, 1, result)).toEqual({ ok: true, data: { state: "completed" } });
    expect(await row(queue, id)).toMatchObject({ result: null, result_ref: expect.stringMatching(/^none:/) });
    expect(await objectsOf(queueName, id)).toEqual([]);
    const status = await statusOverHttp(id, queueName);
    expect(status).toMatchObject({
      status: "completed", progress: 100, result: null, error: null, threadId,
      resultLocation: { threadId, reason: expect.stringMatching(new RegExp(`^the result is ${jsonBytes(result)} bytes, over the 26214400 bytes kept`)) },
    });
    expect((await queue.stats()).completedJobs).toBeGreaterThan(0);
  });

  it("completes a job whose final state was too large to send at all (over a call's 32 MiB): the client reports its size alone", async () => {
    const queue = reports();
    const id = `unsent_${crypto.randomUUID().slice(0, 8)}`;
    const { queueName, threadId } = await running(queue, id);
    expect(await queue.complete(id, 1, { unkeptResultBytes: 40_000_000 })).toEqual({ ok: true, data: { state: "completed" } });
    expect(await objectsOf(queueName, id)).toEqual([]);
    expect(await statusOverHttp(id, queueName)).toMatchObject({
      status: "completed", result: null, resultLocation: { threadId, reason: expect.stringMatching(/^the result is 40000000 bytes, over the 26214400 bytes kept/) },
    });
  });

  it("keeps a large result the sweep found (a run that finished while nobody listened)", async () => {
    const queue = freshCoordinator();
    const { now, queueName } = await running(queue, "reconciled");
    const result = stateOf(2 * MiB, "reconciled");
    expect(await queue.recordFinishedRun("reconciled", 1, result, 1234, now + 1000)).toBe(true);
    const kept = await row(queue, "reconciled");
    expect(await objectsOf(queueName, "reconciled")).toEqual([kept.result_ref]);
    expect(await statusOf(queue, "reconciled")).toMatchObject({ status: "completed", result: null, resultRef: kept.result_ref });
    expect(await (await env.RESULTS.get(kept.result_ref!))!.json()).toEqual(result);
  });

  it("deletes the object with the job's record when it expires", async () => {
    const queue = freshCoordinator();
    const { now, queueName } = await running(queue, "expiring");
    await queue.complete("expiring", 1, stateOf(2 * MiB, "expiring"), now);
    const { result_ref: key } = await row(queue, "expiring");
    expect(await env.RESULTS.head(key!)).not.toBeNull();
    await queue.runTimers(now + DAY_MS - 1);
    expect(await env.RESULTS.head(key!)).not.toBeNull();
    await queue.runTimers(now + DAY_MS);
    expect(await queue.status("expiring")).toMatchObject({ ok: false, code: "JOB_NOT_FOUND" });
    expect(await env.RESULTS.head(key!)).toBeNull();
    expect(await objectsOf(queueName, "expiring")).toEqual([]);
  });

  it("leaves no object behind for a report it refuses", async () => {
    const queue = freshCoordinator();
    const { now, queueName } = await running(queue, "cancelled");
    await queue.cancel("cancelled", now + 10);
    expect(await queue.complete("cancelled", 1, stateOf(2 * MiB, "late"), now + 20)).toMatchObject({ ok: false, code: "JOB_CANCELLED" });
    expect(await queue.recordFinishedRun("cancelled", 1, stateOf(2 * MiB, "late"), 1, now + 20)).toBe(false);
    expect(await objectsOf(queueName, "cancelled")).toEqual([]);
  });

  it("keeps exactly one object when the same attempt's outcome is reported twice at once, and deletes none on a repeat", async () => {
    const queue = freshCoordinator();
    const { now, queueName } = await running(queue, "twice");
    const result = stateOf(2 * MiB, "twice");
    // Both reports pass the first look and write their object; the second to commit is refused and deletes its own.
    const answers = await Promise.all([queue.complete("twice", 1, result, now + 5), queue.recordFinishedRun("twice", 1, result, 5, now + 5)]);
    expect(answers.filter((answer) => answer === true || (typeof answer === "object" && answer.ok))).toHaveLength(1);
    const { result_ref: key } = await row(queue, "twice");
    expect(await objectsOf(queueName, "twice")).toEqual([key]);
    // A repeated report (its first answer was lost) is refused and leaves the kept object alone.
    expect(await queue.complete("twice", 1, result, now + 10)).toMatchObject({ ok: false, code: "JOB_ENDED" });
    expect(await objectsOf(queueName, "twice")).toEqual([key]);
    expect(await (await env.RESULTS.get(key!))!.json()).toEqual(result);
  });

  it("keeps a result of 1 MiB or less in the row, as before", async () => {
    const queue = freshCoordinator();
    const { queueName } = await running(queue, "small");
    const result = stateOf(Math.floor(MiB * 0.9), "small");
    expect(jsonBytes(result)).toBeLessThanOrEqual(MiB);
    await queue.complete("small", 1, result);
    const kept = await row(queue, "small");
    expect(kept.result_ref).toBeNull();
    expect(JSON.parse(kept.result!)).toEqual(result);
    expect(await statusOf(queue, "small")).toMatchObject({ result });
    expect(await objectsOf(queueName, "small")).toEqual([]);
  });
});
