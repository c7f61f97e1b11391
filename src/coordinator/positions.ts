/**
 * Where a ready job stands in the queue, without counting one index row per job ahead.
 *
 * Ready jobs are dispatched by score (a lane per score), then by seq. The jobs ahead of one are
 * every job of a higher lane plus the jobs of its own lane with a smaller seq. This keeps, in
 * memory, how many ready jobs each lane holds per block of BLOCK_SIZE consecutive seqs; a
 * position is then a sum over the lanes' blocks (a few hundred numbers for 100,000 jobs) plus a
 * count of at most BLOCK_SIZE index rows inside the job's own block, done by the store.
 *
 * It is derived data: built from the ready index when first needed, kept in step by the store
 * on every change in and out of the ready state, and dropped (rebuilt later) if a transaction
 * rolls back. Memory is one number per non-empty block: bounded by the backlog / BLOCK_SIZE.
 */
export const BLOCK_SIZE = 256;

export const blockOf = (seq: number): number => Math.floor(seq / BLOCK_SIZE);

export class ReadyPositions {
  /** score → block → ready jobs of that score in that block. */
  private readonly lanes = new Map<number, Map<number, number>>();
  /** score → ready jobs of that score. */
  private readonly laneSizes = new Map<number, number>();

  /** `counts`: ready jobs per (score, block), as the ready index holds them. */
  constructor(counts: Iterable<{ score: number; block: number; jobs: number }> = []) {
    for (const { score, block, jobs } of counts) this.add(score, block, jobs);
  }

  enter(score: number, seq: number): void {
    this.add(score, blockOf(seq), 1);
  }

  leave(score: number, seq: number): void {
    this.add(score, blockOf(seq), -1);
  }

  /** Ready jobs in lanes of a higher score than `score`. */
  inHigherLanes(score: number): number {
    let jobs = 0;
    for (const [laneScore, size] of this.laneSizes) if (laneScore > score) jobs += size;
    return jobs;
  }

  laneSize(score: number): number {
    return this.laneSizes.get(score) ?? 0;
  }

  /** Ready jobs of `score` in blocks before the one `seq` falls in. */
  inEarlierBlocks(score: number, seq: number): number {
    const own = blockOf(seq);
    let jobs = 0;
    for (const [block, count] of this.lanes.get(score) ?? []) if (block < own) jobs += count;
    return jobs;
  }

  private add(score: number, block: number, delta: number): void {
    const lane = this.lanes.get(score) ?? new Map<number, number>();
    const count = (lane.get(block) ?? 0) + delta;
    if (count === 0) lane.delete(block);
    else lane.set(block, count);
    if (lane.size === 0) this.lanes.delete(score);
    else this.lanes.set(score, lane);
    const size = (this.laneSizes.get(score) ?? 0) + delta;
    if (size === 0) this.laneSizes.delete(score);
    else this.laneSizes.set(score, size);
  }
}
