/**
 * Issue #8, targets 1, 3 (over HTTP) and 5: the coordinator beside BullMQ, side by side in one
 * run, no LangGraph in either. This half runs inside workerd and times the coordinator through
 * its Durable Object RPC (as the router and the consumer call it); between its rounds it has the
 * Node half (bench/bullmq/node-half.ts) run BullMQ's on a local Redis, alternating which side
 * goes first.
 *
 *   single enqueue     enqueue RPC vs queue.add, one job at a time, each awaited
 *   batch enqueue      enqueueBatch of 100 vs addBulk of 100 (n/a if the coordinator has none)
 *   full lifecycle     one producer enqueues one job at a time while C workers take them:
 *                      enqueue → dispatch → claim → complete, vs a BullMQ Worker of concurrency C
 *                      with a no-op processor (MAX_CONCURRENCY = C here)
 *   processing only    the same with every job queued first: dispatch → claim → complete
 *   where the time goes  a no-op RPC and PING (the round-trip floors), a cheap read, enqueue and
 *                      claim + complete called inside the object (with and without waiting for
 *                      the writes), what an enqueue computes per job, a Queue send, SQLite rows and
 *                      Redis commands per job
 *   HTTP (targets 3, 5)  autocannon against the Worker on workerd via Miniflare and against BullMQ
 *                      behind a Node http endpoint with the same edge code: floor, stats, enqueue,
 *                      and enqueueBatch of 100 jobs (target 3: its jobs/s ÷ enqueue's req/s ≥ 10×);
 *                      bench/bullmq/http-report.ts
 *
 * Each figure is the median of BENCH_ROUNDS rounds, each on a fresh queue. It prints numbers and
 * fails only when a job is lost or refused, never on a time. The Node half prints the report.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { inject, it } from "vitest";
import { QueueCoordinator } from "../src/queue-do";
import { dec, int, median, ratio, table } from "./bullmq/format";
import { httpReport, runHttpLoads } from "./bullmq/http-report";
import { benchJob, type HttpRound, type Round } from "./bullmq/protocol";

type Stub = DurableObjectStub<QueueCoordinator>;
type BenchJob = ReturnType<typeof benchJob>;

/** enqueueBatch (issue #8, target 3) is new: typed here and looked for at run time, so older checkouts print n/a. */
type BatchOutcome = { ok: true; results?: unknown[]; data?: unknown[] } | { ok: false; code: string; message: string };
const withBatch = (queue: Stub) => queue as unknown as { enqueueBatch(jobs: BenchJob[], now?: number): Promise<BatchOutcome> };
// A stub answers any property name with an RPC method, so the class is asked, not the stub.
const HAS_ENQUEUE_BATCH = typeof (QueueCoordinator.prototype as unknown as Record<string, unknown>).enqueueBatch === "function";

const runner = inject("bullmqRunner");
const { sizes } = runner;

/** Asks the Node half for one BullMQ round (or an HTTP load). */
async function nodeHalf<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(`${runner.url}${path}`, { method: "POST", body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`the Node half failed ${path}: ${await response.text()}`);
  return (await response.json()) as T;
}

// ─── The coordinator's rounds ──────────────────────────────────────────────────────────────

/** A queue of its own for one round, constructed (schema created) before any clock starts. */
async function freshQueue(kind: string): Promise<Stub> {
  const queue = env.QUEUE_COORDINATOR.getByName(`${kind}-${crypto.randomUUID()}`);
  await queue.storageIo();
  return queue;
}

async function timed(queue: Stub, ops: number, work: () => Promise<void>): Promise<Round> {
  const before = await queue.storageIo();
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  const after = await queue.storageIo();
  return { ops, ms, rowsReadPerOp: (after.rowsRead - before.rowsRead) / ops, rowsWrittenPerOp: (after.rowsWritten - before.rowsWritten) / ops };
}

async function enqueueOne(queue: Stub, id: string, i: number): Promise<void> {
  const outcome = await queue.enqueue(benchJob(id, i));
  if (!outcome.ok || !outcome.created) throw new Error(`enqueue of ${id} was not a new job: ${JSON.stringify(outcome)}`);
}

async function enqueueMany(queue: Stub, ids: string[], first: number): Promise<void> {
  const outcome = await withBatch(queue).enqueueBatch(ids.map((id, k) => benchJob(id, first + k)));
  const results = outcome.ok ? (outcome.results ?? outcome.data) : undefined;
  if (!outcome.ok || results?.length !== ids.length) throw new Error(`enqueueBatch of ${ids.length} jobs: ${JSON.stringify(outcome).slice(0, 500)}`);
}

async function coordinatorSingle(jobs: number): Promise<Round> {
  const queue = await freshQueue("single");
  await enqueueOne(queue, "warm", -1);
  return timed(queue, jobs, async () => {
    for (let i = 0; i < jobs; i++) await enqueueOne(queue, `job-${i}`, i);
  });
}

/**
 * The same enqueues called inside the object (runInDurableObject), without the RPC: what is left
 * is the object's own work. With `sync`, each call also waits for its writes to be stored
 * (storage.sync()), which is what the output gate makes an RPC's answer wait for.
 */
async function coordinatorInside(jobs: number, sync: boolean): Promise<Round> {
  const queue = await freshQueue("inside");
  await enqueueOne(queue, "warm", -1);
  const before = await queue.storageIo();
  const ms = await runInDurableObject(queue, async (instance: QueueCoordinator, state) => {
    const started = performance.now();
    for (let i = 0; i < jobs; i++) {
      const outcome = await instance.enqueue(benchJob(`job-${i}`, i));
      if (!outcome.ok || !outcome.created) throw new Error(`enqueue of job-${i} inside the object: ${JSON.stringify(outcome)}`);
      if (sync) await state.storage.sync();
    }
    return performance.now() - started;
  });
  const after = await queue.storageIo();
  return { ops: jobs, ms, rowsReadPerOp: (after.rowsRead - before.rowsRead) / jobs, rowsWrittenPerOp: (after.rowsWritten - before.rowsWritten) / jobs };
}

/** What every dispatch pays besides SQL: one Queue sendBatch of one message (here to a queue nobody consumes). */
async function queueSend(calls: number): Promise<Round> {
  const started = performance.now();
  for (let i = 0; i < calls; i++) await env.JOB_QUEUE.sendBatch([{ body: { queueName: "bench", jobId: `send-${i}`, attempt: 1 } }]);
  return { ops: calls, ms: performance.now() - started };
}

/** Claim + complete of `jobs` queued jobs, one after the other, called inside the object. */
async function processingInside(jobs: number): Promise<Round> {
  const queue = await freshQueue("processing-inside");
  for (let start = 0; start < jobs; start += 100) {
    await enqueueMany(queue, Array.from({ length: Math.min(100, jobs - start) }, (_, k) => `job-${start + k}`), start);
  }
  const before = await queue.storageIo();
  const ms = await runInDurableObject(queue, async (instance: QueueCoordinator) => {
    const started = performance.now();
    for (let i = 0; i < jobs; i++) {
      const claimed = instance.claim(`job-${i}`, 1);
      const completed = await instance.complete(`job-${i}`, 1, {});
      if (!claimed.ok || !completed.ok) throw new Error(`claim/complete of job-${i} inside the object: ${JSON.stringify([claimed, completed])}`);
    }
    return performance.now() - started;
  });
  const after = await queue.storageIo();
  return { ops: jobs, ms, rowsReadPerOp: (after.rowsRead - before.rowsRead) / jobs, rowsWrittenPerOp: (after.rowsWritten - before.rowsWritten) / jobs };
}

/**
 * Batches of `batchSize` new jobs. Without `logs` (measurement only), console.log goes nowhere for
 * the round: the coordinator writes a log line per job, and here each line crosses from workerd
 * to vitest's Node process (the objects run in the test's isolate), which costs far more than a
 * Worker's log line does in production. The difference is what that forwarding costs.
 */
async function coordinatorBatch(jobs: number, batchSize: number, logs = true): Promise<Round> {
  const queue = await freshQueue("batch");
  await enqueueOne(queue, "warm", -1);
  const log = console.log;
  if (!logs) console.log = () => {};
  try {
    return await timed(queue, jobs, async () => {
      for (let start = 0; start < jobs; start += batchSize) {
        const ids = Array.from({ length: Math.min(batchSize, jobs - start) }, (_, k) => `job-${start + k}`);
        await enqueueMany(queue, ids, start);
      }
    });
  } finally {
    console.log = log;
  }
}

/** The round-trip floor (`storageIo()`: no SQL at all) or a cheap read (`stats()`: the counters). */
async function coordinatorFloor(kind: "noop" | "stats", calls: number): Promise<Round> {
  const queue = await freshQueue("floor");
  await enqueueOne(queue, "warm", -1);
  return timed(queue, calls, async () => {
    for (let i = 0; i < calls; i++) await (kind === "noop" ? queue.storageIo() : queue.stats());
  });
}

/**
 * What enqueue computes per new job besides SQL: the payload's JSON and the thread's UUID. It
 * hashed the body (SHA-256) and derived the thread id (SHA-1) until schema v6: 15 µs a job here.
 */
async function preparation(jobs: number): Promise<Round> {
  // A hundred times as many as the other rounds: each is well under the clock's resolution here.
  const ops = jobs * 100;
  const started = performance.now();
  for (let i = 0; i < ops; i++) {
    JSON.stringify(benchJob(`job-${i}`, i).payload);
    crypto.randomUUID();
  }
  return { ops, ms: performance.now() - started };
}

/**
 * The full lifecycle without LangGraph: one producer enqueues `jobs` jobs one at a time while
 * `workers` loops claim and complete them, as consumers would once the Queue delivered them (the
 * Queue binding goes nowhere here). Jobs of one priority are dispatched in enqueue order, so a
 * worker takes the next job in that order: attempt 1, dispatched as soon as a slot was free (a
 * worker finds it not yet dispatched only if it outruns the coordinator; it then waits and
 * counts a retry). With `queuedFirst` every job is enqueued before the clock starts.
 */
async function coordinatorLifecycle(jobs: number, workers: number, queuedFirst: boolean): Promise<Round & { claimRetries: number }> {
  const queue = await freshQueue(queuedFirst ? "processing" : "lifecycle");
  const { concurrency } = await queue.stats();
  if (concurrency !== workers) throw new Error(`MAX_CONCURRENCY is ${concurrency}, BENCH_CONCURRENCY ${workers}: set both from BENCH_CONCURRENCY`);
  const ids: string[] = [];
  if (queuedFirst) {
    for (let start = 0; start < jobs; start += 100) {
      const batch = Array.from({ length: Math.min(100, jobs - start) }, (_, k) => `job-${start + k}`);
      if (HAS_ENQUEUE_BATCH) await enqueueMany(queue, batch, start);
      else for (const [k, id] of batch.entries()) await enqueueOne(queue, id, start + k);
      ids.push(...batch);
    }
  }
  let next = 0;
  let claimRetries = 0;
  let waiting: (() => void)[] = [];
  const somethingHappened = () => {
    const wake = waiting;
    waiting = [];
    for (const resolve of wake) resolve();
  };
  /** Until a job is enqueued or completed; or, when a claim came too early, at most a few ms. */
  const untilSomethingHappens = (atMostMs?: number) =>
    new Promise<void>((resolve) => {
      const timer = atMostMs === undefined ? undefined : setTimeout(resolve, atMostMs);
      waiting.push(() => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      });
    });

  const worker = async () => {
    while (next < jobs) {
      if (next >= ids.length) {
        await untilSomethingHappens();
        continue;
      }
      const id = ids[next++]!;
      let claim = await queue.claim(id, 1);
      while (!claim.ok) {
        if (claim.code !== "STALE_ATTEMPT" || ++claimRetries > jobs * 20) throw new Error(`claim of ${id}: ${JSON.stringify(claim)}`);
        await untilSomethingHappens(5);
        claim = await queue.claim(id, 1);
      }
      const completed = await queue.complete(id, 1, {});
      if (!completed.ok) throw new Error(`complete of ${id}: ${JSON.stringify(completed)}`);
      somethingHappened();
    }
  };
  const producer = async () => {
    if (queuedFirst) return;
    for (let i = 0; i < jobs; i++) {
      await enqueueOne(queue, `job-${i}`, i);
      ids.push(`job-${i}`);
      somethingHappened();
    }
  };
  const round = await timed(queue, jobs, async () => {
    await Promise.all([producer(), ...Array.from({ length: workers }, worker)]);
  });
  const stats = await queue.stats();
  if (stats.completedJobs !== jobs || stats.queuedJobs !== 0 || stats.runningJobs !== 0) {
    throw new Error(`coordinator lost jobs: ${JSON.stringify(stats)}`);
  }
  return { ...round, claimRetries };
}

// ─── Rounds, medians, the report ─────────────────────────────────────────────────────────

/** `rounds` rounds of each side, alternating which goes first. */
async function sideBySide<A, B>(rounds: number, coordinator: () => Promise<A>, bullmq: () => Promise<B>): Promise<{ coordinator: A[]; bullmq: B[] }> {
  const result = { coordinator: [] as A[], bullmq: [] as B[] };
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      result.coordinator.push(await coordinator());
      result.bullmq.push(await bullmq());
    } else {
      result.bullmq.push(await bullmq());
      result.coordinator.push(await coordinator());
    }
  }
  return result;
}

const perSecond = (rounds: Round[]) => median(rounds.map((r) => (r.ops / r.ms) * 1000));
const microsPerOp = (rounds: Round[]) => median(rounds.map((r) => (r.ms / r.ops) * 1000));
const perOp = (rounds: Round[], key: "rowsReadPerOp" | "rowsWrittenPerOp" | "redisCommandsPerOp") => median(rounds.map((r) => r[key] ?? NaN));

const rows = (rounds: Round[]) => `${dec(perOp(rounds, "rowsReadPerOp"))} read, ${dec(perOp(rounds, "rowsWrittenPerOp"))} written`;

it("the coordinator beside BullMQ (issue #8, targets 1, 3 and 5)", async () => {
  const { rounds, singleJobs, batchJobs, batchSize, lifecycleJobs, concurrency } = sizes;

  const single = await sideBySide(rounds, () => coordinatorSingle(singleJobs), () => nodeHalf<Round>("/bullmq/single", { jobs: singleJobs }));
  const floor = await sideBySide(rounds, () => coordinatorFloor("noop", singleJobs), () => nodeHalf<Round>("/bullmq/floor", { kind: "ping", calls: singleJobs }));
  const cheapRead = await sideBySide(rounds, () => coordinatorFloor("stats", singleJobs), () => nodeHalf<Round>("/bullmq/floor", { kind: "counts", calls: singleJobs }));
  const prepared: Round[] = [];
  const inside: Round[] = [];
  const insideSynced: Round[] = [];
  for (let round = 0; round < rounds; round++) {
    prepared.push(await preparation(singleJobs));
    inside.push(await coordinatorInside(singleJobs, false));
    insideSynced.push(await coordinatorInside(singleJobs, true));
  }
  const batch = await sideBySide(
    rounds,
    async () => (HAS_ENQUEUE_BATCH ? coordinatorBatch(batchJobs, batchSize) : null),
    () => nodeHalf<Round>("/bullmq/batch", { jobs: batchJobs, batchSize }),
  );
  const lifecycle = await sideBySide(
    rounds,
    () => coordinatorLifecycle(lifecycleJobs, concurrency, false),
    () => nodeHalf<Round>("/bullmq/lifecycle", { jobs: lifecycleJobs, concurrency, queuedFirst: false }),
  );
  const processing = await sideBySide(
    rounds,
    () => coordinatorLifecycle(lifecycleJobs, concurrency, true),
    () => nodeHalf<Round>("/bullmq/lifecycle", { jobs: lifecycleJobs, concurrency, queuedFirst: true }),
  );

  const processingInsideRounds: Round[] = [];
  const sends: Round[] = [];
  const batchWithoutLogs: Round[] = [];
  for (let round = 0; round < rounds; round++) {
    if (HAS_ENQUEUE_BATCH) batchWithoutLogs.push(await coordinatorBatch(batchJobs, batchSize, false));
    if (HAS_ENQUEUE_BATCH) processingInsideRounds.push(await processingInside(lifecycleJobs));
    sends.push(await queueSend(singleJobs));
  }

  const batchRounds = batch.coordinator.filter((r): r is Round => r !== null);
  const line = (measure: string, coordinator: Round[] | null, bullmq: Round[], note = "") => [
    measure,
    coordinator ? int(perSecond(coordinator)) : "n/a (no enqueueBatch yet)",
    int(perSecond(bullmq)),
    coordinator ? `**${ratio(perSecond(coordinator), perSecond(bullmq))}**` : "n/a",
    coordinator ? `${rows(coordinator)}${note}` : "",
    dec(perOp(bullmq, "redisCommandsPerOp")),
  ];
  const throughput = table(
    ["measure", "coordinator", "BullMQ", "coordinator ÷ BullMQ", "coordinator SQLite rows per job", "BullMQ Redis commands per job"],
    ["---", "---:", "---:", "---:", "---", "---:"],
    [
      line(`single enqueue, ops/s (${singleJobs} jobs, one at a time, each awaited)`, single.coordinator, single.bullmq),
      line(`batch enqueue, jobs/s (${batchJobs} jobs in calls of ${batchSize}: enqueueBatch / addBulk)`, batchRounds.length ? batchRounds : null, batch.bullmq),
      line("… the same with the coordinator's log lines going nowhere (measurement only: what forwarding them to vitest costs here)", batchWithoutLogs.length ? batchWithoutLogs : null, batch.bullmq),
      line(`full lifecycle, jobs/s (${lifecycleJobs} jobs: 1 producer enqueueing one at a time, ${concurrency} workers; enqueue → completed)`,
        lifecycle.coordinator, lifecycle.bullmq, `; claim retries ${lifecycle.coordinator.reduce((n, r) => n + r.claimRetries, 0)}`),
      line(`processing only, jobs/s (${lifecycleJobs} jobs queued first; dispatch → claim → complete, ${concurrency} workers)`,
        processing.coordinator, processing.bullmq, `; claim retries ${processing.coordinator.reduce((n, r) => n + r.claimRetries, 0)}`),
    ],
  );

  const enqueueUs = microsPerOp(single.coordinator);
  const addUs = microsPerOp(single.bullmq);
  const floorUs = microsPerOp(floor.coordinator);
  const pingUs = microsPerOp(floor.bullmq);
  const prepareUs = microsPerOp(prepared);
  const insideUs = microsPerOp(inside);
  const breakdown = table(
    ["µs per call (median)", "coordinator", "BullMQ"],
    ["---", "---:", "---:"],
    [
      ["one enqueue through RPC / one queue.add", int(enqueueUs), int(addUs)],
      ["round-trip floor: `storageIo()` RPC, no SQL at all / Redis PING", int(floorUs), int(pingUs)],
      ["cheap read: `stats()` RPC (the counters) / `getJobCounts()`", int(microsPerOp(cheapRead.coordinator)), int(microsPerOp(cheapRead.bullmq))],
      ["enqueue called inside the object (no RPC, no wait for its writes to be stored)", int(insideUs), "—"],
      ["… of which preparing the job: payload JSON + thread UUID (no hashing: a body is compared only when its id exists)", dec(prepareUs), "—"],
      [
        "… the rest inside: transaction, SQL, dispatch (Queue send, alarm), logging, JS / add minus PING: Lua script, client",
        `${int(insideUs - prepareUs)} (${rows(inside)} rows)`,
        `${int(addUs - pingUs)} (${dec(perOp(single.bullmq, "redisCommandsPerOp"))} commands)`,
      ],
      ["enqueue inside the object + `storage.sync()` after each: also waits for its writes to be stored, as an RPC's answer does (output gate)", int(microsPerOp(insideSynced)), "—"],
      ["RPC minus inside: the round trip (floor above), (de)serialising, waiting for the writes", int(enqueueUs - insideUs), "—"],
    ],
  );

  const lifecycleBreakdown = processingInsideRounds.length === 0 ? "" : [
    "",
    `Processing only, per job: one every ${int(1e6 / perSecond(processing.coordinator))} µs through RPC with ${concurrency} workers; ` +
      `claim + complete called inside the object one after the other: ${int(microsPerOp(processingInsideRounds))} µs (${rows(processingInsideRounds)} rows), ` +
      `of which the Queue send of the next job's dispatch is about ${int(microsPerOp(sends))} µs (one sendBatch of one message, timed from the test); ` +
      `BullMQ: one every ${int(1e6 / perSecond(processing.bullmq))} µs.`,
  ].join("\n");

  const http = sizes.http
    ? httpReport(sizes, await runHttpLoads(sizes, (target, route, queueName, seconds) => nodeHalf<HttpRound>("/http/load", { target, route, queueName, seconds })))
    : "#### HTTP (targets 3 and 5): skipped (BENCH_HTTP=0)";

  const v = runner.versions;
  const markdown = [
    "### The coordinator beside BullMQ (issue #8, targets 1, 3 over HTTP, and 5 only)",
    "",
    `Machine: ${runner.machine}. Node ${v.node}, workerd ${v.workerd} (miniflare ${v.miniflare}, wrangler ${v.wrangler}), BullMQ ${v.bullmq} + ioredis ${v.ioredis} on redis-server ${v.redis} (${sizes.redisDurable ? "append-only file fsynced before each answer, as the coordinator's writes are stored before it answers" : "no persistence"}), autocannon ${v.autocannon}.`,
    `Medians of ${rounds} rounds per figure, each round on a fresh queue; the two sides' rounds alternate in one run and never overlap. ` +
      "Coordinator: Durable Object RPC from a test inside workerd (SQLite storage, no LangGraph, Queue sends go nowhere). BullMQ: Node client and worker on one local Redis, no LangGraph.",
    "",
    throughput,
    "",
    "#### Where a single enqueue's time goes",
    "",
    breakdown,
    lifecycleBreakdown,
    "",
    http,
    "",
    `Sizes: BENCH_ROUNDS=${rounds} BENCH_SINGLE_JOBS=${singleJobs} BENCH_BATCH_JOBS=${batchJobs} BENCH_BATCH_SIZE=${batchSize} BENCH_LIFECYCLE_JOBS=${lifecycleJobs} BENCH_CONCURRENCY=${concurrency}` +
      ` BENCH_REDIS_DURABLE=${sizes.redisDurable ? 1 : 0} BENCH_HTTP=${sizes.http ? 1 : 0} BENCH_HTTP_ROUNDS=${sizes.httpRounds} BENCH_HTTP_SECONDS=${sizes.httpSeconds} BENCH_HTTP_CONNECTIONS=${sizes.httpConnections}.`,
    `Benchmark time: ${Math.round((Date.now() - runner.startedAtMs) / 1000)} s from the global setup to this report.`,
  ].join("\n");
  await nodeHalf("/report", { markdown });
});
