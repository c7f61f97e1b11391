/**
 * Retries on the real LangGraph server resume from the thread's checkpoint: a node that
 * already finished is not run again. With `instrument: true` the example graphs count each node's
 * completed runs in `nodeRuns`, and `failTimes` makes a node throw its first N executions on the thread.
 */
import { expect, inject, it } from "vitest";
import { QueueClient, uniqueJobId } from "./api";

it("retries a failing node until it passes, without running the nodes before it again", async () => {
  const queue = new QueueClient(inject("workerUrl"), "e2e-d");
  const jobId = uniqueJobId("flaky-draft");
  await queue.enqueue({
    id: jobId,
    type: "research_workflow",
    payload: { itemName: "flaky", failTimes: { node: "draft", times: 2 }, instrument: true },
    maxRetries: 3,
  });

  const job = await queue.waitForEnd(jobId, "completed");
  expect(job.retryCount).toBe(2);
  expect(job.result).toMatchObject({ nodeRuns: { research: 1, draft: 1 } });

  const events = await queue.history(jobId);
  const retries = events.filter((e) => e.event === "retry_scheduled");
  expect(retries).toHaveLength(2);
  expect(retries.every((e) => String(e.detail?.error).includes("draft failed on purpose"))).toBe(true);
  expect(events.filter((e) => e.event === "started").map((e) => e.attempt)).toEqual([1, 2, 3]);
});
