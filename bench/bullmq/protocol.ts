/**
 * What the two halves of the BullMQ comparison exchange. The coordinator half runs inside
 * workerd (bench/bullmq.bench.ts); the BullMQ half in Node (bench/bullmq/runner.ts, started by
 * the global setup), which the workerd half asks for one round at a time over HTTP on
 * 127.0.0.1, so the two sides' rounds alternate in one run and never overlap.
 */
/** Sizes, from BENCH_* environment variables (read in Node by setup.ts, handed to the workerd half). */
export interface BenchSizes {
  /** Rounds per measurement; each figure is the median. BENCH_ROUNDS */
  rounds: number;
  /** Jobs per single-enqueue round, each into a fresh queue. BENCH_SINGLE_JOBS */
  singleJobs: number;
  /** Jobs per batch-enqueue round, and jobs per batch. BENCH_BATCH_JOBS, BENCH_BATCH_SIZE */
  batchJobs: number;
  batchSize: number;
  /** Jobs per lifecycle round, and workers (BullMQ concurrency = MAX_CONCURRENCY = loops). BENCH_LIFECYCLE_JOBS, BENCH_CONCURRENCY */
  lifecycleJobs: number;
  concurrency: number;
  /** Redis with an append-only file fsynced before each answer, as durable as the coordinator's storage. BENCH_REDIS_DURABLE */
  redisDurable: boolean;
  /** HTTP throughput (target 5): on/off, rounds, seconds per load, connections. BENCH_HTTP, BENCH_HTTP_ROUNDS, BENCH_HTTP_SECONDS, BENCH_HTTP_CONNECTIONS */
  http: boolean;
  httpRounds: number;
  httpSeconds: number;
  httpConnections: number;
}

/** The job every measurement enqueues (the i-th), the same on both sides. */
export const benchJob = (id: string, i: number) =>
  ({ id, type: "data_sync", payload: { itemName: `bench item ${i}`, itemId: i }, priority: "medium", maxRetries: 3 }) as const;

/** BullMQ's priorities: lower runs first; 0 would mean "no priority" (a plain FIFO list). */
export const BULLMQ_PRIORITY = { high: 1, medium: 2, low: 3 } as const;

/**
 * One timed round: `ops` operations (calls or jobs) in `ms` milliseconds, and what they cost the
 * store per operation: SQLite rows (the coordinator's `storageIo()`), or Redis commands (INFO
 * commandstats, those run inside BullMQ's Lua scripts included).
 */
export interface Round {
  ops: number;
  ms: number;
  rowsReadPerOp?: number;
  rowsWrittenPerOp?: number;
  redisCommandsPerOp?: number;
}

export type HttpTarget = "workerd" | "bullmq";
/**
 * `floor`: an unknown route (404, no auth, no queue); `stats`: a cheap read of the queue;
 * `enqueue`: a new job per request; `enqueueBatch`: HTTP_BATCH_JOBS new jobs per request.
 */
export type HttpRoute = "floor" | "stats" | "enqueue" | "enqueueBatch";
export const HTTP_ROUTES: HttpRoute[] = ["floor", "stats", "enqueue", "enqueueBatch"];
/** Jobs per `enqueueBatch` request: the most one request may carry (MAX_BATCH_JOBS). */
export const HTTP_BATCH_JOBS = 100;
/** New jobs each answered request of `route` makes. */
export const jobsPerRequest = (route: HttpRoute) => (route === "enqueueBatch" ? HTTP_BATCH_JOBS : route === "enqueue" ? 1 : 0);
/** Each load of a round gets a queue of its own, so every enqueue load starts on an empty queue. */
export const httpQueueName = (round: number, route: HttpRoute) => `http-${round}-${route}`;

export interface HttpRound {
  target: HttpTarget;
  route: HttpRoute;
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Responses, and those with another status than the route's (2xx; 404 for the floor). */
  requests: number;
  unexpected: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** For `enqueue` and `enqueueBatch`: 201s, and jobs the queue holds afterwards (at least jobsPerRequest per 201). */
  created: number | null;
  jobsStored: number | null;
  /** CPU time per request (µs, user + system, from /proc) of each process serving the load, and of the load generator. */
  cpuMicrosPerRequest: Record<string, number>;
}

/** What the runner tells the workerd half when it starts. */
export interface RunnerInfo {
  url: string;
  sizes: BenchSizes;
  machine: string;
  versions: Record<string, string>;
  startedAtMs: number;
}

// What the global setup provides to the workerd half (`inject("bullmqRunner")`).
declare module "vitest" {
  interface ProvidedContext {
    bullmqRunner: RunnerInfo;
  }
}
