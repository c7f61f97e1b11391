/**
 * Per-call cost of coordinator operations: wall time through the Durable Object RPC and the
 * SQLite rows the object read and wrote (its cumulative `storageIo()` counters).
 *
 * Calls are timed one at a time, with the row counters read around each one outside its timing,
 * so the untimed work between calls (putting the queue back as it was) counts in neither.
 * workerd's clock moves in whole milliseconds, and only on I/O: a single call measures as 0, 1
 * or 2 ms, but since calls start at random points within a millisecond, the steps even out over
 * a round's calls. Each figure is the median over rounds of the round's mean per call.
 */
export interface Cost {
  us: number;
  rowsRead: number;
  rowsWritten: number;
}

/** A median cost, and the slowest and fastest round's µs/call: how far to trust a ratio of two medians. */
export type MedianCost = Cost & { usRange: [number, number] };

interface StorageIo {
  rowsRead: number;
  rowsWritten: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export class Meter {
  /** This round's totals per operation. */
  private round = new Map<string, { ms: number; rowsRead: number; rowsWritten: number; calls: number }>();
  /** Each finished round's mean per call, per operation (in the order operations were first timed). */
  private readonly rounds = new Map<string, Cost[]>();

  constructor(private readonly storageIo: () => Promise<StorageIo>) {}

  /** `T` is what the call returns: an RPC stub's answer is a union of promises, awaited here. */
  async time<T>(operation: string, call: () => T): Promise<Awaited<T>> {
    const before = await this.storageIo();
    const started = performance.now();
    const result = await call();
    const ms = performance.now() - started;
    const after = await this.storageIo();
    const sums = this.round.get(operation) ?? { ms: 0, rowsRead: 0, rowsWritten: 0, calls: 0 };
    this.round.set(operation, {
      ms: sums.ms + ms,
      rowsRead: sums.rowsRead + after.rowsRead - before.rowsRead,
      rowsWritten: sums.rowsWritten + after.rowsWritten - before.rowsWritten,
      calls: sums.calls + 1,
    });
    return result;
  }

  endRound(): void {
    for (const [operation, sums] of this.round) {
      const rounds = this.rounds.get(operation) ?? [];
      rounds.push({ us: (sums.ms * 1000) / sums.calls, rowsRead: sums.rowsRead / sums.calls, rowsWritten: sums.rowsWritten / sums.calls });
      this.rounds.set(operation, rounds);
    }
    this.round = new Map();
  }

  medians(): Map<string, MedianCost> {
    return new Map(
      [...this.rounds].map(([operation, rounds]) => {
        const us = rounds.map((r) => r.us);
        return [
          operation,
          {
            us: median(us), usRange: [Math.min(...us), Math.max(...us)],
            rowsRead: median(rounds.map((r) => r.rowsRead)), rowsWritten: median(rounds.map((r) => r.rowsWritten)),
          },
        ];
      }),
    );
  }
}
