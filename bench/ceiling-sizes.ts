/** What bench/vitest.ceiling.config.ts (Node) hands bench/ceiling.bench.ts (workerd). */
export interface CeilingSizes {
  /** Rounds per figure; each figure is the median. BENCH_ROUNDS */
  rounds: number;
  /** Jobs per round. BENCH_CEILING_JOBS */
  jobs: number;
  /** Worker loops to try, a list; MAX_CONCURRENCY is the largest. BENCH_CEILING_WORKERS */
  workers: number[];
  /** Producers enqueueing one job per call. BENCH_CEILING_PRODUCERS */
  producers: number;
}

declare module "vitest" {
  interface ProvidedContext {
    ceilingSizes: CeilingSizes;
  }
}
