/**
 * Resume: the answer to an interrupted job's `interrupt()`. The job goes back to the queue with
 * the value; its next attempt continues the thread with LangGraph's `command: {resume: value}`.
 * With several interrupts pending, a map from interrupt id to answer answers each (those it
 * leaves out stay pending); a plain value answers them all, as LangGraph does.
 */
import { publicStatus, type JsonValue } from "../jobs";
import { notFound, type Change } from "./attempts";
import type { Dispatcher } from "./dispatcher";
import type { CoordinatorHost } from "./host";
import type { PendingInterrupt, ResumeRefusal } from "./protocol";
import type { Transitions } from "./transitions";

export function resumeJob(
  host: CoordinatorHost, transitions: Transitions, dispatcher: Dispatcher, jobId: string, value: JsonValue, now: number,
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

/** LangGraph's interrupt ids: 32 hex digits. A map keyed by them answers interrupts one by one. */
const INTERRUPT_ID = /^[0-9a-f]{32}$/;

/**
 * Why `value` cannot answer the pending interrupts, if it cannot: a map by interrupt id must name
 * pending interrupts only (LangGraph would take one naming others, or mixing in other keys, for
 * a plain value and give it to every interrupt).
 */
function invalidAnswer(pending: PendingInterrupt[], value: unknown): string | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const keys = Object.keys(value);
  const ids = new Set(pending.map((interrupt) => interrupt.id));
  if (!keys.some((key) => ids.has(key) || INTERRUPT_ID.test(key))) return null;
  const unknown = keys.filter((key) => !ids.has(key));
  if (unknown.length === 0) return null;
  return `a resume map by interrupt id may name pending interrupts only; not pending: ${unknown.slice(0, 5).join(", ")} (pending: ${[...ids].join(", ")})`;
}
