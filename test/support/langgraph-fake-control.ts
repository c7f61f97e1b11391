/**
 * Drives the fake LangGraph (langgraph-fake.ts) from inside workerd, through its /__control/
 * routes: the tests play the graph (stream events, checkpoints, interrupts, a run's end) and read
 * what the queue asked LangGraph (calls, and each run's request body).
 */
import { inject } from "vitest";
import type { FakeRun, FakeTask, RunStatus } from "./langgraph-fake";

export const langgraphFakeUrl = inject("langgraphFakeUrl");

async function control<T>(method: "GET" | "POST", route: string, body?: unknown): Promise<T> {
  const response = await fetch(`${langgraphFakeUrl}/__control/${route}`, {
    method, ...(body !== undefined && { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`fake LangGraph control: ${JSON.stringify(answer)}`);
  return answer as T;
}

/** A run as the fake keeps it, with how many streams are joined to it now. */
export type ControlRun = FakeRun & { listeners: number };

/** Sends a stream event to whoever joined the run's stream. */
export const emit = (runId: string, event: "updates" | "custom" | "error", data: unknown) => control<void>("POST", "emit", { runId, event, data });

/** A node finished: a new checkpoint on the thread, with these values merged into its state. */
export const checkpoint = (threadId: string, values: Record<string, unknown> = {}) => control<void>("POST", "checkpoint", { threadId, values });

/**
 * Sets a run's status; an ended run's streams end, and its thread is idle, `error` (with `error`,
 * when given, as the thread's error: `{error: <name>, message}`) or interrupted.
 */
export const setRunStatus = (runId: string, status: RunStatus, error?: unknown) => control<void>("POST", "status", { runId, status, error });

/** The thread's run stopped at `interrupt()` in these nodes: their pending tasks, with each interrupt's id. */
export const interrupt = (threadId: string, asks: { node: string; value: unknown }[]) => control<FakeTask[]>("POST", "interrupt", { threadId, asks });

/** The requests the fake got ("METHOD /path") whose path contains `has` (a thread or run id), in order. */
export const callsWith = (has: string) => control<string[]>("GET", `calls?has=${encodeURIComponent(has)}`);

/** The runs of a thread. */
export const runsOfThread = (threadId: string) => control<ControlRun[]>("GET", `runs?thread=${encodeURIComponent(threadId)}`);

/** The runs made for a job (their metadata's jobId), on any thread: the job's own and a copy's. */
export const runsOfJob = (jobId: string) => control<ControlRun[]>("GET", `runs?job=${encodeURIComponent(jobId)}`);

/** Ends a run as a real one ends: its last node's update, its checkpoint with the final values, then success. */
export async function succeed(run: { thread_id: string; run_id: string }, values: Record<string, unknown>) {
  await emit(run.run_id, "updates", { draft: { done: true } });
  await checkpoint(run.thread_id, values);
  await setRunStatus(run.run_id, "success");
}
