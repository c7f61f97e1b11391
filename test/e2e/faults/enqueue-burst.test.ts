/**
 * A burst of 2,000 enqueues from 50 concurrent clients against a queue that holds 1,000: the
 * coordinator admits exactly 1,000, never more under concurrency, loses none of them, and refuses
 * the rest with 429 QUEUE_FULL and a Retry-After, never with anything else.
 *
 * A Worker of its own, whose LangGraph answers nothing (a server that holds every job's request), so
 * no job can end during the burst and free room: the two dispatched jobs stay in flight, the
 * others queued. Stopping the Worker and that server ends everything; no LangGraph is touched.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ENDPOINT, QueueClient, uniqueJobId } from "../api";
import { startQueueWorker, type QueueWorker } from "../servers";
import { countBy, reportFigures } from "./figures";

const QUEUE = "faults-burst";
const CAPACITY = 1000;
const CLIENTS = 50;
const REQUESTS = 2000;

let persistDir: string;
let worker: QueueWorker | undefined;
let silentLangGraph: Server;
const heldSockets = new Set<Socket>();

beforeAll(async () => {
  persistDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-burst-"));
  // Answers GET /ok (the Worker's /health asks it) and holds every other request.
  silentLangGraph = createServer((req, res) => {
    if (req.url === "/ok") res.end(JSON.stringify({ ok: true }));
  });
  silentLangGraph.on("connection", (socket) => {
    heldSockets.add(socket);
    socket.on("close", () => heldSockets.delete(socket));
  });
  await new Promise<void>((resolve) => silentLangGraph.listen(0, "127.0.0.1", resolve));
  worker = await startQueueWorker({
    name: "burst", langgraphUrl: `http://127.0.0.1:${(silentLangGraph.address() as AddressInfo).port}`, persistDir,
    vars: { QUEUE_NAMES: QUEUE, QUEUE_CAPACITY: String(CAPACITY), MAX_CONCURRENCY: "2" },
  });
});

afterAll(async () => {
  await worker?.stop();
  for (const socket of heldSockets) socket.destroy();
  await new Promise((resolve) => silentLangGraph?.close(resolve));
  await rm(persistDir, { recursive: true, force: true });
});

interface Answer {
  jobId: string;
  status: number;
  code: string | undefined;
  retryAfter: string | null;
  ms: number;
}

async function enqueue(jobId: string): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(`${worker!.url}${ENDPOINT}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ queueName: QUEUE, job: { id: jobId, type: "data_sync", payload: { recordCount: 1 } }, action: "enqueue" }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await response.json()) as { code?: string };
  return { jobId, status: response.status, code: body.code, retryAfter: response.headers.get("retry-after"), ms: performance.now() - started };
}

it(`admits exactly ${CAPACITY} of ${REQUESTS} enqueues from ${CLIENTS} concurrent clients and refuses the rest with 429 QUEUE_FULL`, async () => {
  const started = performance.now();
  // Each client sends its share one request after another, as a client looping over its jobs would.
  const answers = (
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        const mine: Answer[] = [];
        for (let i = 0; i < REQUESTS / CLIENTS; i++) mine.push(await enqueue(uniqueJobId(`burst-${client}-${i}`)));
        return mine;
      }),
    )
  ).flat();
  const burstMs = performance.now() - started;

  const accepted = answers.filter((a) => a.status === 201);
  const refused = answers.filter((a) => a.status === 429);
  const queue = new QueueClient(worker!.url, QUEUE);
  const stats = await queue.call<{ totalJobs: number; queuedJobs: number; runningJobs: number }>({ action: "stats" });
  // Every accepted job answers `status`, fifty at a time.
  const unanswered: string[] = [];
  for (let i = 0; i < accepted.length; i += CLIENTS) {
    await Promise.all(accepted.slice(i, i + CLIENTS).map((a) => queue.status(a.jobId).catch(() => unanswered.push(a.jobId))));
  }
  const latencies = answers.map((a) => a.ms).sort((a, b) => a - b);

  reportFigures("enqueue-burst", {
    requests: REQUESTS,
    clients: CLIENTS,
    answers: countBy(answers, (a) => `${a.status} ${a.code ?? ""}`.trim()),
    retryAfterSeconds: countBy(refused, (a) => String(a.retryAfter)),
    totalJobs: stats.totalJobs,
    jobsLost: unanswered.length,
    burstMs: Math.round(burstMs),
    enqueuesPerSecond: Math.round(REQUESTS / (burstMs / 1000)),
    latencyMs: { p50: Math.round(latencies[latencies.length >> 1]!), p99: Math.round(latencies[Math.floor(latencies.length * 0.99)]!) },
  });

  expect(countBy(answers, (a) => String(a.status))).toEqual({ 201: CAPACITY, 429: REQUESTS - CAPACITY });
  expect(refused.every((a) => a.code === "QUEUE_FULL")).toBe(true);
  expect(refused.filter((a) => !(Number(a.retryAfter) >= 1)), "429s without a Retry-After of 1 s or more").toEqual([]);
  expect(stats.totalJobs).toBe(CAPACITY);
  expect(stats.queuedJobs + stats.runningJobs).toBe(CAPACITY);
  expect(unanswered, "accepted jobs that do not answer status").toEqual([]);
});
