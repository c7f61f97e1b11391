/**
 * A final state over the 1 MiB a coordinator's row holds (an agent with a long message history):
 * the job completes and `status` returns the whole state, read back from the RESULTS bucket that
 * `wrangler dev` keeps locally. The example graph's `resultBytes` hook makes the state that large.
 */
import { describe, expect, inject, it } from "vitest";
import { QueueClient, uniqueJobId } from "./api";

describe("a job whose final state is over 1 MiB", () => {
  it("completes, and status returns its whole state", async () => {
    const queue = new QueueClient(inject("workerUrl"), "e2e-i");
    const jobId = uniqueJobId("large-result");
    await queue.enqueue({ id: jobId, type: "research_workflow", payload: { itemName: "long history", resultBytes: 3_000_000, instrument: true } });

    const job = await queue.waitForEnd(jobId, "completed");
    expect(job.error).toBeNull();
    expect(job.progress).toBe(100);
    const history = job.result?.longHistory as string[];
    expect(history).toHaveLength(Math.ceil(3_000_000 / 1004));
    expect(history.at(-1)).toMatch(new RegExp(`^message ${history.length - 1} é lorem ipsum`));
    expect(new TextEncoder().encode(JSON.stringify(job.result)).byteLength).toBeGreaterThan(3_000_000);
    expect(job.result).toMatchObject({
      researchData: expect.objectContaining({ itemName: "long history" }),
      draftContent: expect.objectContaining({ title: "Research draft: long history" }),
      nodeRuns: { research: 1, draft: 1 },
    });
    // Where it is kept is the queue's business: the client sees no key.
    expect(job).not.toHaveProperty("resultRef");
    expect(job).not.toHaveProperty("resultLocation");
  });
});
