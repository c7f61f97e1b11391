/**
 * Issue #8, target 2 (scale): what enqueue, dispatch, `status` (with `queuePosition`) and `stats`
 * cost with 10, 1,000, 10,000 and 100,000 jobs waiting (BENCH_SCALE_DEPTHS), and how much
 * memory workerd holds meanwhile. Target: the deepest figure within 1.5× of the shallowest.
 *
 * For each depth, a fresh queue has every slot taken by a running job and is then filled with
 * enqueueBatch, so the jobs wait. Then, in each round, per operation (BENCH_SCALE_CALLS calls):
 *
 *   enqueue (low)    a new job at the back of the queue; cancelled again, untimed
 *   enqueue (high)   a new job at the back of the high lane; cancelled again, untimed
 *   status           of the last job in the queue: its queuePosition is the depth
 *   stats            the queue's counters
 *   complete         a running job completes: its slot goes to the best waiting job (dispatch)
 *   claim            that dispatched job is taken on; a job of its priority replaces it, untimed
 *
 * A throwaway pass on a small queue comes first, so the first depth does not also pay for
 * warming workerd up.
 * Prints numbers and never fails on a time; it fails when a job is lost, dispatched out of order
 * or answered a wrong position. The Node half (bench/scale/setup.ts) reads workerd's memory,
 * prints the report and writes it to .wrangler/bench/scale/results.md.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { inject, it } from "vitest";
import type { QueueCoordinator } from "../src/queue-do";
import { Meter } from "./scale/meter";
import type { MemoryAnswer } from "./scale/protocol";
import { benchJob, fillPriority, QueueModel, type Priority } from "./scale/queue-model";
import { scaleReport, type DepthResult, type MemoryFigures } from "./scale/report";

type Stub = DurableObjectStub<QueueCoordinator>;

const runner = inject("scaleBench");
const { depths } = runner.settings;
const BATCH = 100;

/**
 * Every call that changes state passes `now` a year ahead. Nothing here heartbeats the running
 * jobs as run followers would, so their leases would expire mid-bench and the alarm would
 * shuffle the queue; a year ahead, the alarm is due long after the bench is over.
 */
const YEAR_MS = 365 * 86_400_000;
const clock = () => Date.now() + YEAR_MS;

async function control<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${runner.url}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) throw new Error(`the Node half failed ${method} ${path}: ${await response.text()}`);
  return (await response.json()) as T;
}

const say = (line: string) => control("POST", "/say", { line });

/** RSS of the workerd process(es), read by the Node half from /proc. */
async function workerdMemory(): Promise<MemoryFigures> {
  const processes = await control<MemoryAnswer>("GET", "/memory");
  if (processes.length === 0) throw new Error("found no workerd process below vitest's");
  const sumMiB = (kiB: number[]) => kiB.reduce((a, b) => a + b, 0) / 1024;
  return { rssMiB: sumMiB(processes.map((p) => p.rssKiB)), peakRssMiB: sumMiB(processes.map((p) => p.peakRssKiB)), processes: processes.length };
}

const databaseMiB = (queue: Stub) => runInDurableObject(queue, (_, state) => state.storage.sql.databaseSize / 2 ** 20);

async function enqueueNew(queue: Stub, model: QueueModel, id: string, priority: Priority, meter?: Meter, operation = ""): Promise<void> {
  const expected = model.positionOfNew(priority);
  const call = () => queue.enqueue(benchJob(id, priority), clock());
  const outcome = await (meter ? meter.time(operation, call) : call());
  if (!outcome.ok || !outcome.created) throw new Error(`enqueue of ${id}: ${JSON.stringify(outcome)}`);
  if (outcome.data.queuePosition !== expected) {
    throw new Error(`${id} (${priority}) was answered position ${outcome.data.queuePosition}, expected ${expected} (waiting: ${model.describe()})`);
  }
  model.add(id, priority);
}

/** Takes every slot: MAX_CONCURRENCY jobs dispatched and claimed (attempt 1), so that what follows waits. */
async function occupySlots(queue: Stub, concurrency: number): Promise<string[]> {
  const slots = Array.from({ length: concurrency }, (_, i) => `busy-${i}`);
  const outcome = await queue.enqueueBatch(slots.map((id) => benchJob(id, "high")), clock());
  if (!outcome.ok) throw new Error(`enqueueBatch of the busy jobs: ${outcome.message}`);
  for (const id of slots) {
    const claimed = await queue.claim(id, 1, clock());
    if (!claimed.ok) throw new Error(`claim of ${id}: ${claimed.message}`);
  }
  return slots;
}

/** Enqueues `depth` waiting jobs in batches, checking every position answered. */
async function fill(queue: Stub, model: QueueModel, depth: number): Promise<number> {
  const started = performance.now();
  let saidAt = started;
  for (let start = 0; start < depth; start += BATCH) {
    const jobs = Array.from({ length: Math.min(BATCH, depth - start) }, (_, k) => benchJob(`fill-${start + k}`, fillPriority(start + k)));
    const outcome = await queue.enqueueBatch(jobs, clock());
    if (!outcome.ok) throw new Error(`enqueueBatch at ${start} of ${depth}: ${outcome.code} ${outcome.message}`);
    const indexes = jobs.map((job) => model.add(job.id, job.priority));
    // Positions are answered as the queue stands after the whole batch.
    outcome.data.forEach((answer, k) => {
      const expected = model.positionAt(jobs[k]!.priority, indexes[k]!);
      if (!answer.created || answer.data.queuePosition !== expected) {
        throw new Error(`enqueueBatch answered ${jobs[k]!.id}: ${JSON.stringify(answer)}, expected a new job at position ${expected}`);
      }
    });
    if (performance.now() - saidAt > 15_000) {
      saidAt = performance.now();
      await say(`  ${start + jobs.length} of ${depth} enqueued, ${Math.round((saidAt - started) / 1000)} s`);
    }
  }
  return performance.now() - started;
}

async function checkCounts(queue: Stub, model: QueueModel, concurrency: number, when: string): Promise<void> {
  const stats = await queue.stats();
  if (stats.queuedJobs !== model.waiting || stats.runningJobs !== concurrency) {
    throw new Error(`${when}: stats say ${stats.queuedJobs} queued and ${stats.runningJobs} running, expected ${model.waiting} and ${concurrency}`);
  }
}

/** One depth's queue while it is measured: the stub, the model of its waiting jobs, the running jobs. */
interface Bench {
  queue: Stub;
  model: QueueModel;
  meter: Meter;
  /** The jobs holding the slots (running, attempt 1). */
  slots: string[];
  newId(kind: string): string;
}

/** A new job at the back of its lane, timed, then cancelled again (untimed) so the depth stays put. */
async function enqueueCalls(b: Bench, operation: string, priority: Priority, calls: number): Promise<void> {
  for (let n = 0; n < calls; n++) {
    const id = b.newId(priority);
    await enqueueNew(b.queue, b.model, id, priority, b.meter, operation);
    const cancelled = await b.queue.cancel(id, clock());
    if (!cancelled.ok) throw new Error(`cancel of ${id}: ${cancelled.message}`);
    b.model.removeLast(id, priority);
  }
}

/** Status of the last job in the queue: the position that costs the most to count. */
async function statusCalls(b: Bench, calls: number): Promise<void> {
  const back = b.model.back();
  for (let n = 0; n < calls; n++) {
    const status = await b.meter.time("status (last job, with queuePosition)", () => b.queue.status(back.id, clock()));
    if (!status.ok || status.data.status !== "queued" || status.data.queuePosition !== back.position) {
      throw new Error(`status of ${back.id}, the last of ${b.model.waiting} waiting jobs: ${JSON.stringify(status)}`);
    }
  }
}

async function statsCalls(b: Bench, calls: number): Promise<void> {
  for (let n = 0; n < calls; n++) {
    const stats = await b.meter.time("stats", () => b.queue.stats());
    if (stats.queuedJobs !== b.model.waiting) throw new Error(`stats say ${stats.queuedJobs} queued, expected ${b.model.waiting}`);
  }
}

/**
 * Dispatch: a running job completes, which hands its slot to the best waiting job, and that job
 * is claimed, as a consumer would once the Queue delivered it. A job of the dispatched one's
 * priority then joins the back of its lane (untimed), so the depth and the mix stay put.
 */
async function dispatchCalls(b: Bench, calls: number): Promise<void> {
  for (let n = 0; n < calls; n++) {
    const slot = n % b.slots.length;
    const done = b.slots[slot]!;
    const completed = await b.meter.time("complete (+ dispatch of the next job)", () => b.queue.complete(done, 1, { ok: true }, clock()));
    if (!completed.ok) throw new Error(`complete of ${done}: ${completed.message}`);
    const next = b.model.dispatchNext();
    const claimed = await b.meter.time("claim (the job just dispatched)", () => b.queue.claim(next.id, 1, clock()));
    if (!claimed.ok) throw new Error(`claim of ${next.id}, which should have been dispatched when ${done} completed: ${claimed.code} ${claimed.message}`);
    b.slots[slot] = next.id;
    await enqueueNew(b.queue, b.model, b.newId(`refill-${next.priority}`), next.priority);
  }
}

async function benchDepth(depth: number, label: string, { rounds, calls }: { rounds: number; calls: number }): Promise<DepthResult> {
  const queue = env.QUEUE_COORDINATOR.getByName(`scale-${depth}-${crypto.randomUUID()}`) as Stub;
  const { concurrency, capacity } = await queue.stats();
  if (capacity < depth + concurrency + 1) throw new Error(`QUEUE_CAPACITY is ${capacity}: too small for ${depth} waiting jobs (bench/vitest.config.ts)`);
  const model = new QueueModel();
  const slots = await occupySlots(queue, concurrency);
  await say(`${label}: filling`);
  const fillMs = await fill(queue, model, depth);
  await checkCounts(queue, model, concurrency, "after the fill");
  const afterFill = await workerdMemory();
  await say(`${label}: filled in ${(fillMs / 1000).toFixed(1)} s; measuring`);

  let nextId = 0;
  const b: Bench = { queue, model, slots, meter: new Meter(() => queue.storageIo()), newId: (kind) => `${kind}-${nextId++}` };
  // Each round takes every operation in turn, so that a slow patch of the machine is spread over all of them.
  for (let round = 0; round < rounds; round++) {
    await enqueueCalls(b, "enqueue (low, back of the queue)", "low", calls);
    await enqueueCalls(b, "enqueue (high, back of its lane)", "high", calls);
    await statusCalls(b, calls);
    await statsCalls(b, calls);
    await dispatchCalls(b, calls);
    b.meter.endRound();
  }
  await checkCounts(queue, model, concurrency, "after measuring");
  const afterMeasuring = await workerdMemory();
  return { depth, concurrency, fillMs, costs: b.meter.medians(), databaseMiB: await databaseMiB(queue), afterFill, afterMeasuring };
}

it("coordinator cost with 10 to 100,000 jobs waiting", async () => {
  // A throwaway pass first: otherwise the first depth measured would also pay for warming
  // workerd up (compiling, first RPCs), which would flatter the deep-to-shallow ratios.
  await benchDepth(10, "warm-up (not reported)", { rounds: 1, calls: 50 });
  const baseline = await workerdMemory();
  const results: DepthResult[] = [];
  for (const depth of depths) {
    const started = performance.now();
    results.push(await benchDepth(depth, `${depth} jobs`, runner.settings));
    await say(`${depth} jobs: done in ${Math.round((performance.now() - started) / 1000)} s`);
  }
  await control("POST", "/report", { markdown: scaleReport(results, baseline, runner) });
});
