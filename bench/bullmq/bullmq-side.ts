/**
 * The BullMQ half of the comparison, in Node against a local Redis: the same operations the
 * coordinator half times, one round per call, each round on a fresh queue. Job options mirror
 * the coordinator's job: an explicit id (BullMQ's idempotent add), a priority (so jobs go through
 * BullMQ's prioritized set, as every coordinator job goes through its priority index), and
 * attempts = maxRetries + 1 with exponential backoff.
 */
import { Queue, Worker, type JobsOptions } from "bullmq";
import { Redis } from "ioredis";
import { benchJob, BULLMQ_PRIORITY, type Round } from "./protocol";

export class BullmqSide {
  /** The producers' connection, shared by every Queue as an application would share it. */
  private readonly redis: Redis;
  private rounds = 0;

  constructor(private readonly redisUrl: string) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  }

  close(): void {
    this.redis.disconnect();
  }

  /** `queue.add` one job at a time, each awaited. */
  single(jobs: number): Promise<Round> {
    return this.withQueue(async (queue, tag) => {
      await queue.add(...addArgs(`${tag}-warm`, -1)); // loads the Lua scripts, creates the keys
      const round = await this.timed(jobs, async () => {
        for (let i = 0; i < jobs; i++) await queue.add(...addArgs(`${tag}-${i}`, i));
      });
      await expectCount(queue, jobs + 1);
      return round;
    });
  }

  /** The round-trip floor (PING) or a cheap read (`getJobCounts`), `calls` times. */
  floor(kind: "ping" | "counts", calls: number): Promise<Round> {
    return this.withQueue(async (queue) => {
      await queue.getJobCounts();
      return this.timed(calls, async () => {
        for (let i = 0; i < calls; i++) {
          if (kind === "ping") await this.redis.ping();
          else await queue.getJobCounts();
        }
      });
    });
  }

  /** `addBulk` of `batchSize` jobs at a time, each awaited. */
  batch(jobs: number, batchSize: number): Promise<Round> {
    return this.withQueue(async (queue, tag) => {
      await queue.add(...addArgs(`${tag}-warm`, -1));
      const round = await this.timed(jobs, async () => {
        for (let start = 0; start < jobs; start += batchSize) await addBulk(queue, tag, start, Math.min(batchSize, jobs - start));
      });
      await expectCount(queue, jobs + 1);
      return round;
    });
  }

  /**
   * Enqueue → completed: a Worker with `concurrency` runs a no-op processor while one producer
   * adds `jobs` jobs one at a time; timed from the first add to the last `completed` event.
   * With `queuedFirst`, the jobs are all added (addBulk) before the worker starts, and only
   * the worker's part is timed: fetch → process → complete.
   */
  lifecycle(jobs: number, concurrency: number, queuedFirst: boolean): Promise<Round> {
    return this.withQueue(async (queue, tag) => {
      if (queuedFirst) {
        for (let start = 0; start < jobs; start += 100) await addBulk(queue, tag, start, Math.min(100, jobs - start));
      }
      let completed = 0;
      let allDone!: () => void;
      const done = new Promise<void>((resolve) => (allDone = resolve));
      const worker = new Worker(queue.name, async () => {}, {
        connection: { ...hostAndPort(this.redisUrl), maxRetriesPerRequest: null },
        concurrency,
        autorun: false,
      });
      worker.on("completed", () => {
        if (++completed === jobs) allDone();
      });
      let failure: Error | undefined;
      worker.on("failed", (_job, error) => (failure ??= error));
      try {
        await worker.waitUntilReady();
        let running: Promise<void> | undefined;
        const round = await this.timed(jobs, async () => {
          running = worker.run();
          if (!queuedFirst) {
            for (let i = 0; i < jobs; i++) await queue.add(...addArgs(`${tag}-${i}`, i));
          }
          await withDeadline(done, 120_000, () => `BullMQ completed ${completed} of ${jobs} jobs`);
        });
        await worker.close();
        await running;
        if (failure) throw failure;
        const counts = await queue.getJobCounts("completed");
        if (counts.completed !== jobs) throw new Error(`BullMQ lost jobs: ${counts.completed} of ${jobs} completed`);
        return round;
      } finally {
        await worker.close(true).catch(() => {});
      }
    });
  }

  /** Times `work` and counts the Redis commands it made (the INFO call that reads the count counts itself once). */
  private async timed(ops: number, work: () => Promise<void>): Promise<Round> {
    const commandsBefore = await this.commandsProcessed();
    const started = performance.now();
    await work();
    const ms = performance.now() - started;
    const commands = (await this.commandsProcessed()) - commandsBefore - 1;
    return { ops, ms, redisCommandsPerOp: commands / ops };
  }

  /** A fresh queue for one round, removed from Redis afterwards so rounds do not grow Redis. */
  private async withQueue<T>(round: (queue: Queue, tag: string) => Promise<T>): Promise<T> {
    const tag = `r${++this.rounds}`;
    const queue = new Queue(`bench-${tag}-${Date.now()}`, { connection: this.redis });
    try {
      await queue.waitUntilReady();
      return await round(queue, tag);
    } finally {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
    }
  }

  /** Redis commands processed so far, those run inside Lua scripts included (INFO commandstats). */
  private async commandsProcessed(): Promise<number> {
    const info = await this.redis.info("commandstats");
    let total = 0;
    for (const match of info.matchAll(/calls=(\d+)/g)) total += Number(match[1]);
    return total;
  }
}

/** queue.add's arguments for the i-th bench job. */
function addArgs(id: string, i: number): [string, object, JobsOptions] {
  const job = benchJob(id, i);
  return [job.type, job.payload, {
    jobId: job.id, priority: BULLMQ_PRIORITY[job.priority], attempts: job.maxRetries + 1, backoff: { type: "exponential", delay: 5000 },
  }];
}

async function addBulk(queue: Queue, tag: string, start: number, count: number): Promise<void> {
  await queue.addBulk(Array.from({ length: count }, (_, k) => {
    const [name, data, opts] = addArgs(`${tag}-${start + k}`, start + k);
    return { name, data, opts };
  }));
}

function hostAndPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port) };
}

async function expectCount(queue: Queue, expected: number): Promise<void> {
  const count = await queue.count();
  if (count !== expected) throw new Error(`BullMQ queue ${queue.name} holds ${count} jobs, not ${expected}`);
}

async function withDeadline<T>(promise: Promise<T>, ms: number, describe: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${describe()} after ${ms / 1000} s`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
