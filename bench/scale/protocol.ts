/**
 * What the two halves of `npm run bench` exchange. The bench runs inside workerd
 * (bench/coordinator.bench.ts); the global setup (bench/scale/setup.ts) runs in Node, reads the
 * BENCH_SCALE_* settings and serves a small control endpoint on 127.0.0.1 through which the
 * workerd half reads workerd's memory (workerd cannot see its own process from inside), prints
 * its progress, and hands over the report that Node writes to disk.
 */

/** Sizes, from environment variables read in Node. */
export interface ScaleSettings {
  /** Jobs waiting in the queue, one fresh queue per depth. BENCH_SCALE_DEPTHS, e.g. "10,1000" */
  depths: number[];
  /** Rounds per operation; each figure is the median over rounds. BENCH_SCALE_ROUNDS */
  rounds: number;
  /** Calls per round. BENCH_SCALE_CALLS */
  calls: number;
}

export interface ScaleRunner {
  /** The control endpoint, e.g. http://127.0.0.1:41234 */
  url: string;
  settings: ScaleSettings;
  /** CPUs, RAM and kernel, for the report's header. */
  machine: string;
  versions: Record<string, string>;
}

/** One workerd process Miniflare started, from /proc/<pid>/status. */
export interface WorkerdMemory {
  pid: number;
  /** VmRSS: resident now. */
  rssKiB: number;
  /** VmHWM: the most it was ever resident. */
  peakRssKiB: number;
}

/** GET /memory answers every workerd process below the vitest process. */
export type MemoryAnswer = WorkerdMemory[];

// What the global setup provides to the workerd half (`inject("scaleBench")`).
declare module "vitest" {
  interface ProvidedContext {
    scaleBench: ScaleRunner;
  }
}
