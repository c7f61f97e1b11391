/**
 * A job through the whole system: HTTP → coordinator → Queue → consumer → LangGraph server
 * (the example research_workflow graph) → result, with its progress visible on the way.
 */
import { describe, expect, inject, it } from "vitest";
import { QueueClient, uniqueJobId, type JobStatus } from "./api";

describe("a research_workflow job", () => {
  it("runs to completed with the graph's output, and its history tells each step", async () => {
    const queue = new QueueClient(inject("workerUrl"), "e2e-a");
    const jobId = uniqueJobId("research");

    const enqueued = await queue.enqueue({ id: jobId, type: "research_workflow", payload: { itemName: "테스트 상품", itemId: "test_001" } });
    expect(enqueued).toMatchObject({ jobId, status: "queued", priority: "medium" });

    const job = await queue.waitForEnd(jobId, "completed");
    expect(job.progress).toBe(100);
    expect(job.retryCount).toBe(0);
    expect(job.error).toBeNull();
    expect(job.result).toMatchObject({
      researchData: expect.objectContaining({ itemId: "test_001", itemName: "테스트 상품" }),
      draftContent: expect.objectContaining({ title: expect.stringContaining("테스트 상품") }),
    });
    // The result is the run's whole final state: the input and what the graph computed, and no
    // test instrumentation (nodeRuns, stepTimes), which the payload did not ask for.
    expect(Object.keys(job.result!).sort()).toEqual(["draftContent", "itemId", "itemName", "researchData"]);

    const events = (await queue.history(jobId)).map((e) => e.event);
    expect(events.slice(0, 3)).toEqual(["queued", "dispatched", "started"]);
    expect(events.at(-1)).toBe("completed");
    // In between: the LangGraph run was created, and the steps of the graph reported progress.
    expect(events).toContain("run_created");
    expect(events).toContain("progress");
    expect(events.filter((e) => e === "completed")).toHaveLength(1);
  });

  it("shows progress rising while it runs, with the current step, and 100 at the end", async () => {
    const queue = new QueueClient(inject("workerUrl"), "e2e-b");
    const jobId = uniqueJobId("progress");
    // Each of the three nodes sleeps 500 ms, long enough for polls to see the run mid-way.
    await queue.enqueue({ id: jobId, type: "content_generation", payload: { topic: "e2e", delayMs: 500 } });

    const seen: JobStatus[] = [];
    const job = await queue.waitForJob(
      jobId,
      (j) => {
        seen.push(j);
        return ["completed", "failed", "cancelled"].includes(j.status);
      },
      { intervalMs: 100 },
    );
    expect(job.status).toBe("completed");
    expect(job.progress).toBe(100);

    const midway = seen.filter((j) => j.status === "running" && j.progress > 0 && j.progress < 100);
    expect(midway.length, `no poll saw the job part-way: ${JSON.stringify(seen.map((j) => [j.status, j.progress, j.currentStep]))}`).toBeGreaterThan(0);
    expect(midway.every((j) => typeof j.currentStep === "string" && j.currentStep.length > 0)).toBe(true);
    // Progress never goes back.
    const progress = seen.map((j) => j.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });
});
