/** What the PlatformClient tests share (test/logic/platform-client*.test.ts): a job to start or follow, and waiting in Node. */
import { randomUUID } from "node:crypto";
import type { LangGraphJob } from "../../src/langgraph/client";

/** A job's first attempt on a thread of its own, with `fields` over it. */
export function langGraphJob(fields: Partial<LangGraphJob> = {}): LangGraphJob {
  const jobId = fields.jobId ?? `job-${randomUUID()}`;
  return {
    jobId, jobKey: `q:${jobId}`, queueName: "q", type: "research_workflow", assistantId: "research_workflow", payload: { itemName: "x" }, attempt: 1,
    threadId: randomUUID(), firstRun: true, ...fields,
  };
}

/** Resolves once `check` holds, polling every 20 ms; throws after `timeoutMs`. */
export async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !check(); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
