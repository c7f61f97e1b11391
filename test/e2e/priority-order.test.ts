/**
 * Priority order on the real system. The e2e Worker runs one job at a time per queue
 * (MAX_CONCURRENCY=1), so while a slow job holds the slot the others wait in the heap, and the
 * order they start in is the order the coordinator dispatched them.
 */
import { expect, inject, it } from "vitest";
import { QueueClient, uniqueJobId } from "./api";

it("starts waiting jobs by priority, high before medium before low, whatever order they came in", async () => {
  const queue = new QueueClient(inject("workerUrl"), "e2e-c");
  const blocker = uniqueJobId("blocker");
  // Two nodes of 1.5 s: the three below are all enqueued long before it ends.
  await queue.enqueue({ id: blocker, type: "research_workflow", payload: { itemName: "blocker", delayMs: 1500 } });
  const low = uniqueJobId("low");
  const medium = uniqueJobId("medium");
  const high = uniqueJobId("high");
  for (const [id, priority] of [[low, "low"], [medium, "medium"], [high, "high"]] as const) {
    const enqueued = await queue.enqueue({ id, type: "data_sync", payload: { recordCount: 3 }, priority });
    expect(enqueued.status).toBe("queued");
  }

  const jobs = await Promise.all([blocker, low, medium, high].map((id) => queue.waitForEnd(id, "completed", { timeoutMs: 90_000 })));
  const startOrder = [...jobs].sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!)).map((j) => j.jobId);
  expect(startOrder).toEqual([blocker, high, medium, low]);
});
