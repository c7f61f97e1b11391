/**
 * Follows one of the Worker's live-status streams (text/event-stream) for as long as the page
 * wants it. Read with fetch() and parsed with eventsource-parser, not with EventSource: EventSource
 * cannot send the Authorization header, and a key in its URL would land in the browser's history
 * and in request logs.
 *
 * A stream that ends (EVENT_STREAM_MAX_SECONDS) or drops is opened again after the server's
 * `retry:` delay, sending the last event id where the stream numbers its events (a job's), so
 * that no transition is missed; a 204 (a job whose end was seen) stops it, as it stops EventSource.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { errorFromResponse } from "../../src/client/errors";
import type { QueueWorkerClient } from "../../src/client/index";

export type StreamState = "connecting" | "open" | "reconnecting" | "ended" | "failed";

export interface FollowOptions {
  client: QueueWorkerClient;
  url: string;
  signal: AbortSignal;
  onEvent(message: EventSourceMessage): void;
  onState?(state: StreamState, detail?: string): void;
  /** The id to resume after, as Last-Event-ID, on the first connection too. */
  lastEventId?: string;
}

const DEFAULT_RETRY_MS = 1000;
/** After a failure to connect at all, wait longer each time, up to this. */
const MAX_BACKOFF_MS = 15_000;

/** Resolves when the stream is over for good (204, aborted) and rejects on an answer that will not change (401, 404). */
export async function followStream(options: FollowOptions): Promise<void> {
  const { client, url, signal } = options;
  let lastEventId = options.lastEventId;
  let retryMs = DEFAULT_RETRY_MS;
  let failures = 0;
  while (!signal.aborted) {
    options.onState?.(failures === 0 && lastEventId === options.lastEventId ? "connecting" : "reconnecting");
    let response: Response;
    try {
      response = await client.request(url, {
        headers: { accept: "text/event-stream", ...(lastEventId !== undefined && { "last-event-id": lastEventId }) },
        signal,
      });
    } catch (error) {
      if (signal.aborted) return;
      failures++;
      options.onState?.("reconnecting", error instanceof Error ? error.message : String(error));
      await sleep(Math.min(retryMs * 2 ** failures, MAX_BACKOFF_MS), signal);
      continue;
    }
    if (response.status === 204) {
      options.onState?.("ended");
      return;
    }
    if (!response.ok || !response.body) {
      const error = await errorFromResponse(response, "live status");
      // A refusal that another try will not change: the caller says so on the page.
      if (response.status >= 400 && response.status < 500 && response.status !== 429) {
        options.onState?.("failed", error.message);
        throw error;
      }
      failures++;
      options.onState?.("reconnecting", error.message);
      await sleep(Math.min(retryMs * 2 ** failures, MAX_BACKOFF_MS), signal);
      continue;
    }
    failures = 0;
    options.onState?.("open");
    const parser = createParser({
      onEvent: (message) => {
        if (message.id !== undefined) lastEventId = message.id;
        options.onEvent(message);
      },
      onRetry: (ms) => (retryMs = ms),
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } catch {
      // A dropped connection, or the abort: either way the loop decides what is next.
    } finally {
      reader.releaseLock();
    }
    if (signal.aborted) return;
    await sleep(retryMs, signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
