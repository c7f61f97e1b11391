/**
 * A typed client for queue-worker's HTTP API: `import { createClient } from "queue-worker/client"`.
 *
 * It runs wherever `fetch` does (Node 20+, browsers, Deno, Supabase Edge Functions, Workers): it
 * uses fetch, streams and TextDecoder only, no Node built-ins. Its request types are the Worker's
 * own request schemas (z.input of src/http/api-schema.ts) and its answers' the response schemas
 * (z.infer of src/http/responses.ts): imported as types only, so zod is not needed at run time.
 *
 *   const queue = createClient({ url: "https://queue.example.workers.dev", apiKey });
 *   const { jobId } = await queue.enqueue({ type: "research_workflow", payload: { itemName: "x" } });
 *   const final = await queue.waitForJob(jobId, { onProgress: (s) => console.log(s.progress, s.currentStep) });
 *
 * Every method resolves with the answer's `data`; an error answer is thrown as a
 * QueueWorkerError whose `code` is the API's (JOB_NOT_FOUND, QUEUE_FULL, …).
 */
import type { z } from "zod";
import type { ActionRequestInput, jobInput, jobStatus } from "../http/api-schema";
import type { ActionData, ActionName, StatusData } from "../http/responses";
import { errorFromResponse, networkError, QueueWorkerError } from "./errors";
import { waitForJob, type WaitForJobOptions } from "./wait";

export {
  API_ERROR_STATUS, isApiErrorCode, isQueueWorkerError, QueueWorkerError,
  type ClientErrorCode, type ErrorCode, type QueueWorkerErrorCode, type QueueWorkerErrorInit,
} from "./errors";
export { isTerminalStatus, TERMINAL_STATUSES, type TransitionEvent, type WaitForJobOptions } from "./wait";
export type {
  ActionData, ActionName, ActionResponse, CancelData, CircuitData, EnqueueBatchData, EnqueueData, ErrorResponse, HistoryData,
  HistoryEvent, JobSummary, ListData, PauseData, PendingInterruptData, ResumeData, RetryData, StatsData, StatusData,
} from "../http/responses";

/** The path of the API under the Worker's URL, as the seed's Supabase Edge Function had it. */
export const ENDPOINT_PATH = "/functions/v1/queue-worker";

/** A job as `enqueue` takes it: `type` and `payload`, and the optional fields (priority, id, threadId, …). */
export type JobInput = z.input<typeof jobInput>;
/** What `status` says a job is: queued, running, interrupted, completed, failed or cancelled. */
export type JobStatus = z.infer<typeof jobStatus>;
/** A request body of `action` as the client sends it. */
export type ActionRequest<A extends ActionName = ActionName> = Extract<ActionRequestInput, { action: A }>;
/** A resume's answer: any JSON but null; with several interrupts pending, a map from interrupt id to answer. */
export type ResumeValue = ActionRequest<"resume">["value"];
/** `list`'s filters: status, limit (1–100, default 20), cursor (a `nextCursor`). */
export type ListQuery = Omit<ActionRequest<"list">, "action" | "queueName">;
/** A bulk retry's page: `status` (failed or cancelled), `limit` (1–100, default 100), `cursor` (a `nextCursor`). */
export type RetryQuery = Required<Pick<ActionRequest<"retry">, "status">> & Pick<ActionRequest<"retry">, "limit" | "cursor">;

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** The Worker's URL (`https://queue-worker.example.workers.dev`), or the endpoint's, ending in /functions/v1/queue-worker. */
  url: string;
  /** Sent as `Authorization: Bearer <key>`. Leave out where the Worker needs none (`npm start`). */
  apiKey?: string;
  /** The queue every call goes to unless it names another; the Worker's first QUEUE_NAMES when left out. */
  queueName?: string;
  /** The fetch to use (a test's, a proxy-aware one); globalThis.fetch by default. */
  fetch?: FetchLike;
  /** Headers added to every request. */
  headers?: Record<string, string>;
}

/** What every call may take besides its own arguments. */
export interface CallOptions {
  /** This call's queue, instead of the client's. */
  queueName?: string;
  signal?: AbortSignal;
}

export function createClient(options: ClientOptions): QueueWorkerClient {
  return new QueueWorkerClient(options);
}

export class QueueWorkerClient {
  /** The endpoint every action is POSTed to. */
  readonly endpoint: string;
  readonly queueName: string | undefined;
  readonly #apiKey: string | undefined;
  readonly #headers: Record<string, string>;
  readonly #fetch: FetchLike;

  constructor(options: ClientOptions) {
    if (!options.url) throw new TypeError("createClient: url is required (the Worker's URL)");
    const base = new URL(options.url);
    const path = base.pathname.replace(/\/+$/, "");
    base.pathname = path.endsWith(ENDPOINT_PATH) ? path : `${path}${ENDPOINT_PATH}`;
    base.search = "";
    base.hash = "";
    this.endpoint = base.toString();
    this.queueName = options.queueName;
    this.#apiKey = options.apiKey;
    this.#headers = { ...options.headers };
    // Not `this.fetch = fetch`: a browser's fetch must be called on the global object.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Queues a job. Safe to retry when the job names its `id`: the same body answers the same job. */
  enqueue(job: JobInput, options: CallOptions = {}): Promise<ActionData<"enqueue">> {
    return this.call({ action: "enqueue", job, queueName: this.#queue(options) }, options.signal);
  }

  /** Queues 1–100 jobs in one transaction, all or none; the answers in the order sent. */
  enqueueBatch(jobs: JobInput[], options: CallOptions = {}): Promise<ActionData<"enqueueBatch">> {
    return this.call({ action: "enqueueBatch", jobs, queueName: this.#queue(options) }, options.signal);
  }

  status(jobId: string, options: CallOptions = {}): Promise<ActionData<"status">> {
    return this.call({ action: "status", jobId, queueName: this.#queue(options) }, options.signal);
  }

  stats(options: CallOptions = {}): Promise<ActionData<"stats">> {
    return this.call({ action: "stats", queueName: this.#queue(options) }, options.signal);
  }

  cancel(jobId: string, options: CallOptions = {}): Promise<ActionData<"cancel">> {
    return this.call({ action: "cancel", jobId, queueName: this.#queue(options) }, options.signal);
  }

  /** One page of jobs: queued ones in dispatch order, others newest first; `nextCursor` for the next page. */
  list(query: ListQuery = {}, options: CallOptions = {}): Promise<ActionData<"list">> {
    return this.call({ action: "list", ...query, queueName: this.#queue(options) }, options.signal);
  }

  /** Every job `query` matches, page after page. */
  async *listAll(query: Omit<ListQuery, "cursor"> = {}, options: CallOptions = {}): AsyncGenerator<ActionData<"list">["jobs"][number]> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...query, ...(cursor === undefined ? {} : { cursor }) }, options);
      yield* page.jobs;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  history(jobId: string, options: CallOptions = {}): Promise<ActionData<"history">> {
    return this.call({ action: "history", jobId, queueName: this.#queue(options) }, options.signal);
  }

  /** Answers an `interrupted` job's interrupt(s) and queues it again. */
  resume(jobId: string, value: ResumeValue, options: CallOptions = {}): Promise<ActionData<"resume">> {
    return this.call({ action: "resume", jobId, value, queueName: this.#queue(options) }, options.signal);
  }

  /** Queues a failed or cancelled job again, with a fresh retry budget, on its thread (it continues from its checkpoint). */
  retry(jobId: string, options: CallOptions = {}): Promise<Extract<ActionData<"retry">, { jobId: string }>> {
    // A retry naming a job answers for that job (the other shape answers a page).
    return this.call({ action: "retry", jobId, queueName: this.#queue(options) }, options.signal) as Promise<Extract<ActionData<"retry">, { jobId: string }>>;
  }

  /**
   * Retries a page of the queue's failed (or cancelled) jobs, oldest first: call again with
   * `nextCursor` until it is null. Fewer than `limit` when the queue's capacity runs out.
   */
  retryMany(query: RetryQuery, options: CallOptions = {}): Promise<Extract<ActionData<"retry">, { jobIds: string[] }>> {
    return this.call({ action: "retry", ...query, queueName: this.#queue(options) }, options.signal) as Promise<Extract<ActionData<"retry">, { jobIds: string[] }>>;
  }

  /** Stops dispatching: running jobs finish, enqueues are accepted, nothing new starts until `unpause`. */
  pause(options: CallOptions = {}): Promise<ActionData<"pause">> {
    return this.call({ action: "pause", queueName: this.#queue(options) }, options.signal);
  }

  unpause(options: CallOptions = {}): Promise<ActionData<"unpause">> {
    return this.call({ action: "unpause", queueName: this.#queue(options) }, options.signal);
  }

  /**
   * Waits for the job to end (or for `until` to hold) and resolves with its last status, whatever
   * it ended as: a failed or cancelled job resolves too, with its `error`; only the API's own
   * failures (JOB_NOT_FOUND, UNAUTHORIZED, …) reject. Follows the job's live-status stream
   * (GET …/jobs/{jobId}/events), reconnecting with Last-Event-ID when it ends early, and polls
   * `status` instead where the stream is not served. `onProgress` gets each status, its
   * progress never lower than one reported before.
   */
  waitForJob(jobId: string, options: WaitForJobOptions = {}): Promise<StatusData> {
    return waitForJob(this, jobId, options);
  }

  /** POSTs one action's body and resolves with its `data`. The typed methods above are this. */
  async call<A extends ActionName>(body: ActionRequest<A>, signal?: AbortSignal): Promise<ActionData<A>> {
    // JSON leaves out a queueName that is undefined: the Worker's first queue.
    const response = await this.request(this.endpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      ...(signal && { signal }),
    });
    return (await readData(response, `${body.action}`)) as ActionData<A>;
  }

  /**
   * A request to the Worker with this client's key and headers; a failure to get any answer is
   * thrown as NETWORK_ERROR (an abort as the signal's reason).
   */
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(this.#headers);
    if (this.#apiKey) headers.set("authorization", `Bearer ${this.#apiKey}`);
    new Headers(init.headers).forEach((value, name) => headers.set(name, value));
    try {
      return await this.#fetch(url, { ...init, headers });
    } catch (error) {
      if (init.signal?.aborted) throw init.signal.reason;
      throw networkError(url, error);
    }
  }

  /** The URL of a job's live-status stream. */
  eventsUrl(jobId: string, queueName?: string): string {
    const url = new URL(`${this.endpoint}/jobs/${encodeURIComponent(jobId)}/events`);
    const queue = queueName ?? this.queueName;
    if (queue !== undefined) url.searchParams.set("queueName", queue);
    return url.toString();
  }

  #queue(options: CallOptions): string | undefined {
    return options.queueName ?? this.queueName;
  }
}

/** The `data` of a `{success: true}` answer; anything else thrown as a QueueWorkerError. */
async function readData(response: Response, action: string): Promise<unknown> {
  if (!response.ok) throw await errorFromResponse(response, action);
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    throw new QueueWorkerError("INVALID_RESPONSE", `${action} answered ${response.status} with a body that is not JSON`, { status: response.status, cause: error });
  }
  if (typeof body === "object" && body !== null && (body as { success?: unknown }).success === true && "data" in body) return body.data;
  throw new QueueWorkerError("INVALID_RESPONSE", `${action} answered ${response.status} without {success: true, data}`, { status: response.status, details: body });
}
