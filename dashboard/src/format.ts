/** How the dashboard writes times, durations and JSON. */
import type { JobStatus } from "../../src/client/index";

export const JOB_STATUSES: readonly JobStatus[] = ["queued", "running", "interrupted", "completed", "failed", "cancelled"];

/** "14:02:07" today, "Dec 1, 14:02" before; the full ISO time in the title attribute. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return today
    ? date.toLocaleTimeString(undefined, { hour12: false })
    : date.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
}

/** 850 ms, 12.3 s, 4 min 10 s. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Pretty JSON for a <pre>; undefined and null as an em dash. */
export function json(value: unknown): string {
  if (value === undefined || value === null) return "—";
  return JSON.stringify(value, null, 2);
}

/** The statuses a job can be retried from, cancelled from, and resumed from. */
export const canRetry = (status: JobStatus): boolean => status === "failed" || status === "cancelled";
export const canCancel = (status: JobStatus): boolean => status === "queued" || status === "running" || status === "interrupted";
export const canResume = (status: JobStatus): boolean => status === "interrupted";
