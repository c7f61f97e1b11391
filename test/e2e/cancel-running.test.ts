/**
 * Cancelling a running job stops its LangGraph run too: the job is `cancelled` for good, and
 * the server is left with no run of the job's thread still pending or running.
 */
import { Client } from "@langchain/langgraph-sdk";
import { expect, inject, it } from "vitest";
import { QueueClient, uniqueJobId, waitFor } from "./api";

it("cancels a running job and interrupts its LangGraph run", async () => {
  const queue = new QueueClient(inject("workerUrl"), "e2e-e");
  const langgraph = new Client({ apiUrl: inject("langgraphUrl") });
  const jobId = uniqueJobId("cancel-me");
  // Each node sleeps 4 s: the run is well under way, and far from done, when it is cancelled.
  await queue.enqueue({ id: jobId, type: "research_workflow", payload: { itemName: "cancel me", delayMs: 4000 } });

  // Running, and the run has reported from inside the graph: it exists on the LangGraph server.
  await queue.waitForJob(jobId, (j) => j.status === "running" && j.currentStep !== null);
  const runCreated = (await queue.history(jobId)).find((e) => e.event === "run_created");
  const threadId = String(runCreated?.detail?.threadId);
  expect(threadId).toMatch(/^[0-9a-f-]{36}$/);

  const cancelled = await queue.cancel(jobId);
  expect(cancelled).toEqual({ jobId, status: "cancelled", previousStatus: "running" });

  // The consumer learns of the cancel at its next report and cancels the run on the server.
  const runs = await waitFor(
    `the runs of thread ${threadId}`,
    () => langgraph.runs.list(threadId),
    (list) => list.length > 0 && list.every((run) => run.status !== "pending" && run.status !== "running"),
    { timeoutMs: 30_000, intervalMs: 500 },
  );
  expect(runs.map((run) => run.status)).toContain("interrupted");
  expect(runs.map((run) => run.status)).not.toContain("success");

  // Whatever the consumer did after the cancel, it was not recorded.
  const job = await queue.status(jobId);
  expect(job.status).toBe("cancelled");
  expect(job.result).toBeNull();
  const events = (await queue.history(jobId)).map((e) => e.event);
  expect(events.at(-1)).toBe("cancelled");
  expect(events).not.toContain("completed");
  expect(events).not.toContain("failed");
});
