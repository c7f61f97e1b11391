/**
 * A job's own options, on the real LangGraph server: an error the graph marks as final fails the
 * job at once; `timeoutSeconds` bounds its run (and stops it on the server); `config`, `context`
 * and `metadata` reach the graph's nodes; JOB_TYPES maps a type to another graph (E2E_VARS:
 * `triage=data_sync`) and refuses a type it does not list.
 */
import { Client } from "@langchain/langgraph-sdk";
import { describe, expect, inject, it } from "vitest";
import { QueueClient, uniqueJobId, waitFor } from "./api";

const queue = () => new QueueClient(inject("workerUrl"), "e2e-job-options");

describe("job options", () => {
  it("fails a job at once, without retries, when its graph throws a final error", async () => {
    const q = queue();
    const jobId = uniqueJobId("final-error");
    await q.enqueue({ id: jobId, type: "research_workflow", payload: { itemName: "refused", finalError: { node: "draft" } }, maxRetries: 3 });

    const job = await q.waitForEnd(jobId, "failed", { timeoutMs: 30_000 });
    expect(job.retryCount).toBe(0);
    expect(job.error).toContain("NonRetryableError");
    expect(job.error).toContain("draft failed for good (finalError)");
    const events = (await q.history(jobId)).map((e) => e.event);
    expect(events.filter((e) => e === "started")).toHaveLength(1);
    expect(events).not.toContain("retry_scheduled");
    expect(events.at(-1)).toBe("failed");
  });

  it("fails a job whose run outlasts its timeoutSeconds, and stops the run", async () => {
    const q = queue();
    const langgraph = new Client({ apiUrl: inject("langgraphUrl") });
    const jobId = uniqueJobId("timeout");
    // Three nodes of 3 s each against a 1 s limit.
    await q.enqueue({ id: jobId, type: "data_sync", payload: { recordCount: 2, delayMs: 3000 }, timeoutSeconds: 1, maxRetries: 3 });

    const job = await q.waitForEnd(jobId, "failed", { timeoutMs: 20_000, intervalMs: 100 });
    expect(job.timeoutSeconds).toBe(1);
    expect(job.retryCount).toBe(0);
    expect(job.error).toMatch(/^timed out: the run took longer than the job's timeoutSeconds/);
    // Well before the graph would have finished on its own (9 s).
    expect(Date.parse(job.completedAt!) - Date.parse(job.startedAt!)).toBeLessThan(6000);

    // The run on the server was cancelled, not left to finish.
    const threadId = job.threadId!;
    const runs = await waitFor(
      `the runs of thread ${threadId}`,
      () => langgraph.runs.list(threadId),
      (list) => list.length > 0 && list.every((run) => run.status !== "pending" && run.status !== "running"),
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    expect(runs.map((run) => run.status)).toEqual(["interrupted"]);
    expect((await q.status(jobId)).status).toBe("failed");
  });

  it("passes the job's config, context and metadata to its run, and shows them in status", async () => {
    const q = queue();
    const jobId = uniqueJobId("options");
    const config = { configurable: { model: "small", user_id: "u-42" }, tags: ["e2e", "job-options"], recursion_limit: 42 };
    const context = { tenant: "acme", locale: "fr" };
    const metadata = { requestedBy: "e2e", ticket: 1234 };
    await q.enqueue({ id: jobId, type: "data_sync", payload: { recordCount: 2, echoConfig: true }, config, context, metadata });

    const job = await q.waitForEnd(jobId, "completed", { timeoutMs: 30_000 });
    expect(job).toMatchObject({ type: "data_sync", assistantId: "data_sync", config, context, metadata, timeoutSeconds: null });
    // What the graph's first node saw.
    const seen = (job.result as { seenConfig?: Record<string, unknown> }).seenConfig;
    expect(seen).toMatchObject({
      context,
      configurable: expect.objectContaining(config.configurable),
      tags: expect.arrayContaining(config.tags),
      recursionLimit: 42,
      // The job's metadata, with the queue's own beside it.
      metadata: expect.objectContaining({ ...metadata, jobId, queueName: "e2e-job-options" }),
    });
  });

  it("runs a mapped type with its graph, and refuses a type JOB_TYPES does not list", async () => {
    const q = queue();
    const jobId = uniqueJobId("triage");
    await q.enqueue({ id: jobId, type: "triage", payload: { source: "inbox", destination: "board", recordCount: 3, instrument: true } });
    const job = await q.waitForEnd(jobId, "completed", { timeoutMs: 30_000 });
    expect(job).toMatchObject({ type: "triage", assistantId: "data_sync" });
    expect(job.result).toMatchObject({
      fetched: expect.anything(), transformed: expect.anything(), syncResult: expect.anything(),
      nodeRuns: { fetch_source: 1, transform: 1, write: 1 },
    });

    const refused = await q.request({ action: "enqueue", job: { type: "no_such_graph", payload: {} } });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ success: false, code: "INVALID_JOB_TYPE" });
    const accepted = ["research_workflow", "content_generation", "batch_processing", "data_sync", "approval", "conversation", "triage"];
    expect(refused.body.details).toEqual([{ path: "job.type", message: expect.any(String), acceptedTypes: accepted }]);
    expect(refused.body.error).toContain("triage");

    // A field the API does not know is refused by name, not dropped.
    const typo = await q.request({ action: "enqueue", job: { type: "data_sync", payload: {}, threadid: "x" } });
    expect([typo.status, typo.body.code]).toEqual([400, "INVALID_REQUEST"]);
    expect(typo.body.error).toContain("job.threadid");
  });
});
