/**
 * What live-status watchers of one running job cost, and how soon a change reaches them
 * (`npm run bench:watchers`): `GET …/jobs/{jobId}/events` streams, each a hibernatable WebSocket
 * from the Worker (src/http/events.ts) to the queue's coordinator, which pushes a `transition`
 * and a `status` after every committed change (src/coordinator/watchers.ts).
 *
 * Each round takes every watcher count in turn (0, 1, 10 and 100 by default), each with a job of
 * its own, running (claimed) before its watchers connect:
 *
 *   open      the streams, one after another, each through the Worker (exports.default.fetch),
 *             timed to its first event (the status at once)
 *   changes   BENCH_WATCHERS_REPORTS progress reports, one after another, every
 *             BENCH_WATCHERS_STEP_EVERY-th with a new step (a transition too); each report RPC
 *             timed, and each watcher's receipt of the status it caused timed from just before it
 *   inside    BENCH_WATCHERS_INSIDE more reports called inside the object, timed together: the
 *             coordinator's own work per change, push included, without the RPC, the wait for
 *             its write to be stored, or the Worker's streams (which share workerd's one thread)
 *   complete  the job completes: each watcher gets the transition and the final status, then its
 *             stream ends
 *
 * Around each phase the Node half reads workerd's RSS and CPU time from /proc. The coordinator's
 * requests are counted from what the bench itself calls and from the sockets the coordinator
 * holds (`getWebSockets`); what polling would cost is derived from one poll's measured cost.
 * Then BENCH_WATCHERS_POLLS `status` polls, through the Worker and through RPC, are timed.
 *
 * Prints numbers and asserts no time; it fails only when the bench cannot run (a refused call,
 * a stream that does not open). What each watcher received is checked and printed: every status
 * in order, progress never down, every transition once, the stream ended with the job.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { inject, it } from "vitest";
import type { QueueCoordinator } from "../src/queue-do";
import { benchJob } from "./scale/queue-model";
import type { WorkerdSample } from "./watchers/protocol";
import { watchersReport, type PhaseResult, type PollCost } from "./watchers/report";

type Stub = DurableObjectStub<QueueCoordinator>;

const runner = inject("watchersBench");
const { counts, rounds, reports, inside, stepEvery, polls } = runner.settings;
const QUEUE = "watchers-bench";
const ENDPOINT = "https://queue.test/functions/v1/queue-worker";
const HEADERS = { authorization: "Bearer bench-key" };
/** A watcher that has not had an expected event after this long has missed it. */
const WAIT_MS = 10_000;
/** Let the streams' last writes and closes settle before reading memory or sockets. */
const SETTLE_MS = 200;

const coordinator = () => env.QUEUE_COORDINATOR.getByName(QUEUE) as Stub;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function control<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${runner.url}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) throw new Error(`the Node half failed ${method} ${path}: ${await response.text()}`);
  return (await response.json()) as T;
}

const say = (line: string) => control("POST", "/say", { line });

/** V8's full collection, exposed by --expose-gc (bench/vitest.watchers.config.ts). */
const collectGarbage = (globalThis as { gc?: () => void }).gc;

/** RSS and CPU time of the workerd process(es), read by the Node half from /proc; after a full collection when `collect`. */
async function sample(collect = false): Promise<WorkerdSample> {
  if (collect && collectGarbage) {
    // Twice, a little apart: the streams' last writes settle, and what the first pass freed is swept.
    collectGarbage();
    await sleep(20);
    collectGarbage();
  }
  const answer = await control<WorkerdSample>("GET", "/sample");
  if (answer.processes === 0) throw new Error("found no workerd process below vitest's");
  return answer;
}

/** The sockets the coordinator holds for a job's watchers: one per stream, each opened by an upgrade request. */
const socketsAt = (queue: Stub, jobId: string) => runInDurableObject(queue, (_, state) => state.getWebSockets(`job:${jobId}`).length);

/**
 * A watcher waiting for its next event, until `untilMs`. One watchdog interval for the whole run
 * expires them, rather than a timer per wait: in a test inside workerd every setTimeout keeps
 * about 260 bytes for good, cleared or not, which at 100 watchers × 76 changes a job grew workerd
 * by about 2 MiB a job and hid what the streams themselves hold.
 */
interface Wait {
  untilMs: number;
  resolve: (arrived: boolean) => void;
}
const pendingWaits = new Set<Wait>();

function expireWaits(): void {
  const now = performance.now();
  for (const wait of pendingWaits) {
    if (now < wait.untilMs) continue;
    pendingWaits.delete(wait);
    wait.resolve(false);
  }
}

interface Received {
  event: string;
  id?: string;
  data: any;
  /** performance.now() when the chunk that completed it was read. */
  atMs: number;
}

/** One stream, read as it comes: every event stamped with the time its chunk arrived. */
class Watcher {
  readonly events: Received[] = [];
  endedAtMs: number | null = null;
  failure: string | null = null;
  /** Events before this one have been matched to a change. */
  private cursor = 0;
  private waiting: Wait[] = [];

  constructor(response: Response) {
    void this.read(response.body!);
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const chunk = await reader.read();
        const atMs = performance.now();
        if (chunk.done) {
          this.endedAtMs = atMs;
          break;
        }
        buffer += chunk.value;
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map<string, string>();
          for (const line of block.split("\n")) {
            if (line === "" || line.startsWith(":")) continue; // a keepalive comment
            const colon = line.indexOf(":");
            fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
          }
          const data = fields.get("data");
          if (data === undefined) continue; // `retry:`
          this.events.push({ event: fields.get("event") ?? "message", id: fields.get("id"), data: JSON.parse(data), atMs });
        }
        this.wake();
      }
    } catch (error) {
      this.failure = String(error);
      this.endedAtMs = performance.now();
    }
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const wait of waiting) {
      pendingWaits.delete(wait);
      wait.resolve(true);
    }
  }

  /** Resolves when something arrives (true) or after WAIT_MS (false). */
  private arrival(): Promise<boolean> {
    return new Promise((resolve) => {
      const wait: Wait = { untilMs: performance.now() + WAIT_MS, resolve };
      this.waiting.push(wait);
      pendingWaits.add(wait);
    });
  }

  /** The next status not yet matched to a change; null if none came within WAIT_MS, or the stream ended first. */
  async nextStatus(): Promise<Received | null> {
    for (;;) {
      for (let i = this.cursor; i < this.events.length; i++) {
        if (this.events[i]!.event !== "status") continue;
        this.cursor = i + 1;
        return this.events[i]!;
      }
      if (this.endedAtMs !== null || !(await this.arrival())) return null;
    }
  }

  /** Whether the stream ended within WAIT_MS. */
  async end(): Promise<boolean> {
    while (this.endedAtMs === null) if (!(await this.arrival())) return false;
    return true;
  }
}

async function openWatcher(jobId: string): Promise<{ watcher: Watcher; connectMs: number }> {
  const started = performance.now();
  const response = await exports.default.fetch(`${ENDPOINT}/jobs/${jobId}/events?queueName=${QUEUE}`, { headers: HEADERS });
  if (response.status !== 200) throw new Error(`GET …/jobs/${jobId}/events answered ${response.status}: ${await response.text()}`);
  const watcher = new Watcher(response);
  const first = await watcher.nextStatus();
  if (!first) throw new Error(`the stream of ${jobId} sent no status within ${WAIT_MS} ms`);
  return { watcher, connectMs: first.atMs - started };
}

/** What a watcher should have received: the status at once, then one per change in order, transitions numbered on, the end. */
function checkWatcher(watcher: Watcher, changes: number, steps: number): string | null {
  const statuses = watcher.events.filter((e) => e.event === "status");
  const transitions = watcher.events.filter((e) => e.event === "transition");
  const problems: string[] = [];
  if (watcher.failure) problems.push(`its stream failed: ${watcher.failure}`);
  // The first status is the one sent at once (progress 0); then one per report (progress k) and the final one.
  const progress = statuses.map((s) => s.data.progress as number);
  const expected = [0, ...Array.from({ length: changes }, (_, k) => k + 1), 100];
  if (progress.join() !== expected.join()) {
    const missed = expected.filter((p) => !progress.includes(p));
    problems.push(`status progress ${missed.length > 0 ? `missed ${missed.join(", ")}` : `out of order: ${progress.join(", ")}`}`);
  }
  if (progress.some((p, i) => i > 0 && p < progress[i - 1]!)) problems.push("progress went down");
  if (statuses.at(-1)?.data.status !== "completed") problems.push(`last status ${statuses.at(-1)?.data.status}, not completed`);
  const ids = transitions.map((t) => Number(t.id));
  const firstId = Number(statuses[0]?.id);
  if (transitions.length !== steps + 1 || ids.some((id, i) => id !== firstId + i + 1)) {
    problems.push(`transitions ${transitions.map((t) => `${t.id}:${t.data.event}`).join(", ")}; expected ${steps} step changes and completed, numbered from ${firstId + 1}`);
  }
  if (transitions.at(-1)?.data.event !== "completed") problems.push("the last transition is not completed");
  if (watcher.endedAtMs === null) problems.push("its stream did not end with the job");
  return problems.length > 0 ? problems.join("; ") : null;
}

/** One job watched by `count` streams, from claim to its end. */
async function phase(queue: Stub, count: number, label: string): Promise<PhaseResult> {
  const jobId = `watched-${count}-${crypto.randomUUID()}`;
  const enqueued = await queue.enqueue(benchJob(jobId, "medium"));
  if (!enqueued.ok) throw new Error(`enqueue of ${jobId}: ${enqueued.message}`);
  const claimed = await queue.claim(jobId, 1);
  if (!claimed.ok) throw new Error(`claim of ${jobId}: ${claimed.message}`);
  const claimedAtMs = performance.now();
  let rpcCalls = 2;
  await sleep(SETTLE_MS);
  const running = await sample(true);

  const watchers: Watcher[] = [];
  const connectMs: number[] = [];
  for (let n = 0; n < count; n++) {
    const opened = await openWatcher(jobId);
    watchers.push(opened.watcher);
    connectMs.push(opened.connectMs);
  }
  const openCpuMs = (await sample()).cpuMs - running.cpuMs;
  await sleep(SETTLE_MS);
  const socketsOpen = await socketsAt(queue, jobId);
  const ioBefore = await queue.storageIo();
  const open = await sample(true);

  const reportMs: number[] = [];
  const delaysMs: number[] = [];
  let missed = 0;
  /** Each watcher's next status, checked with `matches`; with `started`, its receipt timed from then (just before the change's RPC). */
  const receipts = async (matches: (status: any) => boolean, started?: number) => {
    for (const status of await Promise.all(watchers.map((w) => w.nextStatus()))) {
      if (!status || !matches(status.data)) missed++;
      else if (started !== undefined) delaysMs.push(status.atMs - started);
    }
  };
  let steps = 0;
  const update = (k: number) => {
    const step = k % stepEvery === 0 ? `step-${k / stepEvery}` : undefined;
    if (step) steps++;
    return { progress: k, ...(step && { currentStep: step }) };
  };
  for (let k = 1; k <= reports; k++) {
    const change = update(k);
    const started = performance.now();
    const outcome = await queue.report(jobId, 1, change);
    reportMs.push(performance.now() - started);
    rpcCalls++;
    if (!outcome.ok) throw new Error(`report ${k} of ${jobId}: ${outcome.message}`);
    await receipts((status) => status.progress === k, started);
  }
  const reportsCpuMs = (await sample()).cpuMs - open.cpuMs;
  const ioAfter = await queue.storageIo();
  const afterReports = await sample(true);

  // The coordinator's own work per change, push included, without the RPC, the wait for the write
  // to be stored, or the Worker's streams (which run only once the object yields, after the loop).
  const insideMs = await runInDurableObject(queue, async (instance: QueueCoordinator) => {
    const started = performance.now();
    for (let k = reports + 1; k <= reports + inside; k++) {
      const outcome = await instance.report(jobId, 1, update(k));
      if (!outcome.ok) throw new Error(`report ${k} of ${jobId} inside the object: ${outcome.message}`);
    }
    return performance.now() - started;
  });
  for (let k = reports + 1; k <= reports + inside; k++) await receipts((status) => status.progress === k);

  const started = performance.now();
  const completed = await queue.complete(jobId, 1, { answer: 42 });
  const completeMs = performance.now() - started;
  rpcCalls++;
  if (!completed.ok) throw new Error(`complete of ${jobId}: ${completed.message}`);
  const jobMs = performance.now() - claimedAtMs;
  await receipts((status) => status.status === "completed", started);
  const unended = (await Promise.all(watchers.map((w) => w.end()))).filter((ended) => !ended).length;
  await sleep(SETTLE_MS);
  const socketsAfter = await socketsAt(queue, jobId);
  const closed = await sample(true);

  const problems = watchers.map((w) => checkWatcher(w, reports + inside, steps)).filter((p): p is string => p !== null);
  const result: PhaseResult = {
    watchers: count, jobId, connectMs, openCpuMs, reportMs, insideMs, insideReports: inside, completeMs, delaysMs, missed, unended, problems,
    changes: reports + inside + 1, steps, reportsCpuMs, jobMs,
    rowsRead: (ioAfter.rowsRead - ioBefore.rowsRead) / reports, rowsWritten: (ioAfter.rowsWritten - ioBefore.rowsWritten) / reports,
    rpcCalls: rpcCalls + 1, // + the enqueue
    socketsOpen, socketsAfter, eventsReceived: watchers.reduce((sum, w) => sum + w.events.length, 0),
    memory: { running, open, afterReports, closed },
  };
  await say(
    `${label}: ${count} watchers, ${result.changes} changes; report RPC mean ${mean(reportMs).toFixed(2)} ms, inside the object ${(insideMs / inside).toFixed(2)} ms; ` +
      `${count > 0 ? `delay p50 ${percentile(delaysMs, 0.5).toFixed(0)} ms, ` : ""}${problems.length === 0 && missed === 0 ? "nothing missed" : `${missed} missed`}`,
  );
  return result;
}

const mean = (values: number[]) => (values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length);
const percentile = (values: number[], q: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
};

/** What one `status` poll costs: through the Worker over HTTP as a client polls, and the coordinator's RPC alone. */
async function pollCost(queue: Stub): Promise<PollCost> {
  const jobId = `polled-${crypto.randomUUID()}`;
  const enqueued = await queue.enqueue(benchJob(jobId, "medium"));
  if (!enqueued.ok) throw new Error(`enqueue of ${jobId}: ${enqueued.message}`);
  const claimed = await queue.claim(jobId, 1);
  if (!claimed.ok) throw new Error(`claim of ${jobId}: ${claimed.message}`);
  const body = JSON.stringify({ action: "status", jobId, queueName: QUEUE });
  const time = async (call: () => Promise<void>) => {
    const times: number[] = [];
    const before = await sample();
    for (let n = 0; n < polls; n++) {
      const started = performance.now();
      await call();
      times.push(performance.now() - started);
    }
    const cpuMs = ((await sample()).cpuMs - before.cpuMs) / polls;
    return { medianMs: percentile(times, 0.5), meanMs: mean(times), p99Ms: percentile(times, 0.99), cpuMs };
  };
  const http = await time(async () => {
    const response = await exports.default.fetch(ENDPOINT, { method: "POST", headers: { ...HEADERS, "content-type": "application/json" }, body });
    if (response.status !== 200) throw new Error(`status over HTTP answered ${response.status}: ${await response.text()}`);
    await response.arrayBuffer();
  });
  const rpc = await time(async () => {
    const status = await queue.status(jobId);
    if (!status.ok) throw new Error(`status of ${jobId}: ${status.message}`);
  });
  const completed = await queue.complete(jobId, 1, null);
  if (!completed.ok) throw new Error(`complete of ${jobId}: ${completed.message}`);
  return { polls, http, rpc };
}

async function measure(): Promise<void> {
  const queue = coordinator();
  if (!collectGarbage) await say("gc() is not exposed (MINIFLARE_WORKERD_V8_FLAGS=--expose-gc): memory is read without collecting the garbage first");
  await say(`settings: counts ${counts.join(", ")}; ${rounds} rounds; ${reports} reports by RPC and ${inside} inside the object per job, a new step every ${stepEvery}; ${polls} polls`);
  // workerd warms up (the Worker's routes, the coordinator, the streams) on a throwaway job with
  // the most watchers: only its memory is reported, as the first time grows workerd's heap and buffers.
  const warmUp = await phase(queue, Math.max(...counts), "warm-up");
  const results: PhaseResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const count of counts) results.push(await phase(queue, count, `round ${round}/${rounds}`));
  }
  const poll = await pollCost(queue);
  await say(`a status poll: ${poll.http.meanMs.toFixed(2)} ms through the Worker, ${poll.rpc.meanMs.toFixed(2)} ms by RPC`);
  await control("POST", "/report", { markdown: watchersReport(results, warmUp, poll, runner), raw: { settings: runner.settings, warmUp, results, poll } });
}

it("measures what watchers of one running job cost, and how soon a change reaches them", async () => {
  const watchdog = setInterval(expireWaits, 250);
  try {
    await measure();
  } finally {
    clearInterval(watchdog);
  }
});
