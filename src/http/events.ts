/**
 * Live status as Server-Sent Events, which a browser's EventSource reads:
 *   GET /functions/v1/queue-worker/jobs/{jobId}/events[?queueName=…]   one job, to its end
 *   GET /functions/v1/queue-worker/queues/{name}/events                  every job of a queue, and its counts
 *
 * Each stream is one hibernatable WebSocket to the queue's coordinator, which pushes every change
 * (src/coordinator/watchers.ts); this end writes each message as an SSE event. EventSource sends
 * no headers, so the key may come as `?apikey=` (this Worker logs no URL; Cloudflare's request
 * logs may, as the README says). A stream
 * ends at the job's end, when its client leaves, or after EVENT_STREAM_MAX_SECONDS; EventSource
 * then reconnects with Last-Event-ID and the coordinator sends what it missed.
 */
import type { Context } from "hono";
import { queueNames, type AppEnv } from "../config";
import type { StreamMessage } from "../coordinator/watchers";
import { log } from "../log";
import { coordinatorFor } from "../rpc";
import { jobId as jobIdSchema } from "./api-schema";
import { authenticate } from "./auth";
import { ApiError } from "./errors";
import { statusBody, type StatusData } from "./status-body";

type AppContext = Context<{ Bindings: AppEnv }>;

/** A comment line this often keeps proxies from closing a quiet stream, and finds a client that left. */
const KEEPALIVE_MS = 15_000;
/** How soon EventSource reconnects after a stream ends (the `retry` field). */
const RECONNECT_MS = 1000;

/** How long one stream stays open: a platform may cut a longer response; the client's reconnect carries on. */
const streamMaxMs = (env: AppEnv): number => {
  const seconds = Number(env.EVENT_STREAM_MAX_SECONDS);
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : 600) * 1000;
};

export async function jobEvents(c: AppContext): Promise<Response> {
  await authenticateStream(c);
  const parsed = jobIdSchema.safeParse(c.req.param("jobId"));
  if (!parsed.success) throw new ApiError("INVALID_REQUEST", `invalid request: jobId: ${parsed.error.issues[0]!.message}`, [{ path: "jobId", message: parsed.error.issues[0]!.message }]);
  const jobId = parsed.data;
  const queueName = configuredQueue(c.env, c.req.query("queueName"));
  const coordinator = coordinatorFor(c.env, queueName);
  const lastEventId = c.req.header("last-event-id");
  const upstream = await coordinator.fetch(`https://coordinator/watch/job/${encodeURIComponent(jobId)}`, {
    headers: { upgrade: "websocket", ...(lastEventId !== undefined && { "last-event-id": lastEventId }) },
  });
  if (upstream.status === 404) throw new ApiError("JOB_NOT_FOUND", `job ${jobId} not found (unknown id, or its record expired)`);
  // The job has ended and the client has seen its end: 204 tells EventSource to stop reconnecting.
  if (upstream.status === 204) return new Response(null, { status: 204 });
  // A status too large for a message is read with the `status` action; one whose result is in
  // the bucket gets it streamed in, never held whole in memory (as the `status` action does).
  return eventStream(c.env, upstream, async (message) => {
    if (message.event !== "status") return [sseEvent(message)];
    const data = message.fetchStatus ? await statusOf(coordinator, jobId) : (message.data as StatusData);
    return data.resultRef === undefined ? [sseEvent({ ...message, data })] : statusWithKeptResult(c.env, message, data);
  });
}

export async function queueEvents(c: AppContext): Promise<Response> {
  await authenticateStream(c);
  const queueName = configuredQueue(c.env, c.req.param("name"));
  const upstream = await coordinatorFor(c.env, queueName).fetch("https://coordinator/watch/queue", { headers: { upgrade: "websocket" } });
  return eventStream(c.env, upstream, (message) => [sseEvent(message)]);
}

/** The key from the headers, as everywhere, or from `?apikey=` (EventSource cannot send headers). */
async function authenticateStream(c: AppContext): Promise<void> {
  const headers = new Headers(c.req.raw.headers);
  const key = c.req.query("apikey");
  if (key) headers.set("apikey", key);
  await authenticate(headers, c.env);
}

function configuredQueue(env: AppEnv, name: string | undefined): string {
  const queueName = name ?? queueNames(env)[0]!;
  if (!queueNames(env).includes(queueName)) throw new ApiError("UNKNOWN_QUEUE", `queue ${queueName} is not configured`, { queueNames: queueNames(env) });
  return queueName;
}

async function statusOf(coordinator: ReturnType<typeof coordinatorFor>, jobId: string): Promise<StatusData> {
  const status = await coordinator.status(jobId);
  if (!status.ok) throw new Error(status.message);
  return status.data;
}

/** What one event is written as: text, and streams piped through (a kept result). */
type EventParts = (string | ReadableStream<Uint8Array>)[];

/**
 * A status event whose result is in the RESULTS bucket: the other fields, then the object piped in
 * as the `result` (it is JSON text without a raw newline, so it fits on the `data:` line). If the
 * object is gone, the status says where the state is, as the `status` action does (status-body.ts).
 */
async function statusWithKeptResult(env: AppEnv, message: StreamMessage, data: StatusData): Promise<EventParts> {
  const { resultRef, result: _, ...rest } = data;
  const object = await env.RESULTS.get(resultRef!);
  if (!object) {
    const { body } = await statusBody(env, data);
    return [sseEvent({ ...message, data: (JSON.parse(body as string) as { data: unknown }).data })];
  }
  const head = sseEvent({ ...message, data: rest });
  return [`${head.slice(0, head.length - "}\n\n".length)},"result":`, object.body, "}\n\n"];
}

/**
 * The SSE response for a coordinator's WebSocket: each message (after `prepare`) an event, in
 * order; the stream ends when the socket closes (the job ended), its client leaves (a write
 * fails), or it has been open EVENT_STREAM_MAX_SECONDS.
 */
function eventStream(env: AppEnv, upstream: Response, prepare: (message: StreamMessage) => EventParts | Promise<EventParts>): Response {
  const socket = upstream.webSocket;
  if (!socket) throw new Error(`the coordinator answered ${upstream.status} without a WebSocket`);
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  let ended = false;
  // Writes one after another, in the order the messages came.
  let writing: Promise<void> = Promise.resolve();
  const write = (parts: () => EventParts | Promise<EventParts>) => {
    writing = writing
      .then(async () => {
        for (const part of await parts()) {
          if (ended) return;
          if (typeof part === "string") {
            await writer.write(encoder.encode(part));
            continue;
          }
          const reader = part.getReader();
          for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) await writer.write(chunk.value);
        }
      })
      .catch((error: unknown) => end(error));
  };
  const end = (error?: unknown) => {
    if (ended) return;
    ended = true;
    clearInterval(keepalive);
    clearTimeout(limit);
    clearTimeout(grace);
    if (error !== undefined && !isClientGone(error)) log({ event: "event_stream_failed", error: String(error) }, "warn");
    try {
      socket.close(1000, "stream ended");
    } catch {
      // Already closed by the coordinator.
    }
    if (stalled) void writer.abort(new Error("the stream's client stopped reading")).catch(() => {});
    else void writing.finally(() => writer.close().catch(() => {}));
  };
  let stalled = false;
  let grace: ReturnType<typeof setTimeout> | undefined;
  socket.accept();
  write(() => [`retry: ${RECONNECT_MS}\n\n`]);
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as StreamMessage;
    write(() => prepare(message));
  });
  // Ended after the messages before it are written: the job's last status comes before the end.
  const endInTurn = () => void (writing = writing.then(() => end()));
  socket.addEventListener("close", endInTurn);
  socket.addEventListener("error", endInTurn);
  // No keepalive piles up behind a client that has stopped reading.
  const keepalive = setInterval(() => (writer.desiredSize ?? 1) > 0 && write(() => [": keepalive\n\n"]), KEEPALIVE_MS);
  const limit = setTimeout(() => {
    endInTurn();
    // A client that stopped reading holds the writes up for ever: past a grace period, cut it.
    grace = setTimeout(() => {
      stalled = true;
      end();
    }, KEEPALIVE_MS);
  }, streamMaxMs(env));
  return new Response(readable, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache, no-transform", "x-accel-buffering": "no" },
  });
}

function sseEvent({ event, id, data }: StreamMessage): string {
  return `event: ${event}\n${id === undefined ? "" : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`;
}

/** A write fails once the client has gone: not worth a warning. */
const isClientGone = (error: unknown): boolean => /cancel|closed|disconnect/i.test(String(error));
