import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { JobInput } from "../../src/http/api-schema";
import type { JobMessage, QueueCoordinator } from "../../src/queue-do";
import type { FollowTask } from "../../src/coordinator/protocol";

/** A coordinator of its own for each test, so tests never see each other's jobs. */
export function freshCoordinator(): DurableObjectStub<QueueCoordinator> {
  return env.QUEUE_COORDINATOR.getByName(`test-${crypto.randomUUID()}`);
}

export function job(id: string, overrides: Partial<JobInput> = {}): JobInput & { id: string } {
  return { id, type: "research_workflow", payload: { itemName: id }, priority: "medium", maxRetries: 3, ...overrides };
}

export async function statusOf(queue: DurableObjectStub<QueueCoordinator>, id: string) {
  const status = await queue.status(id);
  if (!status.ok) throw new Error(status.message);
  return status.data;
}

/** Polls until the job reaches `status` (a follower's alarm records outcomes on its own time). */
export async function waitForStatus(queue: DurableObjectStub<QueueCoordinator>, id: string, status: string) {
  await expect.poll(async () => (await statusOf(queue, id)).status, { timeout: 10_000, interval: 50 }).toBe(status);
  return statusOf(queue, id);
}

/** A job enqueued and dispatched (attempt 1) in a coordinator of its own, and the message that names it. */
export async function dispatched(id: string, payload: Record<string, unknown> = {}, maxRetries = 3) {
  const queue = freshCoordinator();
  const enqueued = await queue.enqueue(job(id, { payload: { itemName: id, ...payload }, maxRetries }));
  expect(enqueued.ok).toBe(true);
  const message: JobMessage = { queueName: (await queue.stats()).queueName, jobId: id, attempt: 1 };
  return { queue, message };
}

/** A dispatched job claimed as a consumer would, and the task its follower would get. */
export async function claimed(id: string, payload: Record<string, unknown> = {}, maxRetries = 3) {
  const { queue, message } = await dispatched(id, payload, maxRetries);
  const claim = await queue.claim(id, message.attempt);
  if (!claim.ok) throw new Error(claim.message);
  const { retryCount: _, redelivery: __, followerName, ...task } = claim.data;
  return { queue, followerName, task: { ...task, runId: null } satisfies FollowTask };
}
