/**
 * A small real HTTP server speaking the parts of the LangGraph Server API the platform client
 * uses (GET /ok; threads create, get, state, copy; runs create, get, list, cancel; a run's join
 * stream as SSE), for the faults the LangGraph dev server cannot produce on demand: one call reset
 * while LangGraph answers, nothing answering at all, a run LangGraph lost (it stays "running",
 * silent, for ever), a run that is alive but ignores cancels. The test drives the runs itself
 * (`emit`, `checkpoint`, `setStatus`, `interrupt`) and reads what the client asked (`calls`, and
 * each run's request `body`).
 *
 * Threads as the real server shows them (langgraph/test/server-smoke.test.mjs pins its shapes):
 * `busy` while a run of theirs goes, then `idle`, `error` (with the run's `error`, when the test
 * gives one) or `interrupted` (a run stopped at `interrupt()`: its pending tasks in `getState`,
 * their interrupts in the thread's `interrupts` by task id). A run created with `command.resume`
 * answers the pending interrupts (a map by interrupt id only those it names); one with a new
 * input drops them. Each checkpoint carries the metadata of the run that wrote it (its jobId).
 *
 * Two ways to use it:
 *   - plain Node (the `logic` project): `await startFakeLangGraph()` inside the test file, and
 *     the object's methods;
 *   - inside workerd (the `unit-platform` project), where Node objects cannot be reached: the
 *     default export is a vitest globalSetup that starts one fake for the run and provides its URL
 *     as `langgraphFakeUrl`, and the same methods are HTTP routes under /__control/ (see
 *     `control` below; test/support/langgraph-fake-control.ts calls them). Control requests are
 *     not recorded in `calls`.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { TestProject } from "vitest/node";

export type RunStatus = "pending" | "running" | "success" | "error" | "timeout" | "interrupted";

export interface FakeRun {
  run_id: string;
  thread_id: string;
  assistant_id: string;
  status: RunStatus;
  created_at: string;
  updated_at: string;
  metadata: Record<string, unknown>;
  /** What the run was created with (not part of the API's answer). */
  input: unknown;
  /** The request body it was created with: input or command, config, context, metadata (`{}` for one `addRun` made). Not part of the API's answer. */
  body: Record<string, unknown>;
}

/** A task of the thread's next step, as `getState` lists it: one that stopped at `interrupt()` holds its interrupts. */
export interface FakeTask {
  id: string;
  /** The node. */
  name: string;
  error: null;
  interrupts: { id: string; value: unknown }[];
  path: string[];
  checkpoint: null;
  state: null;
  result: null;
}

export interface FakeThread {
  thread_id: string;
  status: "idle" | "busy" | "error" | "interrupted";
  values: Record<string, unknown>;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  /** The newest checkpoint's id; null before the first. */
  checkpointId: string | null;
  /** The newest checkpoint's metadata (`getState`'s): the run's that wrote it. */
  checkpointMetadata: Record<string, unknown>;
  /** The next step's tasks (`getState`'s); those with interrupts make the thread `interrupted` once no run goes. */
  tasks: FakeTask[];
  /** What the thread says of its failed run (`error` of `threads.get`); set by `setStatus(runId, "error", error)`. */
  error: unknown;
}

export interface FakeLangGraph {
  url: string;
  /** Every request, as "METHOD /path" (no query), in order; /ok included. */
  calls: string[];
  threads: Map<string, FakeThread>;
  runs: Map<string, FakeRun>;
  /** The next `times` requests whose "METHOD /path" matches are reset: the connection is destroyed before any answer. */
  resetNext(match: RegExp, times?: number): void;
  /** While true, every request (/ok too) is reset: nothing answers, an outage. */
  down: boolean;
  /** A thread with a run of the job in it, as an earlier attempt left it (the queue names a run's job in its metadata). */
  addRun(job: { threadId: string; jobId: string }, status: RunStatus, options?: { checkpointId?: string | null; createdAt?: string | null; /** False: the run failed before its first checkpoint, the thread keeps the one before. */ wroteCheckpoint?: boolean }): FakeRun;
  /** Sends a stream event to whoever joined the run's stream. */
  emit(runId: string, event: string, data: unknown): void;
  /** A node of the thread's run finished: a new checkpoint. */
  checkpoint(threadId: string, values?: Record<string, unknown>): void;
  /** Destroys the connections of every joined stream (a reset mid-stream). */
  cutStreams(): void;
  /**
   * Sets a run's status; an ended run's streams end and its thread is `idle`, `error` (keeping
   * `error`, when given, as the thread's error) or, with interrupts pending, `interrupted`.
   */
  setStatus(runId: string, status: RunStatus, error?: unknown): void;
  /**
   * The thread's run stopped at `interrupt()` in these nodes (parallel ones: one task each): a
   * checkpoint, a pending task per node with its interrupt (ids as the real server makes them).
   * The thread is `interrupted` once its run has ended (at once when none goes).
   */
  interrupt(threadId: string, asks: { node: string; value: unknown }[]): FakeTask[];
  close(): Promise<void>;
}

const ACTIVE = new Set<RunStatus>(["pending", "running"]);
const now = () => new Date().toISOString();

export async function startFakeLangGraph(): Promise<FakeLangGraph> {
  const threads = new Map<string, FakeThread>();
  const runs = new Map<string, FakeRun>();
  const streams = new Map<string, Set<ServerResponse>>();
  const calls: string[] = [];
  const resets: { match: RegExp; left: number }[] = [];
  const sockets = new Set<Socket>();

  const newThread = (threadId: string, metadata: Record<string, unknown> = {}): FakeThread => {
    const thread: FakeThread = {
      thread_id: threadId, status: "idle", values: {}, metadata, created_at: now(), updated_at: now(), checkpointId: null, checkpointMetadata: {}, tasks: [], error: null,
    };
    threads.set(threadId, thread);
    return thread;
  };
  const newRun = (
    threadId: string, assistantId: string, status: RunStatus, input: unknown, metadata: Record<string, unknown> = {}, createdAt: string | null = now(), body: Record<string, unknown> = {},
  ): FakeRun => {
    const run = { run_id: randomUUID(), thread_id: threadId, assistant_id: assistantId, status, created_at: createdAt!, updated_at: now(), metadata, input, body };
    runs.set(run.run_id, run);
    return run;
  };
  const activeRun = (threadId: string) => [...runs.values()].find((run) => run.thread_id === threadId && ACTIVE.has(run.status));
  /** The thread's status: busy while a run of it goes; then interrupted with interrupts pending, else what its last run left. */
  const settleThread = (thread: FakeThread, lastRun: RunStatus = "success") => {
    if (activeRun(thread.thread_id)) thread.status = "busy";
    else if (thread.tasks.some((task) => task.interrupts.length > 0)) thread.status = "interrupted";
    else thread.status = lastRun === "error" ? "error" : "idle";
    if (thread.status === "idle" || thread.status === "interrupted") thread.error = null;
  };
  const threadView = ({ checkpointId: _, checkpointMetadata: __, tasks, ...thread }: FakeThread) => ({
    ...thread,
    interrupts: Object.fromEntries(tasks.map((task) => [task.id, task.interrupts])),
  });
  const runView = ({ input: _, body: __, ...run }: FakeRun) => run;
  const endStreams = (runId: string) => {
    for (const res of streams.get(runId) ?? []) res.end();
    streams.delete(runId);
  };

  const fake: FakeLangGraph = {
    url: "",
    calls,
    threads,
    runs,
    down: false,
    resetNext: (match, times = 1) => void resets.push({ match, left: times }),
    addRun({ threadId, jobId }, status, { checkpointId = randomUUID(), createdAt = now(), wroteCheckpoint = true } = {}) {
      const thread = threads.get(threadId) ?? newThread(threadId);
      if (wroteCheckpoint) {
        thread.checkpointId = checkpointId;
        thread.checkpointMetadata = checkpointId ? { jobId } : {};
      }
      const run = newRun(threadId, "graph", status, null, { jobId }, createdAt);
      settleThread(thread, status);
      return run;
    },
    emit(runId, event, data) {
      for (const res of streams.get(runId) ?? []) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    checkpoint(threadId, values = {}) {
      const thread = threads.get(threadId)!;
      thread.checkpointId = randomUUID();
      thread.checkpointMetadata = { ...activeRun(threadId)?.metadata };
      thread.values = { ...thread.values, ...values };
      thread.updated_at = now();
    },
    cutStreams() {
      for (const joined of streams.values()) for (const res of joined) res.socket?.destroy();
      streams.clear();
    },
    setStatus(runId, status, error) {
      const run = runs.get(runId)!;
      run.status = status;
      run.updated_at = now();
      const thread = threads.get(run.thread_id)!;
      if (error !== undefined) thread.error = error;
      settleThread(thread, status);
      if (!ACTIVE.has(status)) endStreams(runId);
    },
    interrupt(threadId, asks) {
      const thread = threads.get(threadId)!;
      fake.checkpoint(threadId);
      thread.tasks = asks.map(({ node, value }) => ({
        id: randomUUID(), name: node, error: null, interrupts: [{ id: randomUUID().replaceAll("-", ""), value }],
        path: ["__pregel_pull", node], checkpoint: null, state: null, result: null,
      }));
      settleThread(thread);
      return thread.tasks;
    },
    close: async () => {
      for (const runId of [...streams.keys()]) endStreams(runId);
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };

  /**
   * The test's side, over HTTP, for tests that run where the object cannot be reached (workerd):
   *   POST /__control/emit        {runId, event, data}   a stream event to whoever joined the run
   *   POST /__control/checkpoint  {threadId, values}     a node finished: a new checkpoint
   *   POST /__control/status      {runId, status, error} an ended run's streams end; `error` the thread's
   *   POST /__control/interrupt   {threadId, asks}       the thread's run stopped at interrupt(): its tasks
   *   GET  /__control/calls?has=X                        the calls whose path contains X (a thread id)
   *   GET  /__control/runs?thread=T | ?job=J             runs of a thread, or made for a job (by their
   *                                                      metadata.jobId), with their input and how many
   *                                                      streams are joined to each (`listeners`)
   */
  const control = (method: string, route: string, query: URLSearchParams, body: Record<string, unknown>): [number, unknown] => {
    const runId = String(body.runId);
    const threadId = String(body.threadId);
    if (method === "POST" && route === "emit" && runs.has(runId)) {
      fake.emit(runId, String(body.event), body.data);
      return [200, {}];
    }
    if (method === "POST" && route === "checkpoint" && threads.has(threadId)) {
      fake.checkpoint(threadId, (body.values as Record<string, unknown>) ?? {});
      return [200, {}];
    }
    if (method === "POST" && route === "status" && runs.has(runId)) {
      fake.setStatus(runId, body.status as RunStatus, body.error);
      return [200, {}];
    }
    if (method === "POST" && route === "interrupt" && threads.has(threadId)) {
      return [200, fake.interrupt(threadId, body.asks as { node: string; value: unknown }[])];
    }
    if (method === "GET" && route === "calls") return [200, calls.filter((call) => call.includes(query.get("has") ?? ""))];
    if (method === "GET" && route === "runs") {
      const wanted = (run: FakeRun) => run.thread_id === query.get("thread") || (query.has("job") && run.metadata.jobId === query.get("job"));
      return [200, [...runs.values()].filter(wanted).map((run) => ({ ...run, listeners: streams.get(run.run_id)?.size ?? 0 }))];
    }
    return [404, { detail: `no control route ${method} /__control/${route} for ${JSON.stringify(body)}` }];
  };

  const server = createServer(async (req, res) => {
    const body = await readJson(req);
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://fake");
    const path = url.pathname;
    if (path.startsWith("/__control/")) {
      const [status, answer] = control(method, path.slice("/__control/".length), url.searchParams, body);
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(answer));
      return;
    }
    const call = `${method} ${path}`;
    calls.push(call);
    const reset = resets.find((r) => r.left > 0 && r.match.test(call));
    if (fake.down || reset) {
      if (reset) reset.left--;
      req.socket.destroy();
      return;
    }
    const reply = (status: number, answer: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(answer));
    };
    const parts = path.split("/").filter(Boolean);
    if (call === "GET /ok") return reply(200, { ok: true });

    if (call === "POST /threads") {
      const threadId = String(body.thread_id ?? randomUUID());
      const existing = threads.get(threadId);
      if (existing) return body.if_exists === "do_nothing" ? reply(200, threadView(existing)) : reply(409, { detail: "Thread already exists" });
      return reply(200, threadView(newThread(threadId, (body.metadata as Record<string, unknown>) ?? {})));
    }
    if (parts[0] !== "threads" || !parts[1]) return reply(404, { detail: `no route ${call}` });
    const threadId = parts[1];
    let thread = threads.get(threadId);

    if (parts.length === 2 && method === "GET") return thread ? reply(200, threadView(thread)) : reply(404, { detail: "Thread not found" });
    if (parts[2] === "state" && method === "GET") {
      if (!thread) return reply(404, { detail: "Thread not found" });
      const checkpoint = thread.checkpointId ? { thread_id: threadId, checkpoint_ns: "", checkpoint_id: thread.checkpointId } : null;
      const { values, tasks, checkpointMetadata: metadata } = thread;
      return reply(200, { values, next: tasks.map((task) => task.name), tasks, metadata, created_at: thread.updated_at, checkpoint, parent_checkpoint: null });
    }
    if (parts[2] === "copy" && method === "POST") {
      if (!thread) return reply(404, { detail: "Thread not found" });
      const copy = newThread(randomUUID(), { ...thread.metadata });
      copy.values = { ...thread.values };
      copy.checkpointId = thread.checkpointId;
      copy.checkpointMetadata = { ...thread.checkpointMetadata };
      return reply(200, threadView(copy));
    }
    if (parts[2] !== "runs") return reply(404, { detail: `no route ${call}` });

    if (parts.length === 3 && method === "POST") {
      if (!thread) {
        if (body.if_not_exists !== "create") return reply(422, { detail: "Thread not found" });
        thread = newThread(threadId);
      }
      if ([...runs.values()].some((run) => run.thread_id === threadId && ACTIVE.has(run.status))) {
        return reply(422, { detail: "Thread is already running a task. Wait for it to finish or choose a different multitask strategy." });
      }
      if (body.input === null && !thread.checkpointId) return reply(422, { detail: "EmptyInputError: Received no input" });
      const command = body.command as { resume?: unknown } | undefined;
      if (command && "resume" in command) thread.tasks = answered(thread.tasks, command.resume);
      else if (body.input !== null && body.input !== undefined) thread.tasks = [];
      const run = newRun(threadId, String(body.assistant_id), "running", body.input, (body.metadata as Record<string, unknown>) ?? {}, now(), body);
      settleThread(thread);
      return reply(200, runView(run));
    }
    if (parts.length === 3 && method === "GET") {
      return reply(200, [...runs.values()].filter((run) => run.thread_id === threadId).reverse().map(runView));
    }
    const run = runs.get(parts[3] ?? "");
    if (!run || run.thread_id !== threadId) return reply(404, { detail: "Run not found" });
    if (parts.length === 4 && method === "GET") return reply(200, runView(run));
    // Cancel interrupts a pending run only: as the JS dev server, a running run stops only if its worker does.
    if (parts[4] === "cancel" && method === "POST") {
      if (run.status === "pending") fake.setStatus(run.run_id, "interrupted");
      res.writeHead(202).end();
      return;
    }
    if (parts[4] === "stream" && method === "GET") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
      if (!ACTIVE.has(run.status)) return res.end();
      res.flushHeaders();
      const joined = streams.get(run.run_id) ?? new Set<ServerResponse>();
      streams.set(run.run_id, joined.add(res));
      res.on("close", () => joined.delete(res));
      return;
    }
    return reply(404, { detail: `no route ${call}` });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

/** vitest globalSetup: one fake for the whole run, its URL provided as `langgraphFakeUrl`. */
export default async function setup(project: TestProject) {
  const fake = await startFakeLangGraph();
  project.provide("langgraphFakeUrl", fake.url);
  return () => fake.close();
}

/**
 * The tasks left pending once a resume takes its answer: a map by interrupt id answers the ones
 * it names (their tasks stay, with no interrupts, as on the real server), any other value all.
 */
function answered(tasks: FakeTask[], resume: unknown): FakeTask[] {
  const pendingIds = tasks.flatMap((task) => task.interrupts.map((interrupt) => interrupt.id));
  const byId = resume !== null && typeof resume === "object" && !Array.isArray(resume) && Object.keys(resume).length > 0 && Object.keys(resume).every((id) => pendingIds.includes(id));
  if (!byId) return [];
  return tasks.map((task) => ({ ...task, interrupts: task.interrupts.filter((interrupt) => !(interrupt.id in (resume as object))) }));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of req) text += chunk;
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
