/**
 * The seed's design for the HTTP comparison (issue #8, target 5): BullMQ on Redis behind a
 * small Node `http` endpoint with the Worker's enqueue semantics, in a process of its own.
 * It reuses the Worker's own edge code (src/http: auth in constant time, the zod schema, the
 * payload limit, the error envelope) so both endpoints do the same work before the queue:
 *
 *   POST /functions/v1/queue-worker  enqueue: queue.add with the job's id (idempotent), priority
 *                                     and attempts, then its place in the queue (ZRANK of the
 *                                     prioritized set, the Redis counterpart of queuePosition)
 *                                     enqueueBatch: the same for up to 100 jobs with one addBulk
 *                                     (one pipeline of add scripts: one round trip, but not all or
 *                                     nothing as the Worker's transaction is), then their ZRANKs
 *                                     in one more; the Worker's answer, a result per job in order
 *                                     stats: getJobCounts
 *   anything else                     404 NOT_FOUND in the envelope, logged, as the Worker does
 *
 * Bundled by esbuild and run by http-servers.ts; env REDIS_URL, PORT, API_KEYS, QUEUE_NAMES, LOG_PATH.
 * Prints `{"url": …}` on its first stdout line when listening; exits when stdin closes (its
 * parent is gone) or on SIGTERM.
 */
import { randomUUID, timingSafeEqual } from "node:crypto";
import { openSync, writeSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Queue, type JobsOptions } from "bullmq";
import { Redis } from "ioredis";
import type { AppEnv } from "../../src/config";
import { actionRequest, MAX_BODY_BYTES, MAX_PAYLOAD_BYTES, jsonBytes, type JobInput } from "../../src/http/api-schema";
import { authenticate } from "../../src/http/auth";
import { ApiError } from "../../src/http/errors";
import { BULLMQ_PRIORITY } from "./protocol";

const ENDPOINT = "/functions/v1/queue-worker";

// The Worker's auth compares keys with workerd's crypto.subtle.timingSafeEqual; Node has the
// same comparison in node:crypto.
Object.assign(crypto.subtle, {
  timingSafeEqual: (a: ArrayBuffer, b: ArrayBuffer) => timingSafeEqual(new Uint8Array(a), new Uint8Array(b)),
});
const queueNames = (process.env.QUEUE_NAMES ?? "langgraph-queue").split(",");
const env = { API_KEYS: process.env.API_KEYS, ENVIRONMENT: "production" } as AppEnv;
const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
const queues = new Map(queueNames.map((name) => [name, new Queue(name, { connection: redis })]));

/** One JSON line per event, as the Worker logs; to LOG_PATH (default /dev/null). */
const logFd = openSync(process.env.LOG_PATH ?? "/dev/null", "a");
const log = (fields: Record<string, unknown>, level = "info") => writeSync(logFd, `${JSON.stringify({ level, ...fields })}\n`);

const reply = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", "access-control-allow-origin": "*", ...headers }).end(JSON.stringify(body));
};

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MAX_BODY_BYTES) {
      throw new ApiError("PAYLOAD_TOO_LARGE", `request body is over the ${MAX_BODY_BYTES} byte limit`, { limitBytes: MAX_BODY_BYTES });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "POST" || req.url !== ENDPOINT) {
    throw new ApiError("NOT_FOUND", `no such route; use POST ${ENDPOINT} or GET /health`);
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(name, value);
  await authenticate(headers, env);
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(await readBody(req)));
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError("INVALID_REQUEST", "request body is not valid JSON");
  }
  const parsed = actionRequest.safeParse(body);
  if (!parsed.success) throw new ApiError("INVALID_REQUEST", "invalid request", parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })));
  const request = parsed.data;
  const queueName = request.queueName ?? queueNames[0]!;
  const queue = queues.get(queueName);
  if (!queue) throw new ApiError("UNKNOWN_QUEUE", `queue ${queueName} is not configured`, { queueNames });

  if (request.action === "enqueue") {
    checkPayloadBytes(request.job, "job.payload");
    const id = request.job.id ?? randomUUID();
    await queue.add(request.job.type, request.job.payload, addOptions(request.job, id));
    const rank = await redis.zrank(queue.keys.prioritized!, id);
    log({ event: "queued", queue: queueName, jobId: id, priority: request.job.priority, type: request.job.type });
    return reply(res, 201, { success: true, data: enqueueData(id, request.job, rank) });
  }
  if (request.action === "enqueueBatch") {
    for (const [i, job] of request.jobs.entries()) checkPayloadBytes(job, `jobs.${i}.payload`);
    const ids = request.jobs.map((job) => job.id ?? randomUUID());
    await queue.addBulk(request.jobs.map((job, i) => ({ name: job.type, data: job.payload, opts: addOptions(job, ids[i]!) })));
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.zrank(queue.keys.prioritized!, id);
    const ranks = (await pipeline.exec())!.map(([error, rank]) => {
      if (error) throw error;
      return rank as number | null;
    });
    for (const [i, job] of request.jobs.entries()) log({ event: "queued", queue: queueName, jobId: ids[i], priority: job.priority, type: job.type });
    // As for enqueue, an id that already exists is not told apart from a new one: every job counts as created.
    const jobs = request.jobs.map((job, i) => ({ ...enqueueData(ids[i]!, job, ranks[i]!), created: true }));
    return reply(res, 201, { success: true, data: { jobs } });
  }
  if (request.action === "stats") {
    const counts = await queue.getJobCounts();
    const queued = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
    return reply(res, 200, {
      success: true,
      data: {
        queueName, totalJobs: Object.values(counts).reduce((a, b) => a + b, 0), queuedJobs: queued, runningJobs: counts.active ?? 0,
        completedJobs: counts.completed ?? 0, failedJobs: counts.failed ?? 0, cancelledJobs: 0,
      },
    });
  }
  throw new ApiError("INVALID_REQUEST", `action ${request.action} is not part of this benchmark`);
}

function checkPayloadBytes(job: JobInput, path: string): void {
  const bytes = jsonBytes(job.payload);
  if (bytes > MAX_PAYLOAD_BYTES) {
    throw new ApiError("PAYLOAD_TOO_LARGE", `${path} is ${bytes} bytes as JSON, over the ${MAX_PAYLOAD_BYTES} byte limit`, { limitBytes: MAX_PAYLOAD_BYTES });
  }
}

const addOptions = (job: JobInput, id: string): JobsOptions => ({
  jobId: id, priority: BULLMQ_PRIORITY[job.priority], attempts: job.maxRetries + 1, backoff: { type: "exponential", delay: 5000 },
});

/** The Worker's answer for one queued job; the place in the queue is the ZRANK of the prioritized set. */
function enqueueData(id: string, job: JobInput, rank: number | null) {
  const queuePosition = rank === null ? 0 : rank + 1;
  return { jobId: id, status: "queued", priority: job.priority, estimatedWaitTime: queuePosition * 60, queuePosition };
}

const server = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    if (error instanceof ApiError) {
      log({ event: "request_refused", code: error.code, status: error.status, message: error.message }, "warn");
      return reply(res, error.status, { success: false, error: error.message, code: error.code, details: error.details }, error.headers);
    }
    log({ event: "internal_error", error: String(error) }, "error");
    reply(res, 500, { success: false, error: "internal error", code: "INTERNAL_ERROR" });
  });
});
server.keepAliveTimeout = 60_000;

server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});

async function shutdown(): Promise<void> {
  server.close();
  server.closeAllConnections();
  await Promise.all([...queues.values()].map((queue) => queue.close()));
  redis.disconnect();
  process.exit(0);
}
process.stdin.on("end", () => void shutdown());
process.stdin.resume();
process.once("SIGTERM", () => void shutdown());
