/**
 * What the two halves of `npm run bench:watchers` exchange. The bench runs inside workerd
 * (bench/watchers.bench.ts); the global setup (bench/watchers/setup.ts) runs in Node, reads the
 * BENCH_WATCHERS_* settings and serves a control endpoint on 127.0.0.1 through which the workerd
 * half reads workerd's memory and CPU time (workerd cannot see its own process from inside),
 * prints its progress, and hands over the report that Node writes to disk.
 */

/** Sizes, from environment variables read in Node. */
export interface WatchersSettings {
  /** Watcher counts, each with a job of its own per round. BENCH_WATCHERS_COUNTS, e.g. "0,1,10,100" */
  counts: number[];
  /** Rounds: each takes every count in turn. BENCH_WATCHERS_ROUNDS */
  rounds: number;
  /** Progress reports per job through RPC (each a change, timed), before those inside the object. BENCH_WATCHERS_REPORTS */
  reports: number;
  /** Progress reports per job called inside the object, after those by RPC, timed together. BENCH_WATCHERS_INSIDE */
  inside: number;
  /** Every this many reports also changes the step (a transition besides the status). BENCH_WATCHERS_STEP_EVERY */
  stepEvery: number;
  /** `status` polls timed, through the Worker and through RPC, for the polling comparison. BENCH_WATCHERS_POLLS */
  polls: number;
}

export interface WatchersRunner {
  /** The control endpoint, e.g. http://127.0.0.1:41234 */
  url: string;
  settings: WatchersSettings;
  /** CPUs, RAM and kernel, for the report's header. */
  machine: string;
  versions: Record<string, string>;
}

/** GET /sample: every workerd process below the vitest process, summed. */
export interface WorkerdSample {
  processes: number;
  /** VmRSS: resident now. */
  rssKiB: number;
  /** VmHWM: the most ever resident. */
  peakRssKiB: number;
  /** User + system CPU time so far (/proc/<pid>/stat), in steps of the kernel's clock tick (10 ms). */
  cpuMs: number;
}

// What the global setup provides to the workerd half (`inject("watchersBench")`).
declare module "vitest" {
  interface ProvidedContext {
    watchersBench: WatchersRunner;
  }
}
