import { env } from "cloudflare:workers";
import type { JobInput } from "../../src/api-schema";
import type { QueueCoordinator } from "../../src/queue-do";

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
