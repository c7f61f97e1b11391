/**
 * Issue #8, target 6: one coordinator's ceiling, the most job lifecycles per second one queue
 * sustains, and what bounds it, so that a queue sharded over several coordinators can be
 * planned from a number. No LangGraph: the consumers and run followers are loops in this test.
 *
 *   through RPC     producers enqueue (one job per call, or enqueueBatch of 100) while W workers
 *                   do what a consumer and a run follower do for each job: claim, report the run
 *                   id, complete. Each call is one Durable Object request, as in production.
 *                   W grows until the rate stops growing; MAX_CONCURRENCY = the largest W. Last,
 *                   workers claim 10 jobs per call, as a consumer claims a delivery.
 *   inside          the same calls made inside the object one after another (no RPC): the
 *                   object's own work per job, with the Queue send Miniflare emulates, and with
 *                   sends going nowhere (in production a send is a subrequest the object waits
 *                   on, not work it does).
 *
 * Each figure is the median of BENCH_ROUNDS rounds on fresh queues. Prints numbers; fails only if
 * a job is lost. Run: `npm run bench:ceiling` (bench/vitest.ceiling.config.ts).
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { inject, it } from "vitest";
import type { QueueCoordinator } from "../src/queue-do";
import { benchJob } from "./bullmq/protocol";
import "./ceiling-sizes";

type Stub = DurableObjectStub<QueueCoordinator>;

const { rounds, jobs, workers: workerCounts, producers } = inject("ceilingSizes");

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const int = (n: number) => Math.round(n).toLocaleString("en-US");

async function freshQueue(kind: string): Promise<Stub> {
  const queue = env.QUEUE_COORDINATOR.getByName(`ceiling-${kind}-${crypto.randomUUID()}`);
  await queue.storageIo();
  return queue;
}

/**
 * What a consumer and the run followers do for the jobs of one delivery: claim them (one call),
 * then report each run id and complete each. Returns the jobs not dispatched yet, to claim again.
 */
async function processDelivery(queue: Stub, ids: string[]): Promise<string[]> {
  const claims = await queue.claimBatch(ids.map((jobId) => ({ jobId, attempt: 1 })));
  const early: string[] = [];
  await Promise.all(
    claims.map(async (claim, i) => {
      const id = ids[i]!;
      if (!claim.ok) {
        if (claim.code !== "STALE_ATTEMPT") throw new Error(`claim of ${id}: ${claim.message}`);
        early.push(id);
        return;
      }
      const report = await queue.report(id, 1, { runId: `run-${id}` });
      const completed = await queue.complete(id, 1, {});
      if (!report.ok || !completed.ok) throw new Error(`report/complete of ${id}: ${JSON.stringify([report, completed])}`);
    }),
  );
  return early;
}

interface RpcRound {
  jobsPerSecond: number;
  requestsPerJob: number;
  rowsWrittenPerJob: number;
  alarmWritesPerJob: number;
}

/**
 * Producers enqueue `jobs` jobs while `workers` loops take them in the order their enqueues were
 * answered (dispatch order, give or take the answers' order; a job taken too early is retried).
 */
async function throughRpc(workers: number, batched: boolean, sends = true, claimsPerCall = 1): Promise<RpcRound> {
  const queue = await freshQueue(batched ? "batched" : "single");
  if (!sends) await runInDurableObject(queue, dropSends);
  const ids: string[] = [];
  let next = 0;
  let done = 0;
  let requests = 0;
  let waiters: (() => void)[] = [];
  const changed = () => {
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake();
  };
  /** Until a job is enqueued or completed, or `atMostMs`. */
  const somethingChanges = (atMostMs: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, atMostMs);
      waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });

  const producer = async (first: number, count: number) => {
    const step = batched ? 100 : 1;
    for (let i = first; i < first + count; i += step) {
      const batch = Array.from({ length: Math.min(step, first + count - i) }, (_, k) => benchJob(`job-${i + k}`, i + k));
      const outcome = batched ? await queue.enqueueBatch(batch) : await queue.enqueue(batch[0]!);
      requests++;
      if (!outcome.ok) throw new Error(`enqueue: ${outcome.message}`);
      ids.push(...batch.map((job) => job.id));
      changed();
    }
  };
  const worker = async () => {
    while (done < jobs) {
      if (next >= ids.length) {
        await somethingChanges(50);
        continue;
      }
      let delivery = ids.slice(next, next + claimsPerCall);
      next += delivery.length;
      for (;;) {
        const early = await processDelivery(queue, delivery);
        const processed = delivery.length - early.length;
        requests += 1 + 2 * processed;
        done += processed;
        if (processed > 0) changed();
        if (early.length === 0) break;
        delivery = early;
        await somethingChanges(5);
      }
    }
  };

  const before = await queue.storageIo();
  const started = performance.now();
  const share = Math.ceil(jobs / producers);
  await Promise.all([
    ...Array.from({ length: batched ? 1 : producers }, (_, p) => (batched ? producer(0, jobs) : producer(p * share, Math.min(share, jobs - p * share)))),
    ...Array.from({ length: workers }, worker),
  ]);
  const ms = performance.now() - started;
  const after = await queue.storageIo();
  const stats = await queue.stats();
  if (stats.completedJobs !== jobs || stats.queuedJobs !== 0 || stats.runningJobs !== 0) throw new Error(`lost jobs: ${JSON.stringify(stats)}`);
  return {
    jobsPerSecond: (jobs / ms) * 1000, requestsPerJob: requests / jobs,
    rowsWrittenPerJob: (after.rowsWritten - before.rowsWritten) / jobs, alarmWritesPerJob: (after.alarmWrites - before.alarmWrites) / jobs,
  };
}

/**
 * Measurement only: swaps the object's Queue binding for one that goes nowhere, to tell the
 * object's own work from Miniflare's emulation of a send (a local broker Durable Object that
 * parses and stores each batch; in production a send is a subrequest the object waits on).
 */
function dropSends(instance: QueueCoordinator): void {
  const object = instance as unknown as { env: Env };
  object.env = { ...object.env, JOB_QUEUE: { send: async () => {}, sendBatch: async () => {} } as unknown as Queue };
}

/**
 * The same lifecycle called inside the object, one job after another: µs per job. Without `logs`,
 * console.log goes nowhere for the round: here each line crosses from workerd to vitest's Node
 * process, which costs far more than a Worker's log line does in production.
 */
async function inside(sends: boolean, logs = true): Promise<number> {
  const queue = await freshQueue("inside");
  const log = console.log;
  if (!logs) console.log = () => {};
  try {
    return await runInDurableObject(queue, (instance: QueueCoordinator) => lifecycles(instance, sends));
  } finally {
    console.log = log;
  }
}

async function lifecycles(instance: QueueCoordinator, sends: boolean): Promise<number> {
  if (!sends) dropSends(instance);
  const started = performance.now();
  for (let i = 0; i < jobs; i++) {
    const enqueued = await instance.enqueue(benchJob(`job-${i}`, i));
    if (!enqueued.ok) throw new Error(enqueued.message);
    instance.claim(`job-${i}`, 1);
    await instance.report(`job-${i}`, 1, { runId: `run-${i}` });
    const completed = await instance.complete(`job-${i}`, 1, {});
    if (!completed.ok) throw new Error(completed.message);
  }
  return ((performance.now() - started) / jobs) * 1000;
}

/**
 * What one job costs its coordinator's storage, step by step (target 4): a job enqueued into an
 * idle queue with a free slot, claimed, its run id reported, completed; the alarm, which was set
 * for its lease, firing early and re-arming to its record's expiry; the record deleted.
 */
async function lifeOfOneJob(): Promise<string[][]> {
  const queue = await freshQueue("one-job");
  const now = Date.now();
  const steps: [string, () => Promise<unknown>][] = [
    ["enqueue (and dispatch: a slot was free)", () => queue.enqueue(benchJob("job", 0), now)],
    ["claim", () => queue.claim("job", 1, now)],
    ["report the run id", () => queue.report("job", 1, { runId: "run" }, now)],
    ["complete", () => queue.complete("job", 1, {}, now)],
    ["the alarm, set for the lease, fires early and re-arms to the record's expiry", () => runDurableObjectAlarm(queue)],
    ["the record deleted after RESULT_TTL_SECONDS", () => queue.runTimers(now + 48 * 3_600_000)],
  ];
  const measured: { step: string; cells: number[] }[] = [];
  for (const [step, call] of steps) {
    const before = await queue.storageIo();
    const outcome = (await call()) as { ok?: boolean } | boolean | undefined;
    if (outcome === false || (typeof outcome === "object" && outcome?.ok === false)) throw new Error(`${step}: ${JSON.stringify(outcome)}`);
    const after = await queue.storageIo();
    measured.push({ step, cells: [after.rowsRead - before.rowsRead, after.rowsWritten - before.rowsWritten, after.alarmWrites - before.alarmWrites] });
  }
  const lifecycle = measured.slice(0, 4).reduce((sum, { cells }) => sum.map((n, k) => n + cells[k]!), [0, 0, 0]);
  const rows = measured.map(({ step, cells }) => [step, ...cells.map(String)]);
  rows.splice(4, 0, ["**enqueue → complete**", ...lifecycle.map((n) => `**${n}**`)]);
  if ((await queue.status("job")).ok) throw new Error("the record outlived its retention");
  return rows;
}

it("one coordinator's ceiling (issue #8, target 6)", async () => {
  const lines: string[] = [];
  const rpcRows: string[][] = [];
  // Claims of 10 (a consumer's delivery): as many loops as keep the slots busy without claiming far ahead.
  const most = Math.max(...workerCounts);
  const variants = [
    ...workerCounts.map((workers) => ({ workers, batched: false, sends: true, claims: 1 })),
    ...workerCounts.map((workers) => ({ workers, batched: true, sends: true, claims: 1 })),
    { workers: most, batched: true, sends: false, claims: 1 },
    { workers: Math.ceil(most / 10), batched: true, sends: true, claims: 10 },
  ];
  {
    for (const { workers, batched, sends, claims } of variants) {
      const results: RpcRound[] = [];
      for (let round = 0; round < rounds; round++) results.push(await throughRpc(workers, batched, sends, claims));
      rpcRows.push([
        batched ? "enqueueBatch of 100, 1 producer" : `enqueue, ${producers} producers`,
        sends ? "as Miniflare emulates them" : "going nowhere",
        String(claims),
        String(workers),
        int(median(results.map((r) => r.jobsPerSecond))),
        median(results.map((r) => r.requestsPerJob)).toFixed(2),
        median(results.map((r) => r.rowsWrittenPerJob)).toFixed(1),
        median(results.map((r) => r.alarmWritesPerJob)).toFixed(3),
      ]);
    }
  }
  const withSends: number[] = [];
  const withoutSends: number[] = [];
  const withoutLogs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    withSends.push(await inside(true));
    withoutSends.push(await inside(false));
    withoutLogs.push(await inside(false, false));
  }
  const oneJob = await lifeOfOneJob();
  const table = (header: string[], body: string[][]) =>
    [header, header.map(() => "---"), ...body].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
  lines.push(
    `### One coordinator's ceiling: ${jobs} jobs per round, median of ${rounds} rounds`,
    "",
    "Through RPC (enqueue → claim → report run id → complete, every call a Durable Object request):",
    "",
    table(["enqueue", "Queue sends", "claims per call", "workers", "lifecycles/s", "coordinator requests per job", "SQLite rows written per job", "alarm writes per job"], rpcRows),
    "",
    "Inside the object, one lifecycle after another, no RPC:",
    "",
    table(["Queue sends", "µs per lifecycle", "lifecycles/s"], [
      ["as Miniflare emulates them", int(median(withSends)), int(1e6 / median(withSends))],
      ["going nowhere (the object's own work)", int(median(withoutSends)), int(1e6 / median(withoutSends))],
      ["going nowhere, and log lines too", int(median(withoutLogs)), int(1e6 / median(withoutLogs))],
    ]),
    "",
    "One job's life in an idle queue, step by step (SQLite cursors' counters; each alarm set is billed as a row written):",
    "",
    table(["step", "rows read", "rows written", "alarm writes"], oneJob),
  );
  console.log(`\n${lines.join("\n")}\n`);
});
