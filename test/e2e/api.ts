/**
 * The e2e tests' HTTP client: what a client of the queue does (POST {action, …} to the
 * endpoint, poll `status`), and nothing more. Every wait polls with a generous timeout and,
 * when it runs out, says what it last saw.
 */
import { LOG_DIR } from "./servers";

export const ENDPOINT = "/functions/v1/queue-worker";

export type JobStatusName = "queued" | "running" | "interrupted" | "completed" | "failed" | "cancelled";

/** A graph's pending `interrupt()`: its id (the key of a resume map), what it asked, and the node that asked. */
export interface PendingInterrupt {
  id: string;
  value: unknown;
  node: string | null;
}

export interface JobStatus {
  jobId: string;
  type: string;
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
  threadId: string | null;
  assistantId: string;
  config?: Record<string, unknown>;
  context?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  timeoutSeconds: number | null;
  /** While `interrupted` only. */
  interrupts?: PendingInterrupt[];
  interruptExpiresAt?: string;
}

/** One job of a `list` answer. */
export interface JobSummary {
  jobId: string;
  type: string;
  status: JobStatusName;
  threadId: string | null;
  [field: string]: unknown;
}

export interface JobEvent {
  at: string;
  event: string;
  attempt: number;
  detail: Record<string, unknown> | null;
}

export interface JobInput {
  id: string;
  /** One JOB_TYPES accepts (E2E_VARS): the example graphs' ids, and `triage` (runs data_sync). */
  type: string;
  payload: Record<string, unknown>;
  priority?: "high" | "medium" | "low";
  maxRetries?: number;
  threadId?: string;
  assistantId?: string;
  config?: { configurable?: Record<string, unknown>; tags?: string[]; recursion_limit?: number };
  context?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  timeoutSeconds?: number;
}

/** An answer of the endpoint as it came: HTTP status and envelope, success or not. */
export interface RawAnswer<T = unknown> {
  status: number;
  body: { success: boolean; data?: T; code?: string; error?: string; details?: unknown };
}

const TERMINAL: JobStatusName[] = ["completed", "failed", "cancelled"];

/** A job id no earlier run (or other test) has used. */
export const uniqueJobId = (label: string): string => `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

export class QueueClient {
  constructor(
    readonly workerUrl: string,
    readonly queueName: string,
  ) {}

  /** POSTs `body` (to this queue) and returns the answer whatever it is: for tests of refusals. */
  async request<T = unknown>(body: Record<string, unknown>): Promise<RawAnswer<T>> {
    const response = await fetch(`${this.workerUrl}${ENDPOINT}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ queueName: this.queueName, ...body }),
      signal: AbortSignal.timeout(15_000),
    });
    return { status: response.status, body: (await response.json()) as RawAnswer<T>["body"] };
  }

  async call<T>(body: Record<string, unknown>): Promise<T> {
    const { status, body: envelope } = await this.request<T>(body);
    if (!envelope.success) throw new Error(`${String(body.action)} answered ${status} ${envelope.code}: ${envelope.error}`);
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

  /** Answers the job's pending interrupt(s): a value, or with several pending a map by interrupt id. */
  resume(jobId: string, value: unknown) {
    return this.call<{ jobId: string; status: "queued" }>({ action: "resume", jobId, value });
  }

  list(query: { status?: JobStatusName; limit?: number } = {}) {
    return this.call<{ jobs: JobSummary[]; nextCursor: string | null }>({ action: "list", ...query });
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
