/** What the workflows test server (workflows-server.ts) saw, asked from inside workerd. */
import { inject } from "vitest";

const workflowsUrl = inject("workflowsUrl");

/** How many times the workflow of `jobId` was called. */
export async function workflowCalls(jobId: string): Promise<number> {
  const response = await fetch(`${workflowsUrl}/calls/${encodeURIComponent(jobId)}`);
  return ((await response.json()) as { calls: number }).calls;
}

/** The thread ids the workflow of `jobId` was called with. */
export async function workflowThreads(jobId: string): Promise<string[]> {
  return ((await (await fetch(`${workflowsUrl}/threads/${encodeURIComponent(jobId)}`)).json()) as { threads: string[] }).threads;
}

/** How many requests carried `key` as their x-api-key. */
export async function apiKeyUses(key: string): Promise<number> {
  return ((await (await fetch(`${workflowsUrl}/api-key-uses/${key}`)).json()) as { uses: number }).uses;
}
