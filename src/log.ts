/**
 * One JSON object per line, so `wrangler tail` and Workers observability can answer
 * "what happened to job X" by filtering on jobId.
 */
export interface LogFields {
  event: string;
  queue?: string;
  jobId?: string;
  attempt?: number;
  durationMs?: number;
  [field: string]: unknown;
}

export function log(fields: LogFields, level: "info" | "warn" | "error" = "info"): void {
  const line = JSON.stringify({ level, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
