/**
 * waitForJob: a job's live status until it ends. It follows the job's event stream
 * (GET {endpoint}/jobs/{jobId}/events, text/event-stream), parsed with eventsource-parser over a
 * plain fetch (EventSource cannot send an Authorization header, and is not in every runtime):
 *
 *   - `status` events carry what the `status` action answers: the current one at once, then one
 *     at every change; the job's terminal status is the last, and the stream closes.
 *   - `transition` events carry the job's history entries, each numbered (`id:`).
 *   - A stream that ends early (the platform's limit on a response, a dropped connection) is
 *     opened again with `Last-Event-ID`: the server sends the transitions it missed and the status.
 *
 * Where the route is not served (404 NOT_FOUND, an older Worker; a proxy that does not pass
 * streams) or cannot be reached, it polls `status` instead, every `pollIntervalMs`; after a
 * network failure it tries the stream again once a poll has gone through.
 */
import { createParser } from "eventsource-parser";
import type { z } from "zod";
import type { transitionEvent } from "../http/event-schemas";
import type { StatusData } from "../http/responses";
import { errorFromResponse, isQueueWorkerError, QueueWorkerError } from "./errors";
import type { JobStatus, QueueWorkerClient } from "./index";

/** A history entry of the job, as the stream's `transition` events carry it: `{jobId, event, at, attempt, detail}`. */
export type TransitionEvent = z.infer<typeof transitionEvent>;

export interface WaitForJobOptions {
  /** The job's queue, instead of the client's. */
  queueName?: string;
  /** Stops waiting: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Called with each status the stream sends (when polling, with each status that differs from
   * the last), the final one included. Its `progress` never goes down: a retry that starts over
   * shows the highest progress seen until it passes it.
   */
  onProgress?: (status: StatusData) => void;
  /** Called with each history entry the stream sends (not when polling). */
  onTransition?: (event: TransitionEvent) => void;
  /** Called once if the stream cannot be used and `status` is polled instead, saying why. */
  onFallback?: (reason: string) => void;
  /** When to stop: by default once the job has ended (completed, failed or cancelled). */
  until?: (status: StatusData) => boolean;
  /** How often `status` is polled when there is no stream. Default 2000 ms. */
  pollIntervalMs?: number;
  /** "auto" (default): the stream, polling where it is unavailable; "poll": poll only. */
  transport?: "auto" | "poll";
}

/** The statuses a job ends in. */
export const TERMINAL_STATUSES: readonly JobStatus[] = ["completed", "failed", "cancelled"];
export const isTerminalStatus = (status: JobStatus): boolean => TERMINAL_STATUSES.includes(status);

/** Polls that fail for a passing reason (no answer, a 5xx) are tried again this many times in a row before giving up. */
const POLL_ATTEMPTS = 3;
/** Streams that end without a single event before polling is used instead. */
const EMPTY_STREAMS = 3;
const DEFAULT_RECONNECT_MS = 1000;

type StreamOutcome =
  | { kind: "until"; status: StatusData }
  | { kind: "ended"; events: number; retryMs: number | undefined }
  | { kind: "unavailable"; reason: string; transient: boolean };

interface WaitState {
  lastEventId: string | undefined;
  highest: number;
  lastReported: string | undefined;
}

export async function waitForJob(client: QueueWorkerClient, jobId: string, options: WaitForJobOptions = {}): Promise<StatusData> {
  const { signal } = options;
  if (signal?.aborted) throw signal.reason;
  const until = options.until ?? ((status: StatusData) => isTerminalStatus(status.status));
  const pollIntervalMs = options.pollIntervalMs ?? 2000;
  const state: WaitState = { lastEventId: undefined, highest: 0, lastReported: undefined };
  let mode: "stream" | "poll" = options.transport === "poll" ? "poll" : "stream";
  let streamAgainAfterPoll = false;
  let fellBack = false;
  const fallBack = (reason: string, transient: boolean) => {
    mode = "poll";
    streamAgainAfterPoll = transient;
    if (!fellBack) options.onFallback?.(reason);
    fellBack = true;
  };
  let emptyStreams = 0;
  let pollFailures = 0;

  for (;;) {
    if (mode === "stream") {
      const outcome = await followStream(client, jobId, state, until, options);
      if (outcome.kind === "until") return outcome.status;
      if (outcome.kind === "unavailable") {
        fallBack(outcome.reason, outcome.transient);
        continue;
      }
      emptyStreams = outcome.events === 0 ? emptyStreams + 1 : 0;
      if (emptyStreams >= EMPTY_STREAMS) {
        fallBack(`the event stream ended ${EMPTY_STREAMS} times without an event`, false);
        continue;
      }
      await sleep(outcome.retryMs ?? DEFAULT_RECONNECT_MS, signal);
      continue;
    }

    let status: StatusData;
    try {
      status = await client.status(jobId, { ...(options.queueName !== undefined && { queueName: options.queueName }), ...(signal && { signal }) });
      pollFailures = 0;
    } catch (error) {
      if (isPassing(error) && ++pollFailures < POLL_ATTEMPTS) {
        await sleep(pollIntervalMs, signal);
        continue;
      }
      throw error;
    }
    report(state, status, options, true);
    if (until(status) || isTerminalStatus(status.status)) return status;
    // Even when the stream is tried again: a route that keeps failing while status answers must not be hit in a tight loop.
    await sleep(pollIntervalMs, signal);
    if (streamAgainAfterPoll) {
      mode = "stream";
      streamAgainAfterPoll = false;
    }
  }
}

/** Tells `onProgress`, progress never lower than before; when polling, only what changed. */
function report(state: WaitState, status: StatusData, options: WaitForJobOptions, onlyChanges: boolean): void {
  state.highest = Math.max(state.highest, status.progress);
  const shown = status.progress < state.highest ? { ...status, progress: state.highest } : status;
  if (onlyChanges) {
    const key = JSON.stringify([shown.status, shown.progress, shown.currentStep, shown.retryCount, shown.queuePosition, shown.nextRetryAt, shown.interrupts]);
    if (key === state.lastReported) return;
    state.lastReported = key;
  }
  options.onProgress?.(shown);
}

/** One connection to the job's event stream, followed until `until` holds or it ends. */
async function followStream(
  client: QueueWorkerClient,
  jobId: string,
  state: WaitState,
  until: (status: StatusData) => boolean,
  options: WaitForJobOptions,
): Promise<StreamOutcome> {
  const { signal } = options;
  // Ours, so that leaving (at the job's end, or on an error) always releases the connection.
  const connection = new AbortController();
  const onAbort = () => connection.abort(signal!.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    let response: Response;
    try {
      response = await client.request(client.eventsUrl(jobId, options.queueName), {
        headers: { accept: "text/event-stream", ...(state.lastEventId !== undefined && { "last-event-id": state.lastEventId }) },
        signal: connection.signal,
      });
    } catch (error) {
      if (isQueueWorkerError(error, "NETWORK_ERROR")) return { kind: "unavailable", reason: error.message, transient: true };
      throw error;
    }
    if (!response.ok) {
      const error = await errorFromResponse(response, "the job's event stream");
      // No such route (an older Worker, a proxy): the job itself may well exist.
      if (response.status === 405 || response.status === 501 || (response.status === 404 && !error.is("JOB_NOT_FOUND"))) {
        return { kind: "unavailable", reason: `the event stream answered ${response.status} ${error.code}: ${error.message}`, transient: false };
      }
      if (response.status >= 500) return { kind: "unavailable", reason: `the event stream answered ${response.status} ${error.code}: ${error.message}`, transient: true };
      throw error;
    }
    const contentType = response.headers.get("content-type") ?? "";
    if (!response.body || !contentType.toLowerCase().startsWith("text/event-stream")) {
      await response.body?.cancel().catch(() => {});
      return { kind: "unavailable", reason: `the event stream answered ${contentType || "no content type"}, not text/event-stream`, transient: false };
    }

    let reached: StatusData | undefined;
    let events = 0;
    let retryMs: number | undefined;
    const parser = createParser({
      onEvent: (message) => {
        if (reached) return;
        if (message.id !== undefined) state.lastEventId = message.id;
        const data = parseJson(message.data);
        if (typeof data !== "object" || data === null) return;
        events += 1;
        if (message.event === "status") {
          const status = data as StatusData;
          report(state, status, options, false);
          if (until(status) || isTerminalStatus(status.status)) reached = status;
        } else if (message.event === "transition") {
          options.onTransition?.(data as TransitionEvent);
        }
      },
      onRetry: (ms) => {
        retryMs = ms;
      },
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        // The connection dropped: open it again.
        return { kind: "ended", events, retryMs };
      }
      // The callbacks run inside feed: an error of onProgress's is the caller's, and rejects.
      parser.feed(chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true }));
      if (reached) return { kind: "until", status: reached };
      if (chunk.done) return { kind: "ended", events, retryMs };
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    connection.abort();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A failure a later poll may not meet: no answer, or the server's (or a gateway's) 5xx. */
const isPassing = (error: unknown): boolean =>
  error instanceof QueueWorkerError && (error.code === "NETWORK_ERROR" || error.status >= 500);

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
