/**
 * The typed client (src/client/, `queue-worker/client`) against the running Worker and the real
 * LangGraph dev server: every method, its answers checked against the response schemas its types
 * come from, the API's errors as typed QueueWorkerErrors, and waitForJob on the live event stream
 * (progress in order and never down, a reconnect with Last-Event-ID), on its polling fallback,
 * and stopped by a signal. The bundle it ships is checked for its imports and used once.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { describe, expect, inject, it } from "vitest";
import { createClient, isQueueWorkerError, QueueWorkerError, type FetchLike, type StatusData, type TransitionEvent } from "../../src/client/index";
import { actionData } from "../../src/http/responses";
import { uniqueJobId } from "./api";
import { freePort, ROOT_DIR } from "./servers";

const QUEUE = "e2e-client";
/** waitForJob's tests, on a queue of their own so that they do not wait behind the first group's jobs. */
const WAIT_QUEUE = "e2e-client-wait";

const client = (queueName = QUEUE, fetch?: FetchLike) => createClient({ url: inject("workerUrl"), queueName, ...(fetch && { fetch }) });

/** What a request was: an action POSTed, or the events route. */
interface Seen {
  kind: "events" | string;
  lastEventId: string | null;
}

/** A fetch that records what it is asked for, and lets a test answer some requests itself. */
function recordingFetch(answer?: (url: URL, init: RequestInit, n: number) => Response | undefined | Promise<Response | undefined>) {
  const seen: Seen[] = [];
  const fetch: FetchLike = async (input, init) => {
    const url = new URL(input);
    const kind = url.pathname.endsWith("/events") ? "events" : (JSON.parse(String(init.body)) as { action: string }).action;
    seen.push({ kind, lastEventId: new Headers(init.headers).get("last-event-id") });
    const own = await answer?.(url, init, seen.filter((s) => s.kind === kind).length);
    return own ?? globalThis.fetch(input, init);
  };
  return { fetch, seen, count: (kind: string) => seen.filter((s) => s.kind === kind).length };
}

async function expectError(promise: Promise<unknown>, code: string, status: number): Promise<QueueWorkerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(QueueWorkerError);
  expect(error).toMatchObject({ name: "QueueWorkerError", code, status });
  return error as QueueWorkerError;
}

const progressOf = (statuses: StatusData[]) => statuses.map((s) => s.progress);
const isNonDecreasing = (values: number[]) => values.every((v, i) => i === 0 || v >= values[i - 1]!);

describe("typed client: every action", () => {
  it("enqueue, enqueueBatch, status, history, list, stats, cancel: typed data, valid under the response schemas", async () => {
    const queue = client();
    const id = uniqueJobId("client");
    const enqueued = await queue.enqueue({ id, type: "data_sync", payload: { source: "crm", recordCount: 2 }, priority: "high" });
    expect(actionData.enqueue.parse(enqueued)).toEqual(enqueued);
    expect(enqueued).toMatchObject({ jobId: id, status: "queued", priority: "high" });
    // The same body again answers the same job (an enqueue naming its id is safe to retry).
    expect((await queue.enqueue({ id, type: "data_sync", payload: { source: "crm", recordCount: 2 }, priority: "high" })).jobId).toBe(id);

    const batchIds = [uniqueJobId("client-batch"), uniqueJobId("client-batch")];
    const batch = await queue.enqueueBatch(batchIds.map((bid) => ({ id: bid, type: "data_sync", payload: { recordCount: 1 }, priority: "low" as const })));
    expect(actionData.enqueueBatch.parse(batch)).toEqual(batch);
    expect(batch.jobs.map((j) => [j.jobId, j.created])).toEqual(batchIds.map((bid) => [bid, true]));

    const status = await queue.status(id);
    expect(actionData.status.parse(status)).toEqual(status);
    expect(status).toMatchObject({ jobId: id, type: "data_sync", maxRetries: 3 });

    // The last batch job is cancelled before it runs (one job at a time on this queue, the high one first).
    const cancelled = await queue.cancel(batchIds[1]!);
    expect(actionData.cancel.parse(cancelled)).toEqual(cancelled);
    expect(cancelled).toEqual({ jobId: batchIds[1], status: "cancelled", previousStatus: "queued" });

    const done = await queue.waitForJob(id, { signal: AbortSignal.timeout(30_000) });
    expect(done).toMatchObject({ jobId: id, status: "completed", progress: 100, result: { syncResult: { written: 2 } } });
    await queue.waitForJob(batchIds[0]!, { signal: AbortSignal.timeout(30_000) });

    const history = await queue.history(id);
    expect(actionData.history.parse(history)).toEqual(history);
    expect(history.events.map((e) => e.event)).toEqual(expect.arrayContaining(["queued", "dispatched", "started", "completed"]));

    const completed = await queue.list({ status: "completed" });
    expect(actionData.list.parse(completed)).toEqual(completed);
    expect(completed.jobs.map((j) => j.jobId)).toEqual(expect.arrayContaining([id, batchIds[0]]));
    const firstPage = await queue.list({ limit: 1 });
    expect(firstPage.jobs).toHaveLength(1);
    expect(firstPage.nextCursor).toEqual(expect.any(String));
    const all: string[] = [];
    for await (const job of queue.listAll({ limit: 1 })) all.push(job.jobId);
    expect(all).toEqual(expect.arrayContaining([id, ...batchIds]));

    const stats = await queue.stats();
    expect(actionData.stats.parse(stats)).toEqual(stats);
    expect(stats).toMatchObject({ queueName: QUEUE, langgraph: { circuit: "closed" } });
    expect(stats.completedJobs).toBeGreaterThanOrEqual(2);
    expect(stats.cancelledJobs).toBeGreaterThanOrEqual(1);

    // A queue named per call wins over the client's.
    expect((await createClient({ url: inject("workerUrl") }).stats({ queueName: QUEUE })).queueName).toBe(QUEUE);

    // Errors of these actions, typed by their code.
    const notCancellable = await expectError(queue.cancel(id), "JOB_NOT_CANCELLABLE", 409);
    expect(notCancellable.is("JOB_NOT_CANCELLABLE")).toBe(true);
    await expectError(queue.resume(id, { approved: true }), "JOB_NOT_INTERRUPTED", 409);
    await expectError(queue.enqueue({ id, type: "data_sync", payload: { other: true } }), "JOB_ID_CONFLICT", 409);
  });

  it("resume: waits for the interrupt, answers it, and the job finishes with the answer", async () => {
    const queue = client();
    const id = uniqueJobId("client-approval");
    await queue.enqueue({ id, type: "approval", payload: { topic: "client launch" } });
    const paused = await queue.waitForJob(id, { until: (s) => s.status === "interrupted", signal: AbortSignal.timeout(30_000) });
    expect(paused).toMatchObject({ status: "interrupted", interrupts: [{ node: "review", value: { question: "Publish this draft?" } }] });
    const resumed = await queue.resume(id, { approved: true, note: "from the client" });
    expect(actionData.resume.parse(resumed)).toEqual({ jobId: id, status: "queued" });
    const done = await queue.waitForJob(id, { signal: AbortSignal.timeout(30_000) });
    expect(done).toMatchObject({ status: "completed", result: { decision: { approved: true, note: "from the client" }, published: true } });
  });

  it("throws the API's errors as QueueWorkerError, typed by code, with status and details", async () => {
    const queue = client();
    const missing = await expectError(queue.status("no-such-job"), "JOB_NOT_FOUND", 404);
    expect(isQueueWorkerError(missing, "JOB_NOT_FOUND")).toBe(true);
    expect(isQueueWorkerError(missing, "UNAUTHORIZED")).toBe(false);

    const badType = await expectError(queue.enqueue({ type: "no_such_type", payload: {} }), "INVALID_JOB_TYPE", 400);
    expect(JSON.stringify(badType.details)).toContain("acceptedTypes");

    // A field the API does not know (a typo a TypeScript caller cannot make) is named in details.
    const typo = await expectError(queue.enqueue({ type: "data_sync", payload: {}, threadid: "x" } as never), "INVALID_REQUEST", 400);
    expect(typo.details).toEqual([{ path: "job.threadid", message: "unknown field" }]);

    const unknownQueue = await expectError(client("no-such-queue").stats(), "UNKNOWN_QUEUE", 400);
    expect(unknownQueue.details).toMatchObject({ queueNames: expect.arrayContaining([QUEUE]) });

    // No answer at all: NETWORK_ERROR, status 0.
    const nobody = createClient({ url: `http://127.0.0.1:${await freePort()}` });
    await expectError(nobody.stats(), "NETWORK_ERROR", 0);
    // An answer that is not the API's (a proxy's error page): INVALID_RESPONSE with its status.
    const proxy = createClient({ url: inject("workerUrl"), fetch: async () => new Response("<html>bad gateway</html>", { status: 502 }) });
    const gateway = await expectError(proxy.stats(), "INVALID_RESPONSE", 502);
    expect(gateway.message).toContain("bad gateway");
  });
});

describe("typed client: waitForJob", () => {
  it("follows the live stream: progress events in order and never down, each step, transitions, the final status", async () => {
    const recorder = recordingFetch();
    const queue = client(WAIT_QUEUE, recorder.fetch);
    const id = uniqueJobId("client-stream");
    await queue.enqueue({ id, type: "data_sync", payload: { recordCount: 3, delayMs: 300 } });
    const seen: StatusData[] = [];
    const transitions: TransitionEvent[] = [];
    const final = await queue.waitForJob(id, {
      onProgress: (s) => seen.push(s),
      onTransition: (t) => transitions.push(t),
      onFallback: (reason) => {
        throw new Error(`fell back to polling: ${reason}`);
      },
      signal: AbortSignal.timeout(30_000),
    });
    expect(final).toMatchObject({ jobId: id, status: "completed", progress: 100, result: { syncResult: { written: 3 } } });
    // One stream, no polling.
    expect(recorder.count("events")).toBe(1);
    expect(recorder.count("status")).toBe(0);
    expect(seen.length).toBeGreaterThanOrEqual(4);
    expect(isNonDecreasing(progressOf(seen))).toBe(true);
    expect(seen.at(-1)).toEqual(final);
    expect(seen.some((s) => s.status === "running" && s.progress > 0 && s.progress < 100)).toBe(true);
    expect(new Set(seen.map((s) => s.currentStep).filter(Boolean))).toEqual(new Set(["fetch_source", "transform", "write"]));
    expect(transitions.map((t) => t.event)).toEqual(expect.arrayContaining(["progress", "completed"]));
    expect(transitions.every((t) => t.jobId === id)).toBe(true);
  });

  it("resolves with a failed job's status (not a rejection); its error says why", async () => {
    const queue = client(WAIT_QUEUE);
    const id = uniqueJobId("client-fails");
    await queue.enqueue({ id, type: "data_sync", payload: { finalError: { node: "transform", message: "bad data" } } });
    const final = await queue.waitForJob(id, { signal: AbortSignal.timeout(30_000) });
    expect(final).toMatchObject({ status: "failed", retryCount: 0, error: expect.stringContaining("bad data") });
  });

  it("reconnects with Last-Event-ID when a stream ends early, and misses no transition", async () => {
    // The first stream is cut after its first status event, as a platform's limit on a response would.
    const recorder = recordingFetch(async (url, init, n) => {
      if (!url.pathname.endsWith("/events") || n > 1) return undefined;
      const upstream = await globalThis.fetch(url, init);
      return new Response(firstEventOnly(upstream.body!), { status: upstream.status, headers: upstream.headers });
    });
    const queue = client(WAIT_QUEUE, recorder.fetch);
    const id = uniqueJobId("client-reconnect");
    await queue.enqueue({ id, type: "data_sync", payload: { recordCount: 2, delayMs: 200 } });
    const first: StatusData[] = [];
    const transitions: TransitionEvent[] = [];
    const final = await queue.waitForJob(id, { onProgress: (s) => first.push(s), onTransition: (t) => transitions.push(t), signal: AbortSignal.timeout(30_000) });
    expect(final.status).toBe("completed");
    const streams = recorder.seen.filter((s) => s.kind === "events");
    expect(streams.length).toBeGreaterThanOrEqual(2);
    expect(streams[0]!.lastEventId).toBeNull();
    const resumedFrom = Number(streams[1]!.lastEventId);
    expect(Number.isInteger(resumedFrom)).toBe(true);
    // Every entry after the first status's, once each, in order: the reconnect replayed what the cut stream missed.
    const history = await queue.history(id);
    expect(transitions.map((t) => [t.event, t.at])).toEqual(history.events.slice(resumedFrom).map((e) => [e.event, e.at]));
    expect(isNonDecreasing(progressOf(first))).toBe(true);
  });

  it("falls back to polling status where the events route is not served (404 NOT_FOUND), and still reports progress", async () => {
    const recorder = recordingFetch((url) =>
      url.pathname.endsWith("/events")
        ? new Response(JSON.stringify({ success: false, error: "no such route", code: "NOT_FOUND" }), { status: 404, headers: { "content-type": "application/json" } })
        : undefined,
    );
    const queue = client(WAIT_QUEUE, recorder.fetch);
    const id = uniqueJobId("client-poll");
    await queue.enqueue({ id, type: "data_sync", payload: { recordCount: 2, delayMs: 400 } });
    const seen: StatusData[] = [];
    const fallbacks: string[] = [];
    const final = await queue.waitForJob(id, { onProgress: (s) => seen.push(s), onFallback: (r) => fallbacks.push(r), pollIntervalMs: 150, signal: AbortSignal.timeout(30_000) });
    expect(final).toMatchObject({ status: "completed", progress: 100 });
    expect(fallbacks).toEqual([expect.stringContaining("404 NOT_FOUND")]);
    expect(recorder.count("events")).toBe(1);
    expect(recorder.count("status")).toBeGreaterThanOrEqual(3);
    expect(isNonDecreasing(progressOf(seen))).toBe(true);
    expect(seen.some((s) => s.status === "running")).toBe(true);
    expect(seen.at(-1)).toEqual(final);
    // Each poll that changed nothing is not reported again.
    expect(new Set(seen.map((s) => JSON.stringify([s.status, s.progress, s.currentStep, s.queuePosition, s.retryCount]))).size).toBe(seen.length);

    // The route unreachable once (a network error): one poll, then the stream again.
    const flaky = recordingFetch((url, _init, n) => {
      if (url.pathname.endsWith("/events") && n === 1) throw new TypeError("fetch failed");
      return undefined;
    });
    const again = await client(WAIT_QUEUE, flaky.fetch).waitForJob(id, { pollIntervalMs: 150, signal: AbortSignal.timeout(10_000) });
    expect(again.status).toBe("completed");
    // Already ended: the one poll says so. A job still going is followed on the stream again:
    const id2 = uniqueJobId("client-poll-back");
    await queue.enqueue({ id: id2, type: "data_sync", payload: { recordCount: 1, delayMs: 300 } });
    const flaky2 = recordingFetch((url, _init, n) => {
      if (url.pathname.endsWith("/events") && n === 1) throw new TypeError("fetch failed");
      return undefined;
    });
    expect((await client(WAIT_QUEUE, flaky2.fetch).waitForJob(id2, { pollIntervalMs: 150, signal: AbortSignal.timeout(30_000) })).status).toBe("completed");
    expect(flaky2.seen.map((s) => s.kind).slice(0, 3)).toEqual(["events", "status", "events"]);
  });

  it("rejects with JOB_NOT_FOUND for a job that does not exist, on the stream and when polling", async () => {
    const queue = client(WAIT_QUEUE);
    await expectError(queue.waitForJob("no-such-job"), "JOB_NOT_FOUND", 404);
    await expectError(queue.waitForJob("no-such-job", { transport: "poll" }), "JOB_NOT_FOUND", 404);
    await expectError(client("no-such-queue").waitForJob("no-such-job"), "UNKNOWN_QUEUE", 400);
  });

  it("honours its signal: an abort mid-stream or mid-poll rejects at once with the signal's reason", async () => {
    const queue = client(WAIT_QUEUE);
    const id = uniqueJobId("client-abort");
    await queue.enqueue({ id, type: "data_sync", payload: { recordCount: 1, delayMs: 5_000 } });
    try {
      const controller = new AbortController();
      const started = Date.now();
      const stream = queue.waitForJob(id, {
        signal: controller.signal,
        onProgress: () => controller.abort(new DOMException("enough", "AbortError")),
      });
      await expect(stream).rejects.toMatchObject({ name: "AbortError", message: "enough" });
      expect(Date.now() - started).toBeLessThan(3_000);

      const polling = queue.waitForJob(id, { transport: "poll", pollIntervalMs: 60_000, signal: AbortSignal.timeout(500) });
      await expect(polling).rejects.toMatchObject({ name: "TimeoutError" });

      const aborted = new AbortController();
      aborted.abort();
      await expect(queue.waitForJob(id, { signal: aborted.signal })).rejects.toMatchObject({ name: "AbortError" });
      // The job goes on: the client only stopped waiting.
      expect(["queued", "running"]).toContain((await queue.status(id)).status);
    } finally {
      await queue.cancel(id).catch(() => {});
    }
  });
});

describe("the client's bundle", () => {
  it("imports no Node built-in and nothing at run time but eventsource-parser; built, it works against the Worker", async () => {
    const dir = await mkdtemp(join(tmpdir(), "queue-worker-client-"));
    try {
      const outfile = join(dir, "client.mjs");
      const result = await build({
        entryPoints: [join(ROOT_DIR, "src/client/index.ts")],
        absWorkingDir: ROOT_DIR,
        outfile,
        bundle: true,
        format: "esm",
        platform: "neutral",
        metafile: true,
        logLevel: "silent",
      });
      const inputs = Object.entries(result.metafile.inputs);
      const imported = inputs.flatMap(([, input]) => input.imports.map((i) => i.path));
      expect(imported.filter((path) => path.startsWith("node:"))).toEqual([]);
      expect(inputs.flatMap(([, input]) => input.imports.filter((i) => i.external))).toEqual([]);
      // The schemas are imported for their types only: zod is not in the bundle.
      expect(inputs.map(([path]) => path).sort()).toEqual(
        expect.arrayContaining(["src/client/index.ts", "src/client/wait.ts", "src/client/errors.ts", "src/http/errors.ts"]),
      );
      expect(inputs.map(([path]) => path).filter((path) => !/^(src\/client\/|src\/http\/errors\.ts$|node_modules\/eventsource-parser\/)/.test(path))).toEqual([]);

      const bundled = (await import(pathToFileURL(outfile).href)) as typeof import("../../src/client/index");
      const stats = await bundled.createClient({ url: inject("workerUrl"), queueName: QUEUE }).stats();
      expect(stats.queueName).toBe(QUEUE);
      await expect(bundled.createClient({ url: inject("workerUrl") }).status("no-such-job")).rejects.toMatchObject({ name: "QueueWorkerError", code: "JOB_NOT_FOUND" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** The stream's bytes up to the end of its first `status` event, then its end (the upstream cancelled). */
function firstEventOnly(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let text = "";
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) return controller.close();
      text += decoder.decode(value, { stream: true });
      const match = /event: status\n[^]*?\n\n/.exec(text);
      if (!match) return;
      controller.enqueue(encoder.encode(text.slice(0, match.index + match[0].length)));
      controller.close();
      await reader.cancel();
    },
    async cancel() {
      await reader.cancel();
    },
  });
}
