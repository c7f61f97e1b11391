/**
 * Resume: the answer to an interrupted job's `interrupt()`. The job goes back to the queue with
 * the value; its next attempt continues the thread with LangGraph's `command: {resume: value}`.
 * With several interrupts pending, LangGraph takes a map from interrupt id to value.
 */
import { publicStatus } from "../jobs";
import { notFound, type Change } from "./attempts";
import type { Dispatcher } from "./dispatcher";
import type { CoordinatorHost } from "./host";
import type { PendingInterrupt, ResumeRefusal } from "./protocol";
import type { Transitions } from "./transitions";

export function resumeJob(
  host: CoordinatorHost, transitions: Transitions, dispatcher: Dispatcher, jobId: string, value: unknown, now: number,
): Change<{ jobId: string; status: "queued" }, ResumeRefusal> {
  const job = host.store.get(jobId);
  if (!job) return notFound(jobId);
  if (job.state !== "interrupted") {
    return { ok: false, code: "JOB_NOT_INTERRUPTED", message: `job ${jobId} is ${publicStatus(job.state)}, not interrupted: there is nothing to resume` };
  }
  const pending = JSON.parse(job.interrupts ?? "[]") as PendingInterrupt[];
  const refusal = invalidAnswer(pending, value);
  if (refusal) return { ok: false, code: "INVALID_RESUME", message: `job ${jobId}: ${refusal}` };
  transitions.resume(job, value, now);
  return { ok: true, data: { jobId, status: "queued" }, messages: dispatcher.dispatchReady(now) };
}

/** Why `value` cannot answer the pending interrupts, if it cannot: with several, it must map their ids to answers. */
function invalidAnswer(pending: PendingInterrupt[], value: unknown): string | null {
  if (pending.length <= 1) return null;
  const ids = pending.map((interrupt) => interrupt.id);
  const isMap = typeof value === "object" && value !== null && !Array.isArray(value);
  const keys = isMap ? Object.keys(value) : [];
  if (keys.length > 0 && keys.every((key) => ids.includes(key))) return null;
  return `${pending.length} interrupts are pending: resume with a value that maps interrupt ids to answers (ids: ${ids.join(", ")})`;
}
