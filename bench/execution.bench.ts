/**
 * End-to-end execution benchmark (issue #6, "real concurrency"): the whole stack driven over
 * HTTP as a client drives it, the Worker under wrangler's dev server and the LangGraph dev server
 * running the example graphs. Times come from the client's clock and from the graphs' own
 * `stepTimes` (Date.now() inside each node, on the same machine). Prints tables; it fails only
 * when a job ends other than completed, never on a time. A case that outruns its budget says
 * so, cancels what it left behind and lets the next case run.
 *
 * Cases, each Worker with its own MAX_CONCURRENCY and its own storage:
 *   1. head-of-line (5): a short job enqueued while a long one runs starts at once
 *   2. dispatch latency: (i) free slot (5), one job at a time; (ii) slot reuse (1), 40 at once
 *   3. throughput (5): the LangGraph SDK called directly vs the queue, direct-queue-direct
 *   4. 50 jobs of 10 s with MAX_CONCURRENCY=50: makespan against the ideal 10 s
 *
 * Sizes: BENCH_REPEATS, BENCH_LONG_NODE_MS, BENCH_DISPATCH_JOBS, BENCH_THROUGHPUT_JOBS,
 * BENCH_LONG_JOBS, BENCH_LONG_JOB_NODE_MS, BENCH_CASE_TIMEOUT_S (see the constants below).
 */
import { Client } from "@langchain/langgraph-sdk";
import { execFileSync } from "node:child_process";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { startLangGraphServer, type LangGraphServer } from "../scripts/langgraph-dev.mjs";
import { QueueClient, uniqueJobId, type JobEvent, type JobInput, type JobStatus } from "../test/e2e/api";
import { freePort, ROOT_DIR, startQueueWorker, type QueueWorker } from "../test/e2e/servers";

const setting = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const REPEATS = setting("BENCH_REPEATS", 5);
const LONG_NODE_MS = setting("BENCH_LONG_NODE_MS", 3000);
const DISPATCH_JOBS = setting("BENCH_DISPATCH_JOBS", 40);
const THROUGHPUT_JOBS = setting("BENCH_THROUGHPUT_JOBS", 150);
const LONG_JOBS = setting("BENCH_LONG_JOBS", 50);
const LONG_JOB_NODE_MS = setting("BENCH_LONG_JOB_NODE_MS", 5000);
const CASE_TIMEOUT_MS = setting("BENCH_CASE_TIMEOUT_S", 240) * 1000;
const CLIENTS = 5; // direct SDK clients, and concurrent enqueue requests
const JOBS_PER_WORKER = 64; // LangGraph dev server: runs executed at once

const SHORT_JOB = { type: "data_sync", payload: { recordCount: 3, delayMs: 20, instrument: true } } as const satisfies Omit<JobInput, "id">;
const QUEUES = { headOfLine: "bench-hol", freeSlot: "bench-free", throughput: "bench-throughput", slotReuse: "bench-reuse", longJobs: "bench-long" };
const LOG_DIR = join(ROOT_DIR, ".wrangler", "bench");

// ---- numbers and tables ----

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Nearest-rank percentile; NaN for no values. */
function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
const p50 = (values: number[]) => percentile(values, 50);
const p99 = (values: number[]) => percentile(values, 99);
const ms = (value: number) => (Number.isFinite(value) ? Math.round(value) : "—");
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

type Row = Record<string, string | number>;

function printTable(title: string, rows: Row[], note = ""): void {
  if (rows.length === 0) return console.log(`\n${title}\n(no rows)${note ? `\n${note}` : ""}\n`);
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const lines = [columns, columns.map(() => "---"), ...rows.map((row) => columns.map((c) => String(row[c] ?? "")))];
  console.log(`\n${title}\n\n${lines.map((cells) => `| ${cells.join(" | ")} |`).join("\n")}\n${note ? `\n${note}\n` : ""}`);
}

/** Each case's headline figures, printed once more against the targets at the end. */
const summary: Row[] = [];
const addSummary = (metric: string, value: string | number, target: string) => summary.push({ metric, measured: value, target });

// ---- the client side ----

interface GraphTimes {
  firstStartMs: number;
  lastEndMs: number;
}

/** When the job's run began its first node and ended its last, from the final state's `stepTimes` (every job here asks for them: `instrument: true`). */
function graphTimes(job: JobStatus): GraphTimes {
  const steps = Object.values((job.result?.stepTimes ?? {}) as Record<string, { startedAtMs: number; endedAtMs: number }>);
  if (steps.length === 0) throw new Error(`job ${job.jobId} completed without stepTimes in its result`);
  return { firstStartMs: Math.min(...steps.map((s) => s.startedAtMs)), lastEndMs: Math.max(...steps.map((s) => s.endedAtMs)) };
}

interface Stats {
  totalJobs: number;
  queuedJobs: number;
  runningJobs: number;
  completedJobs: number;
  failedJobs: number;
  cancelledJobs: number;
}
const stats = (client: QueueClient) => client.call<Stats>({ action: "stats" });

/** Runs `fn` over `items`, at most `limit` at a time, results in input order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await fn(items[index]!, index);
      }
    }),
  );
  return results;
}

class JobNotCompleted extends Error {}

/**
 * Polls `status` until the job ends. Returns it with the client time at which it was first seen
 * ended, or undefined when `untilMs` passes first; throws if it ended other than completed.
 */
async function waitCompleted(client: QueueClient, jobId: string, untilMs: number, intervalMs: number) {
  for (;;) {
    const job = await client.status(jobId);
    const seenAtMs = Date.now();
    if (job.status === "completed") return { job, seenAtMs };
    if (job.status === "failed" || job.status === "cancelled") throw new JobNotCompleted(`job ${jobId} ended ${job.status}: ${job.error}`);
    if (seenAtMs > untilMs) return undefined;
    await sleep(intervalMs);
  }
}

/** Polls `stats` every 100 ms until `count` jobs have ended; the client time when it saw them all completed, or undefined. */
async function waitAllCompleted(client: QueueClient, count: number, untilMs: number): Promise<number | undefined> {
  for (;;) {
    const s = await stats(client);
    const seenAtMs = Date.now();
    if (s.completedJobs + s.failedJobs + s.cancelledJobs >= count) {
      if (s.completedJobs < count) throw new JobNotCompleted(`${s.failedJobs} failed, ${s.cancelledJobs} cancelled of ${count} jobs`);
      return seenAtMs;
    }
    if (seenAtMs > untilMs) {
      console.log(`(last stats: ${JSON.stringify(s)})`);
      return undefined;
    }
    await sleep(100);
  }
}

/** A case out of time: say so, and cancel its leftovers so they do not hold up the next case. */
async function giveUp(what: string, client: QueueClient, jobIds: string[]): Promise<void> {
  console.log(`\n${what}: did not finish in ${CASE_TIMEOUT_MS / 1000} s; cancelling its unfinished jobs and moving on`);
  addSummary(what, `did not finish in ${CASE_TIMEOUT_MS / 1000} s`, "");
  await mapLimit(jobIds, CLIENTS, (jobId) => client.cancel(jobId).catch(() => undefined));
}

const enqueueAll = (client: QueueClient, jobs: JobInput[]) => mapLimit(jobs, CLIENTS, (job) => client.enqueue(job));

const statusesOf = (client: QueueClient, jobIds: string[]) => mapLimit(jobIds, CLIENTS, (jobId) => client.status(jobId));

// ---- the cases ----

/** 1. A short job enqueued 1.5 s after a long one should start at once and finish in its own time. */
async function headOfLine(client: QueueClient): Promise<void> {
  const untilMs = Date.now() + CASE_TIMEOUT_MS;
  const rows: Row[] = [];
  const firstNode: number[] = [];
  const lastEnd: number[] = [];
  const polled: number[] = [];
  const ownRun: number[] = [];
  for (let trial = 1; trial <= REPEATS; trial++) {
    const longId = uniqueJobId(`hol-long-${trial}`);
    const shortId = uniqueJobId(`hol-short-${trial}`);
    await client.enqueue({ id: longId, type: "content_generation", payload: { delayMs: LONG_NODE_MS, instrument: true } });
    await sleep(1500);
    await client.enqueue({ id: shortId, ...SHORT_JOB });
    const answeredMs = Date.now();
    const short = await waitCompleted(client, shortId, untilMs, 50);
    const long = short && (await waitCompleted(client, longId, untilMs, 200));
    if (!short || !long) {
      await giveUp("head-of-line", client, [shortId, longId]);
      break;
    }
    const s = graphTimes(short.job);
    const l = graphTimes(long.job);
    firstNode.push(s.firstStartMs - answeredMs);
    lastEnd.push(s.lastEndMs - answeredMs);
    polled.push(short.seenAtMs - answeredMs);
    ownRun.push(s.lastEndMs - s.firstStartMs);
    rows.push({
      trial,
      "(a) first node start": ms(s.firstStartMs - answeredMs),
      "(b) last node end": ms(s.lastEndMs - answeredMs),
      "(b) status says completed": ms(short.seenAtMs - answeredMs),
      "short job's own run": ms(s.lastEndMs - s.firstStartMs),
      "long job's last node end": ms(l.lastEndMs - answeredMs),
    });
  }
  rows.push({
    trial: "p50",
    "(a) first node start": ms(p50(firstNode)),
    "(b) last node end": ms(p50(lastEnd)),
    "(b) status says completed": ms(p50(polled)),
    "short job's own run": ms(p50(ownRun)),
  });
  printTable(
    `1. head-of-line, MAX_CONCURRENCY=5: long content_generation (3 nodes × ${LONG_NODE_MS} ms), short data_sync 1.5 s later; ms after the short job's enqueue was answered`,
    rows,
    "target: (a) p50 ≤ 100 ms; (b) about the short job's own run",
  );
  addSummary("1. short job behind a long one: first node start, p50", `${ms(p50(firstNode))} ms`, "≤ 100 ms");
  addSummary("1. short job behind a long one: completed (graph / status), p50", `${ms(p50(lastEnd))} / ${ms(p50(polled))} ms (own run ${ms(p50(ownRun))} ms)`, "≈ its own run");
}

/** 2 (i). An idle queue, one short job at a time: enqueue answered → first node start. */
async function freeSlotLatency(client: QueueClient): Promise<void> {
  const untilMs = Date.now() + CASE_TIMEOUT_MS;
  const latencies: number[] = [];
  for (let i = 0; i < DISPATCH_JOBS; i++) {
    const jobId = uniqueJobId(`free-${i}`);
    await client.enqueue({ id: jobId, ...SHORT_JOB });
    const answeredMs = Date.now();
    const done = await waitCompleted(client, jobId, untilMs, 50);
    if (!done) {
      await giveUp("2 (i) dispatch latency, free slot", client, [jobId]);
      break;
    }
    latencies.push(graphTimes(done.job).firstStartMs - answeredMs);
  }
  printDispatch(`2 (i). dispatch latency, free slot, MAX_CONCURRENCY=5: ${DISPATCH_JOBS} data_sync jobs one at a time; first node start − enqueue answered`, latencies);
  addSummary("2 (i). dispatch latency, free slot, p50 / p99", `${ms(p50(latencies))} / ${ms(p99(latencies))} ms`, "≤ 50 / ≤ 250 ms");
}

/** 2 (ii). One slot, many jobs queued: previous job's last node end → next job's first node start. */
async function slotReuseLatency(client: QueueClient): Promise<void> {
  const untilMs = Date.now() + CASE_TIMEOUT_MS;
  const jobs = Array.from({ length: DISPATCH_JOBS }, (_, i) => ({ id: uniqueJobId(`reuse-${i}`), ...SHORT_JOB }));
  const startedMs = Date.now();
  await enqueueAll(client, jobs);
  const doneMs = await waitAllCompleted(client, jobs.length, untilMs);
  if (doneMs === undefined) return giveUp("2 (ii) dispatch latency, slot reuse", client, jobs.map((j) => j.id));
  const runs = (await statusesOf(client, jobs.map((j) => j.id))).map(graphTimes).sort((a, b) => a.firstStartMs - b.firstStartMs);
  const gaps = runs.slice(1).map((run, i) => run.firstStartMs - runs[i]!.lastEndMs);
  const busy = runs.reduce((sum, run) => sum + run.lastEndMs - run.firstStartMs, 0);
  printDispatch(
    `2 (ii). dispatch latency, slot reuse, MAX_CONCURRENCY=1: ${DISPATCH_JOBS} data_sync jobs enqueued at once; next first node start − previous last node end`,
    gaps,
    `all done in ${ms(doneMs - startedMs)} ms, of which the graphs ran ${ms(busy)} ms`,
  );
  addSummary("2 (ii). dispatch latency, slot reuse, p50 / p99", `${ms(p50(gaps))} / ${ms(p99(gaps))} ms`, "≤ 50 / ≤ 250 ms");
}

function printDispatch(title: string, latencies: number[], note = ""): void {
  const row = { jobs: latencies.length, "min": ms(Math.min(...latencies)), p50: ms(p50(latencies)), p99: ms(p99(latencies)), max: ms(Math.max(...latencies)) };
  printTable(`${title} (ms)`, [row], `target: p50 ≤ 50 ms, p99 ≤ 250 ms${note ? `; ${note}` : ""}`);
}

/** 3. The same short runs through the SDK directly and through the queue, side by side. */
async function throughput(client: QueueClient, langgraphUrl: string): Promise<void> {
  const sdk = new Client({ apiUrl: langgraphUrl });
  const rows: Row[] = [];
  const direct: number[] = [];
  let queueRate = NaN;
  for (const mode of ["direct", "queue", "direct"] as const) {
    const rate = mode === "direct" ? await directRuns(sdk) : await queueRuns(client);
    if (rate === undefined) continue;
    if (mode === "direct") direct.push(rate);
    else queueRate = rate;
    rows.push({ mode, jobs: THROUGHPUT_JOBS, "runs/s": rate.toFixed(2) });
  }
  const ratio = queueRate / mean(direct);
  printTable(
    `3. throughput: ${THROUGHPUT_JOBS} data_sync jobs (3 nodes × 20 ms); direct = ${CLIENTS} SDK clients (threads.create, runs.stream, runs.get); queue = MAX_CONCURRENCY=5`,
    rows,
    `queue ÷ mean(direct) = ${Number.isFinite(ratio) ? ratio.toFixed(2) : "—"} (target ≥ 0.9)`,
  );
  addSummary("3. throughput, queue ÷ mean(direct)", Number.isFinite(ratio) ? `${ratio.toFixed(2)} (${queueRate.toFixed(2)} vs ${mean(direct).toFixed(2)} runs/s)` : "—", "≥ 0.9");
}

/** Runs/s of THROUGHPUT_JOBS runs made by CLIENTS SDK clients, each run streamed to its end. */
async function directRuns(sdk: Client): Promise<number | undefined> {
  const untilMs = Date.now() + CASE_TIMEOUT_MS;
  const startedMs = Date.now();
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < THROUGHPUT_JOBS && Date.now() < untilMs) {
        next++;
        const thread = await sdk.threads.create();
        let runId: string | undefined;
        for await (const chunk of sdk.runs.stream(thread.thread_id, SHORT_JOB.type, { input: SHORT_JOB.payload, streamMode: ["updates", "custom"] })) {
          if (chunk.event === "metadata") runId = (chunk.data as { run_id: string }).run_id;
          if (chunk.event === "error") throw new JobNotCompleted(`direct run failed: ${JSON.stringify(chunk.data)}`);
        }
        if (!runId) throw new JobNotCompleted("direct run streamed no metadata event");
        const run = await sdk.runs.get(thread.thread_id, runId);
        if (run.status !== "success") throw new JobNotCompleted(`direct run ${runId} ended ${run.status}`);
        done++;
      }
    }),
  );
  if (done < THROUGHPUT_JOBS) {
    console.log(`\n3. throughput, direct: did not finish in ${CASE_TIMEOUT_MS / 1000} s (${done} of ${THROUGHPUT_JOBS} runs)`);
    return undefined;
  }
  return THROUGHPUT_JOBS / ((Date.now() - startedMs) / 1000);
}

/** Runs/s of THROUGHPUT_JOBS jobs through the queue, first enqueue → `stats` showing all completed; then where the time went. */
async function queueRuns(client: QueueClient): Promise<number | undefined> {
  const untilMs = Date.now() + CASE_TIMEOUT_MS;
  const jobs = Array.from({ length: THROUGHPUT_JOBS }, (_, i) => ({ id: uniqueJobId(`tput-${i}`), ...SHORT_JOB }));
  const startedMs = Date.now();
  await enqueueAll(client, jobs);
  const doneMs = await waitAllCompleted(client, jobs.length, untilMs);
  if (doneMs === undefined) {
    await giveUp("3. throughput, queue", client, jobs.map((j) => j.id));
    return undefined;
  }
  const ids = jobs.map((j) => j.id);
  const [statuses, histories] = await Promise.all([statusesOf(client, ids), mapLimit(ids, CLIENTS, (id) => client.history(id))]);
  printStages(statuses.map((status, i) => ({ graph: graphTimes(status), events: histories[i]! })));
  return THROUGHPUT_JOBS / ((doneMs - startedMs) / 1000);
}

/**
 * Where a queued job's time goes: each job's history events and its graph's first node start and
 * last node end, in time order (repeats of one event folded into the first); the median gap of
 * each consecutive pair, by pair, rows in order of when the pair typically begins. Whatever the
 * events are called.
 */
function printStages(jobs: { graph: GraphTimes; events: JobEvent[] }[]): void {
  const gaps = new Map<string, number[]>();
  const begins = new Map<string, number[]>(); // the pair's first event, ms after the job's first event
  for (const { graph, events } of jobs) {
    const timeline = [
      ...events.map((e) => ({ name: e.event, atMs: Date.parse(e.at) })),
      { name: "graph: first node start", atMs: graph.firstStartMs },
      { name: "graph: last node end", atMs: graph.lastEndMs },
    ]
      .sort((a, b) => a.atMs - b.atMs)
      .filter((event, i, all) => i === 0 || event.name !== all[i - 1]!.name);
    for (let i = 1; i < timeline.length; i++) {
      const key = `${timeline[i - 1]!.name} → ${timeline[i]!.name}`;
      gaps.set(key, [...(gaps.get(key) ?? []), timeline[i]!.atMs - timeline[i - 1]!.atMs]);
      begins.set(key, [...(begins.get(key) ?? []), timeline[i - 1]!.atMs - timeline[0]!.atMs]);
    }
  }
  const rows = [...gaps]
    .sort(([a], [b]) => p50(begins.get(a)!) - p50(begins.get(b)!))
    .map(([stage, values]) => ({ stage, jobs: values.length, "p50 ms": ms(p50(values)), "p99 ms": ms(p99(values)) }));
  printTable("3. throughput, queue: time between consecutive events of a job (history times are the Worker's clock, graph times LangGraph's)", rows);
}

/** 4. LONG_JOBS jobs of 2 × LONG_JOB_NODE_MS with as many slots: all should run at once. */
async function manyLongJobs(client: QueueClient): Promise<void> {
  const untilMs = Date.now() + CASE_TIMEOUT_MS;
  const jobs = Array.from({ length: LONG_JOBS }, (_, i) => ({
    id: uniqueJobId(`long-${i}`), type: "research_workflow", payload: { delayMs: LONG_JOB_NODE_MS, instrument: true },
  }) satisfies JobInput);
  const startedMs = Date.now();
  await enqueueAll(client, jobs);
  const doneMs = await waitAllCompleted(client, jobs.length, untilMs);
  if (doneMs === undefined) return giveUp("4. many long jobs", client, jobs.map((j) => j.id));
  const runs = (await statusesOf(client, jobs.map((j) => j.id))).map(graphTimes);
  const ideal = 2 * LONG_JOB_NODE_MS;
  const starts = runs.map((run) => run.firstStartMs - startedMs);
  const firstEnd = Math.min(...runs.map((run) => run.lastEndMs));
  const row = {
    "makespan (status)": ms(doneMs - startedMs),
    "makespan (graph)": ms(Math.max(...runs.map((run) => run.lastEndMs)) - startedMs),
    ideal,
    "makespan ÷ ideal": ((doneMs - startedMs) / ideal).toFixed(2),
    "first node start p50 / max": `${ms(p50(starts))} / ${ms(Math.max(...starts))}`,
    "peak runs at once": peakOverlap(runs),
    "started before any ended": runs.filter((run) => run.firstStartMs < firstEnd).length,
  };
  printTable(`4. ${LONG_JOBS} research_workflow jobs (2 nodes × ${LONG_JOB_NODE_MS} ms), MAX_CONCURRENCY=50; ms from the first enqueue`, [row]);
  addSummary(`4. ${LONG_JOBS} × ${ideal / 1000} s jobs: makespan, peak overlap`, `${ms(doneMs - startedMs)} ms, ${row["peak runs at once"]} at once`, `≈ ${ideal} ms, ${LONG_JOBS} at once`);
}

function peakOverlap(runs: GraphTimes[]): number {
  const edges = runs.flatMap((run) => [{ atMs: run.firstStartMs, delta: 1 }, { atMs: run.lastEndMs, delta: -1 }]);
  edges.sort((a, b) => a.atMs - b.atMs || a.delta - b.delta); // an end before a start at the same ms
  let running = 0;
  let peak = 0;
  for (const edge of edges) peak = Math.max(peak, (running += edge.delta));
  return peak;
}

// ---- the servers ----

let langgraph: LangGraphServer | undefined;
let langgraphLog: WriteStream | undefined;
const tempDirs: string[] = [];

async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `qw-bench-${label}-`));
  tempDirs.push(dir);
  return dir;
}

/** `run_queue_ms` of every "Starting background run" the dev server logged: how long each run waited for a worker loop. */
async function langgraphPickupMs(): Promise<number[]> {
  const log = await readFile(join(LOG_DIR, "langgraph.log"), "utf8").catch(() => "");
  return [...log.replace(/\x1b\[[0-9;]*m/g, "").matchAll(/run_queue_ms: (\d+)/g)].map((match) => Number(match[1]));
}

/** Starts a Worker with `maxConcurrency` before the block's cases, stops it after them. */
function withWorker(maxConcurrency: number, cases: (client: (queueName: string) => QueueClient) => void): void {
  describe(`MAX_CONCURRENCY=${maxConcurrency}`, () => {
    let worker: QueueWorker | undefined;
    beforeAll(async () => {
      worker = await startQueueWorker({
        name: `bench-mc${maxConcurrency}`,
        langgraphUrl: langgraph!.url,
        persistDir: await tempDir(`mc${maxConcurrency}`),
        vars: { MAX_CONCURRENCY: String(maxConcurrency), QUEUE_NAMES: Object.values(QUEUES).join(",") },
      });
    });
    afterAll(async () => {
      await worker?.stop();
    });
    cases((queueName) => new QueueClient(worker!.url, queueName));
  });
}

beforeAll(async () => {
  mkdirSync(LOG_DIR, { recursive: true });
  langgraphLog = createWriteStream(join(LOG_DIR, "langgraph.log"), { flags: "w" });
  langgraph = await startLangGraphServer({
    port: await freePort(),
    dataDir: await tempDir("langgraph"),
    stdio: "pipe",
    jobsPerWorker: JOBS_PER_WORKER,
    onSpawn: (child) => {
      child.stdout?.pipe(langgraphLog!, { end: false });
      child.stderr?.pipe(langgraphLog!, { end: false });
    },
  });
  const head = (() => {
    try {
      const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT_DIR, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
      const sha = git("rev-parse", "--short", "HEAD");
      const dirty = git("status", "--porcelain", "--", "src", "wrangler.jsonc");
      return `${sha}${dirty ? ` + uncommitted changes in src/ (${dirty.split("\n").length} files)` : ""}`;
    } catch {
      return "not a git checkout";
    }
  })();
  console.log(
    [
      "\nexecution bench: npm run bench:execution (vitest run --config bench/vitest.execution.config.ts)",
      `code: ${ROOT_DIR} at ${head}`,
      `LangGraph: langgraphjs dev --n-jobs-per-worker ${JOBS_PER_WORKER} at ${langgraph.url} (log ${join(LOG_DIR, "langgraph.log")})`,
      "Worker: wrangler.jsonc under unstable_startWorker (test/e2e/servers.ts), platform flavour, one Worker per MAX_CONCURRENCY (logs .wrangler/e2e/worker-bench-*.log)",
      `settings: BENCH_REPEATS=${REPEATS} BENCH_LONG_NODE_MS=${LONG_NODE_MS} BENCH_DISPATCH_JOBS=${DISPATCH_JOBS} BENCH_THROUGHPUT_JOBS=${THROUGHPUT_JOBS} ` +
        `BENCH_LONG_JOBS=${LONG_JOBS} BENCH_LONG_JOB_NODE_MS=${LONG_JOB_NODE_MS} BENCH_CASE_TIMEOUT_S=${CASE_TIMEOUT_MS / 1000}`,
    ].join("\n"),
  );
});

afterAll(async () => {
  await langgraph?.stop();
  await new Promise((resolve) => (langgraphLog ? langgraphLog.end(resolve) : resolve(undefined)));
  const pickup = await langgraphPickupMs();
  if (pickup.length) addSummary("LangGraph dev server, all runs: run created → a worker loop starts it, p50 / p99 / max", `${p50(pickup)} / ${p99(pickup)} / ${Math.max(...pickup)} ms (${pickup.length} runs)`, "");
  printTable("summary (targets from issue #6)", summary);
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

withWorker(5, (client) => {
  it("1. head-of-line", () => headOfLine(client(QUEUES.headOfLine)));
  it("2 (i). dispatch latency, free slot", () => freeSlotLatency(client(QUEUES.freeSlot)));
  it("3. throughput, direct vs queue", () => throughput(client(QUEUES.throughput), langgraph!.url));
});

withWorker(1, (client) => {
  it("2 (ii). dispatch latency, slot reuse", () => slotReuseLatency(client(QUEUES.slotReuse)));
});

withWorker(50, (client) => {
  it("4. many long jobs at once", () => manyLongJobs(client(QUEUES.longJobs)));
});
