/**
 * A small HTTP proxy in front of the LangGraph dev server that injects faults, so the e2e tests
 * can show what the Worker does when LangGraph misbehaves in the ways networks and servers do.
 *
 * Faults, and when the server sees the request:
 *   status500  answered 500 at once; LangGraph never sees the request
 *   status429  answered 429 with `Retry-After: 1` at once; LangGraph never sees it
 *   slow       forwarded after `slowMs`
 *   malformed  forwarded, then LangGraph's answer is replaced by a truncated copy (invalid
 *              JSON) under the same status: the server acted, the client cannot read what it did
 *   reset      forwarded, then the connection is destroyed after `resetAfterBytes` bytes of the
 *              answer (an SSE /stream answer is cut mid-stream; a short answer loses its body),
 *              or, with the rule's `resetAfterMs`, that long after the answer began, whatever
 *              it carried (a quiet stream cut while its run goes on)
 *
 * Which requests: `rules`, each for a method, a path pattern and/or a job (the proxy learns which
 * thread is which job's from the `metadata.jobId` LangGraph requests carry), at most `times`
 * times; or, for requests no rule takes, `random`: each /threads and /runs request (of the jobs
 * `jobIds` matches) gets one of `kinds` with probability `rate`, from a PRNG seeded with `seed`.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export const FAULT_KINDS = ["status500", "status429", "slow", "malformed", "reset"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRule {
  fault: FaultKind;
  method?: string;
  path?: RegExp;
  jobId?: string;
  /** How many matching requests get the fault; default every one. */
  times?: number;
  /** For `slow`: this rule's delay instead of the proxy's `slowMs`. */
  slowMs?: number;
  /** For `reset`: cut the answer this long after it began rather than after `resetAfterBytes`. */
  resetAfterMs?: number;
}

export interface FaultProxyOptions {
  target: string;
  rules?: FaultRule[];
  /** Faults at random, for requests no rule takes; only for the jobs `jobIds` matches, if given. */
  random?: { seed: number; rate: number; kinds: readonly FaultKind[]; jobIds?: RegExp };
  slowMs?: number;
  resetAfterBytes?: number;
}

export interface InjectedFault {
  at: number;
  fault: FaultKind;
  method: string;
  path: string;
  jobId: string | undefined;
}

export interface FaultProxy {
  url: string;
  /** Every fault injected so far, in order. */
  injected: InjectedFault[];
  /** The LangGraph threads the job's requests named. */
  threadsOf(jobId: string): string[];
  close(): Promise<void>;
}

/** Where a request names its thread: /threads/<uuid>/… */
const THREAD_IN_PATH = /^\/threads\/([0-9a-f-]{36})/;
/** Requests a job's attempt makes; /ok, /info and the like are left alone by `random`. */
const JOB_REQUEST = /^\/(threads|runs)\b/;

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const rules = (options.rules ?? []).map((rule) => ({ ...rule, left: rule.times ?? Infinity }));
  const nextRandom = mulberry32(options.random?.seed ?? 0);
  const jobOfThread = new Map<string, string>();
  const injected: InjectedFault[] = [];
  const sockets = new Set<Socket>();
  // Held answers, so that close() lets go of them rather than leave timers behind.
  const timers = new Set<NodeJS.Timeout>();
  const hold = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => (timers.delete(timer), resolve()), ms);
      timers.add(timer);
    });

  const pickFault = (method: string, path: string, jobId: string | undefined): { fault: FaultKind; slowMs?: number; resetAfterMs?: number } | undefined => {
    const rule = rules.find(
      (r) => r.left > 0 && (!r.method || r.method === method) && (!r.path || r.path.test(path)) && (!r.jobId || r.jobId === jobId),
    );
    if (rule) {
      rule.left--;
      return rule;
    }
    const random = options.random;
    if (!random || !JOB_REQUEST.test(path) || (random.jobIds && !random.jobIds.test(jobId ?? ""))) return undefined;
    if (nextRandom() >= random.rate) return undefined;
    return { fault: random.kinds[Math.floor(nextRandom() * random.kinds.length)]! };
  };

  const server = createServer(async (req, res) => {
    const body = await readBody(req).catch(() => Buffer.alloc(0));
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const threadId = THREAD_IN_PATH.exec(path)?.[1];
    const jobId = learnJob(jobOfThread, threadId, body);
    const picked = pickFault(method, path, jobId);
    const fault = picked?.fault;
    if (fault) injected.push({ at: Date.now(), fault, method, path, jobId });

    if (fault === "status500") return answer(res, 500, { detail: "fault proxy: injected internal server error" });
    if (fault === "status429") return answer(res, 429, { detail: "fault proxy: injected rate limit" }, { "retry-after": "1" });
    if (fault === "slow") await hold(picked?.slowMs ?? options.slowMs ?? 2000);
    if (res.destroyed) return;

    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method, path, headers: { ...req.headers, host: target.host } },
      (answerFromLangGraph) => relay(answerFromLangGraph, res, fault, options.resetAfterBytes ?? 64, picked?.resetAfterMs),
    );
    upstream.on("error", (error) => {
      if (!res.headersSent) answer(res, 502, { detail: `fault proxy: ${error.message}` });
      else res.destroy();
    });
    res.on("close", () => upstream.destroy()); // the client went away: so does the forwarded request
    upstream.end(body);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    injected,
    threadsOf: (jobId) => [...jobOfThread].filter(([, job]) => job === jobId).map(([thread]) => thread),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function relay(from: IncomingMessage, to: ServerResponse, fault: FaultKind | undefined, resetAfterBytes: number, resetAfterMs?: number): void {
  if (fault === "malformed") {
    readBody(from).then(
      (text) => {
        const { "content-length": _length, "transfer-encoding": _encoding, ...headers } = from.headers;
        to.writeHead(from.statusCode ?? 502, headers);
        to.end(text.subarray(0, Math.max(1, Math.floor(text.length / 2))));
      },
      () => to.destroy(),
    );
    return;
  }
  to.writeHead(from.statusCode ?? 502, from.headers);
  if (fault !== "reset") {
    from.pipe(to);
    return;
  }
  if (resetAfterMs !== undefined) {
    to.flushHeaders();
    from.pipe(to);
    const timer = setTimeout(() => {
      from.destroy();
      to.socket?.destroy();
    }, resetAfterMs);
    to.on("close", () => clearTimeout(timer));
    return;
  }
  let sent = 0;
  from.on("data", (chunk: Buffer) => {
    if (to.destroyed) return;
    const room = resetAfterBytes - sent;
    to.write(chunk.subarray(0, Math.max(0, room)));
    sent += chunk.length;
    // Destroying the socket (not ending the response) is what a peer that crashes or a
    // dropped connection looks like: no terminating chunk, the stream just breaks.
    if (sent >= resetAfterBytes) {
      from.destroy();
      to.socket?.destroy();
    }
  });
  from.on("end", () => to.socket?.destroy()); // shorter than resetAfterBytes: cut all the same
}

/** The job a request belongs to: from its body's `metadata.jobId`, else from its thread. */
function learnJob(jobOfThread: Map<string, string>, threadId: string | undefined, body: Buffer): string | undefined {
  let jobId: string | undefined;
  try {
    // runs.create names the thread in its path, threads.create in its body; both carry the job id.
    const parsed = JSON.parse(body.toString("utf8")) as { metadata?: { jobId?: unknown }; thread_id?: unknown };
    if (typeof parsed?.metadata?.jobId === "string") jobId = parsed.metadata.jobId;
    const thread = threadId ?? (typeof parsed?.thread_id === "string" ? parsed.thread_id : undefined);
    if (jobId && thread) jobOfThread.set(thread, jobId);
  } catch {
    // Not JSON (or no body): a GET.
  }
  return jobId ?? (threadId ? jobOfThread.get(threadId) : undefined);
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}

function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence of faults. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
