/** What the CLI prints for people (without --json): short lines and aligned columns. */
import type { HistoryData, JobSummary, ListData, StatsData, StatusData } from "../client/index";

/** At most `max` characters of a value's JSON. */
export function briefJson(value: unknown, max = 300): string {
  const text = JSON.stringify(value) ?? "undefined";
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters; --json prints it whole)` : text;
}

/** What a job is doing, in a few words: the bar's label and the status line. */
export function stepLabel(status: StatusData): string {
  switch (status.status) {
    case "queued": {
      const parts = ["queued"];
      if (status.waitingForThread) parts.push("behind an earlier job on its thread");
      else if (status.queuePosition) parts.push(`#${status.queuePosition}`);
      if (status.retryCount > 0) parts.push(`(retry ${status.retryCount}/${status.maxRetries}${status.nextRetryAt ? ` at ${time(status.nextRetryAt)}` : ""})`);
      return parts.join(" ");
    }
    case "running":
      return status.currentStep ?? "starting";
    case "interrupted": {
      const asked = status.interrupts?.map((interrupt) => briefJson(interrupt.value, 80)).join("; ");
      return `interrupted, waiting for resume${asked ? `: ${asked}` : ""}`;
    }
    case "completed":
      return "completed";
    case "failed":
      return `failed: ${oneLine(status.error ?? "no error given", 120)}`;
    case "cancelled":
      return "cancelled";
  }
}

export function formatStatus(status: StatusData): string {
  const rows: [string, string | undefined][] = [
    ["job", status.jobId],
    ["type", status.type],
    ["status", `${status.status} ${status.progress}%${status.currentStep ? ` ${status.currentStep}` : ""}`],
    ["queue position", status.queuePosition === undefined ? undefined : String(status.queuePosition)],
    ["estimated wait", status.estimatedWaitTime === undefined ? undefined : `${status.estimatedWaitTime} s`],
    ["retries", `${status.retryCount}/${status.maxRetries}${status.nextRetryAt ? `, next at ${status.nextRetryAt}` : ""}`],
    ["enqueued", status.enqueuedAt],
    ["started", status.startedAt ?? undefined],
    ["completed", status.completedAt ?? undefined],
    ["thread", status.threadId ?? undefined],
    ["assistant", status.assistantId],
    ["interrupts", status.interrupts?.map((i) => `${i.id} (${i.node ?? "?"}): ${briefJson(i.value, 120)}`).join("\n" + " ".repeat(16))],
    ["interrupt expires", status.interruptExpiresAt ?? undefined],
    ["error", status.error ?? undefined],
    ["result", status.result === null ? undefined : briefJson(status.result)],
    ["result location", status.resultLocation ? `${status.resultLocation.reason} (thread ${status.resultLocation.threadId ?? "none"})` : undefined],
  ];
  return keyValues(rows);
}

export function formatStats(stats: StatsData): string {
  return keyValues([
    ["queue", `${stats.queueName}${stats.paused ? " (paused: nothing is dispatched until unpause)" : ""}`],
    ["jobs", `${stats.totalJobs} (capacity ${stats.capacity})`],
    ["queued", String(stats.queuedJobs)],
    ["running", `${stats.runningJobs} (concurrency ${stats.concurrency})`],
    ["interrupted", String(stats.interruptedJobs)],
    ["completed", String(stats.completedJobs)],
    ["failed", String(stats.failedJobs)],
    ["cancelled", String(stats.cancelledJobs)],
    ["avg process time", `${stats.averageProcessTime} s`],
    ["success rate", stats.successRate === null ? "n/a" : `${Math.round(stats.successRate * 1000) / 10}%`],
    ["langgraph circuit", `${stats.langgraph.circuit}${stats.langgraph.nextProbeAt ? ` (next probe ${stats.langgraph.nextProbeAt})` : ""}`],
  ]);
}

export function formatList(list: ListData): string {
  if (list.jobs.length === 0) return "no jobs";
  const header = ["JOB", "TYPE", "STATUS", "PROGRESS", "STEP", "ENQUEUED"];
  const rows = list.jobs.map((job: JobSummary) => [job.jobId, job.type, job.status, `${job.progress}%`, job.currentStep ?? "", job.enqueuedAt]);
  const table = columns([header, ...rows]);
  return list.nextCursor ? `${table}\nmore: --cursor ${list.nextCursor}` : table;
}

export function formatHistory(history: HistoryData): string {
  if (history.events.length === 0) return `no events for ${history.jobId}`;
  return columns(history.events.map((event) => [event.at, `#${event.attempt}`, event.event, event.detail === null ? "" : briefJson(event.detail, 160)]));
}

function keyValues(rows: [string, string | undefined][]): string {
  const shown = rows.filter((row): row is [string, string] => row[1] !== undefined && row[1] !== "");
  const width = Math.max(...shown.map(([key]) => key.length)) + 2;
  return shown.map(([key, value]) => `${key.padEnd(width)}${value}`).join("\n");
}

function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n");
}

const time = (iso: string) => iso.slice(11, 19);
const oneLine = (text: string, max: number) => {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
};
