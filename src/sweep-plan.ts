/**
 * How much the cron sweep may do, and the pure parts of doing it: which runs this sweep looks
 * at, how many checks run at once, and when to give up on LangGraph. No Workers APIs here, so
 * the logic tests run it in plain Node.
 */

export interface SweepLimits {
  /** Most runs one queue's sweep asks LangGraph about; the rest wait for a later sweep. */
  maxRunsPerQueue: number;
  /** Checks under way at once, over every queue of the sweep. */
  concurrency: number;
  /** No check starts once this long has passed since the sweep began. */
  startBudgetMs: number;
  /** The sweep returns by then, whatever is still under way. */
  hardBudgetMs: number;
  /** After this many checks in a row got no answer, LangGraph's health is probed once: down, the sweep stops. */
  failuresBeforeProbe: number;
}

/**
 * A check makes at most 2 LangGraph calls one after another (the run, then its thread's values;
 * or the run, then a cancel) and 1 coordinator call: 100 runs are at most about 300
 * subrequests per queue, against Cloudflare's 10,000 per invocation on the paid plan (1,000
 * before) and 50 on the free one. 6 at a time: a Worker invocation keeps at most 6 connections
 * open, and queues further fetches behind them. Each LangGraph call times out after 10 s, so a
 * check started by 15 s ends by about 35 s, well inside the minute before the next cron run;
 * 45 s is the backstop. The first check that gets no answer has LangGraph's health probed (checks
 * wait for it): a few checks are already under way then, but no more start against a LangGraph
 * that is down. With a higher threshold, the lanes freed by the first failures would start new
 * checks before the later failures came in (with a LangGraph that never answers, 10 s more).
 */
export const SWEEP_LIMITS: SweepLimits = {
  maxRunsPerQueue: 100,
  concurrency: 6,
  startBudgetMs: 15_000,
  hardBudgetMs: 45_000,
  failuresBeforeProbe: 1,
};

/** The cron runs once a minute: its scheduled minute numbers the sweeps, so each takes the next window. */
export const sweepTurn = (scheduledTimeMs: number): number => Math.floor(scheduledTimeMs / 60_000);

/**
 * `size` items from a list that keeps its order between sweeps (the coordinator lists runs by
 * job sequence), starting where the previous turn's window of the same size ended and wrapping
 * around: while the list stays as it is, every item gets its turn within ceil(length / size)
 * sweeps. No state is kept between sweeps.
 */
export function rotatingWindow<T>(items: readonly T[], size: number, turn: number): T[] {
  if (size <= 0) return [];
  if (items.length <= size) return [...items];
  const start = (((turn % items.length) * size) % items.length + items.length) % items.length;
  return Array.from({ length: size }, (_, i) => items[(start + i) % items.length]!);
}

export interface PlannedCheck<T> {
  /** `stopped`: a cancelled or failed job's run, which must not go on; `unfinished`: a running or retrying job's. */
  kind: "stopped" | "unfinished";
  run: T;
}

/**
 * This sweep's checks for one queue, at most `max`. Stopped jobs' runs first: the coordinator
 * lists them only for a few minutes after the job ended, so they cannot wait many turns; they
 * take at most half the window (rotating among themselves beyond that), and the running or
 * retrying jobs' runs fill the rest, rotating.
 */
export function planChecks<T>(unfinished: readonly T[], stopped: readonly T[], max: number, turn: number): PlannedCheck<T>[] {
  const stoppedPart = rotatingWindow(stopped, Math.min(stopped.length, Math.ceil(max / 2)), turn);
  const unfinishedPart = rotatingWindow(unfinished, max - stoppedPart.length, turn);
  return [
    ...stoppedPart.map((run) => ({ kind: "stopped" as const, run })),
    ...unfinishedPart.map((run) => ({ kind: "unfinished" as const, run })),
  ];
}

/** A counting semaphore: at most `size` of the functions given to `use` run at once, first come first served. */
export class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  async use<R>(work: () => Promise<R>): Promise<R> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next in line, or give it back.
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

/**
 * Gives up on LangGraph for this sweep once it is found unreachable. A check that got no
 * answer may be LangGraph down, or one run's own trouble (its thread deleted): after
 * `threshold` such checks in a row, LangGraph's health is probed once. If it does not answer
 * either, no further check starts; if it does, checks go on and the count starts again. Checks
 * wait for a probe under way before they start, so none is made against a LangGraph being
 * found down.
 */
export class OutageBreaker {
  private failuresInARow = 0;
  private probing: Promise<void> | null = null;
  private down = false;
  probes = 0;

  constructor(
    private readonly threshold: number,
    private readonly probe: () => Promise<boolean>,
  ) {}

  get tripped(): boolean {
    return this.down;
  }

  /** Before a check: false once LangGraph was found down (waits for a probe under way). */
  async mayProceed(): Promise<boolean> {
    while (this.probing) await this.probing;
    return !this.down;
  }

  /** After a check: whether LangGraph answered it (any answer, an HTTP error included, counts). */
  record(answered: boolean): void {
    if (answered) {
      this.failuresInARow = 0;
      return;
    }
    this.failuresInARow++;
    if (this.down || this.probing || this.failuresInARow < this.threshold) return;
    this.probes++;
    this.probing = this.probe()
      .catch(() => false)
      .then((up) => {
        if (!up) this.down = true;
        this.failuresInARow = 0;
        this.probing = null;
      });
  }
}

/**
 * Runs `work` on each item, `concurrency` at a time, in order. `work` returns false to stop:
 * nothing further starts, and what is under way finishes. Resolves with how many items were
 * taken (work started on them).
 */
export async function forEachBounded<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<boolean>): Promise<number> {
  let next = 0;
  let stopped = false;
  const lane = async () => {
    while (!stopped && next < items.length) {
      const item = items[next++]!;
      if (!(await work(item))) stopped = true;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane));
  return Math.min(next, items.length);
}
