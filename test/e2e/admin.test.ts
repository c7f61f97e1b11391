/**
 * Operator actions on the real system: a failed job retried continues from its thread's
 * checkpoint (the nodes that finished do not run again), its history kept; a paused queue starts
 * nothing, accepts enqueues, and runs them once unpaused.
 */
import { expect, inject, it } from "vitest";
import { QueueClient, uniqueJobId } from "./api";

const queue = new QueueClient(inject("workerUrl"), "e2e-admin");

it("retries a failed job from its checkpoint: the nodes that finished do not run again", async () => {
  const jobId = uniqueJobId("fixed-later");
  // `draft` throws on its first two executions on the thread; no retries of its own, so each attempt fails the job.
  await queue.enqueue({
    id: jobId, type: "research_workflow", maxRetries: 0,
    payload: { itemName: "fixed later", failTimes: { node: "draft", times: 2 }, instrument: true },
  });
  const failed = await queue.waitForEnd(jobId, "failed");
  expect(failed.error).toContain("draft failed on purpose");

  expect(await queue.call({ action: "retry", jobId })).toEqual({ jobId, status: "queued", previousStatus: "failed" });
  await queue.waitForEnd(jobId, "failed");
  await queue.call({ action: "retry", jobId });
  const completed = await queue.waitForEnd(jobId, "completed");

  // `research` ran once, in the first attempt: both retries went on from the checkpoint it left.
  expect(completed.result).toMatchObject({ nodeRuns: { research: 1, draft: 1 } });
  expect(completed.threadId).toBe(failed.threadId);
  const events = await queue.history(jobId);
  expect(events.filter((e) => e.event === "retried").map((e) => e.detail)).toEqual([
    { previousStatus: "failed", retryCount: 0 }, { previousStatus: "failed", retryCount: 0 },
  ]);
  expect(events.filter((e) => e.event === "started").map((e) => e.attempt)).toEqual([1, 2, 3]);
});

it("refuses to retry a job that has not failed or been cancelled", async () => {
  const jobId = uniqueJobId("not-retryable");
  await queue.enqueue({ id: jobId, type: "data_sync", payload: { source: "a", destination: "b" } });
  await queue.waitForEnd(jobId, "completed");
  const answer = await queue.request({ action: "retry", jobId });
  expect(answer).toMatchObject({ status: 409, body: { success: false, code: "JOB_NOT_RETRYABLE" } });
});

it("starts nothing while paused, accepts enqueues, and runs them once unpaused", async () => {
  expect(await queue.call({ action: "pause" })).toEqual({ queueName: "e2e-admin", paused: true });
  try {
    const jobId = uniqueJobId("after-pause");
    await queue.enqueue({ id: jobId, type: "data_sync", payload: { source: "a", destination: "b" } });
    // Long enough for a dispatch, a Queue delivery and a run's start, were the queue not paused.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await queue.status(jobId)).toMatchObject({ status: "queued", queuePosition: 1 });
    expect(await queue.call({ action: "stats" })).toMatchObject({ paused: true, queuedJobs: 1, runningJobs: 0 });

    expect(await queue.call({ action: "unpause" })).toEqual({ queueName: "e2e-admin", paused: false });
    await queue.waitForEnd(jobId, "completed");
  } finally {
    await queue.call({ action: "unpause" });
  }
});
