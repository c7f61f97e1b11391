/**
 * The e2e tests' HTTP client: what a client of the queue does (POST {action, …} to the
 * endpoint, poll `status`), and nothing more. Every wait polls with a generous timeout and,
 * when it runs out, says what it last saw.
 */
import { LOG_DIR } from "./servers";

export const ENDPOINT = "/functions/v1/queue-worker";

export type JobStatusName = "queued" | "running" | "completed" | "failed" | "cancelled";

export interface JobStatus {
  jobId: string;
  status: JobStatusName;
  progress: number;
  currentStep: string | null;
  enqueuedAt: string;
  startedAt: string | null;
  completedAt: string | null;
  retryCount: number;
  maxRetries: number;
  nextRetryAt: string | null;
  result: Record<string, unknown> | null;
  error: string | null;
}

export interface JobEvent {
  at: string;
  event: string;
  attempt: number;
  detail: Record<string, unknown> | null;
}

export interface JobInput {
  id: string;
  type: "research_workflow" | "content_generation" | "batch_processing" | "data_sync";
  payload: Record<string, unknown>;
  priority?: "high" | "medium" | "low";
  maxRetries?: number;
}

const TERMINAL: JobStatusName[] = ["completed", "failed", "cancelled"];

/** A job id no earlier run (or other test) has used. */
export const uniqueJobId = (label: string): string => `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

export class QueueClient {
  constructor(
    readonly workerUrl: string,
    readonly queueName: string,
  ) {}

  async call<T>(body: Record<string, unknown>): Promise<T> {
    const response = await fetch(`${this.workerUrl}${ENDPOINT}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ queueName: this.queueName, ...body }),
      signal: AbortSignal.timeout(15_000),
    });
    const envelope = (await response.json()) as { success: boolean; data?: T; code?: string; error?: string };
    if (!envelope.success) throw new Error(`${String(body.action)} answered ${response.status} ${envelope.code}: ${envelope.error}`);
    return envelope.data as T;
  }

  enqueue(job: JobInput) {
    return this.call<{ jobId: string; status: string; priority: string; queuePosition: number }>({ action: "enqueue", job });
  }

  status(jobId: string) {
    return this.call<JobStatus>({ action: "status", jobId });
  }

  cancel(jobId: string) {
    return this.call<{ jobId: string; status: "cancelled"; previousStatus: JobStatusName }>({ action: "cancel", jobId });
  }

  async history(jobId: string): Promise<JobEvent[]> {
    return (await this.call<{ events: JobEvent[] }>({ action: "history", jobId })).events;
  }

  /** Polls `status` until `done` holds. */
  waitForJob(jobId: string, done: (job: JobStatus) => boolean, options: WaitOptions = {}): Promise<JobStatus> {
    return waitFor(`job ${jobId} in queue ${this.queueName}`, () => this.status(jobId), done, options);
  }

  /** Polls until the job has ended, and fails unless it ended in `expected`. */
  async waitForEnd(jobId: string, expected: JobStatusName, options: WaitOptions = {}): Promise<JobStatus> {
    const job = await this.waitForJob(jobId, (j) => TERMINAL.includes(j.status), options);
    if (job.status !== expected) {
      const events = await this.history(jobId).catch(() => []);
      throw new Error(`job ${jobId} ended ${job.status}, not ${expected}: ${job.error ?? ""}\n${describeEvents(events)}`);
    }
    return job;
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 60_000, intervalMs = 200 }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (done(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`gave up waiting on ${what} after ${timeoutMs} ms; last seen: ${JSON.stringify(last)} (server logs: ${LOG_DIR})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export const describeEvents = (events: JobEvent[]): string =>
  events.map((e) => `  ${e.at} #${e.attempt} ${e.event} ${e.detail ? JSON.stringify(e.detail) : ""}`).join("\n");
