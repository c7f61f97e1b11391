/**
 * Reads no change depends on: the pages `list` and a bulk retry work through, and a job's history
 * (whole, its tail for a live stream, the times of its last dispatch). Through the store's own
 * statement runner, so that what they read is counted with the rest (JobStore.io).
 */
import type { JobState } from "../jobs";
import { BY_STATE } from "./job-indexes";
import { JOB, type JobEvent, type JobRow } from "./job-row";

/** Runs one statement and returns its rows (JobStore's, which counts rows read and written). */
export type Query = <T extends Record<string, SqlStorageValue>>(statement: string, ...params: SqlStorageValue[]) => T[];

/**
 * Where a queued job stands in `listQueued`'s order: a dispatched job ahead of every score, one
 * waiting for its thread behind them all (it cannot go before the job ahead of it on its thread ends).
 */
const DISPATCHED_RANK = 1000;
const WAITING_RANK = 0;
const DISPATCH_RANK_SQL = `CASE state WHEN 'dispatched' THEN ${DISPATCHED_RANK} WHEN 'waiting' THEN ${WAITING_RANK} ELSE score END`;
export const dispatchRank = (job: Pick<JobRow, "state" | "score">): number =>
  job.state === "dispatched" ? DISPATCHED_RANK : job.state === "waiting" ? WAITING_RANK : job.score;

export class JobReads {
  constructor(private readonly query: Query) {}

  /**
   * Queued jobs as clients see them (ready, waiting to retry, dispatched, or waiting for their
   * thread) in dispatch order: dispatched ones first, as they are leaving, then by score and age,
   * those waiting for their thread last; after the cursor `[rank, seq]`.
   */
  listQueued(limit: number, after: [number, number] | null): JobRow[] {
    const [rank, seq] = after ?? [Number.MAX_SAFE_INTEGER, -1];
    return this.query<JobRow & { rank: number }>(
      `SELECT * FROM (
         SELECT ${JOB}, ${DISPATCH_RANK_SQL} AS rank FROM jobs ${BY_STATE.queued}
         UNION ALL SELECT ${JOB}, ${DISPATCH_RANK_SQL} FROM jobs ${BY_STATE.delayed}
         UNION ALL SELECT ${JOB}, ${DISPATCH_RANK_SQL} FROM jobs ${BY_STATE.dispatched}
         UNION ALL SELECT ${JOB}, ${DISPATCH_RANK_SQL} FROM jobs ${BY_STATE.waiting})
       WHERE rank < ? OR (rank = ? AND seq > ?)
       ORDER BY rank DESC, seq ASC LIMIT ?`,
      rank, rank, seq, limit,
    ).map(({ rank: _rank, ...job }) => job);
  }

  /** Jobs in `state` (or any state), newest first, before the cursor `seq`. */
  listNewest(state: JobState | null, limit: number, beforeSeq: number | null): JobRow[] {
    const before = beforeSeq ?? Number.MAX_SAFE_INTEGER;
    return state === null
      ? this.query<JobRow>(`SELECT ${JOB} FROM jobs WHERE seq < ? ORDER BY seq DESC LIMIT ?`, before, limit)
      : this.query<JobRow>(`SELECT ${JOB} FROM jobs ${BY_STATE[state]} AND seq < ? ORDER BY seq DESC LIMIT ?`, before, limit);
  }

  /** Jobs in an ended `state`, oldest first, after the cursor `seq`: the pages a bulk retry works through. */
  listOldestEnded(state: "failed" | "cancelled", limit: number, afterSeq: number): JobRow[] {
    return this.query<JobRow>(`SELECT ${JOB} FROM jobs ${BY_STATE[state]} AND seq > ? ORDER BY seq ASC LIMIT ?`, afterSeq, limit);
  }

  /** How many entries the job's history has, and those after the first `after` (a live stream's catch-up), or null for no such job. */
  historySince(jobId: string, after: number): { count: number; events: JobEvent[] } | null {
    const row = this.query<{ count: number; tail: string }>(
      "SELECT json_array_length(history) AS count, (SELECT json_group_array(json(value)) FROM json_each(jobs.history) WHERE key >= ?) AS tail FROM jobs WHERE id = ?",
      after, jobId,
    )[0];
    return row ? { count: row.count, events: JSON.parse(row.tail) as JobEvent[] } : null;
  }

  /**
   * When a dispatched job became ready (enqueued or requeued: its history's entry before the last)
   * and when it was dispatched (the last, its `dispatched`), for the metrics of its claim. Null when
   * the last entry is not the dispatch of its current attempt (a history past MAX_HISTORY_BYTES).
   */
  dispatchTimes(job: Pick<JobRow, "seq" | "attempt">): { readyAtMs: number; dispatchedAtMs: number } | null {
    const row = this.query<{ ready: number | null; dispatched: number | null; event: string | null; attempt: number | null }>(
      `SELECT json_extract(history, '$[#-2].at_ms') AS ready, json_extract(history, '$[#-1].at_ms') AS dispatched,
         json_extract(history, '$[#-1].event') AS event, json_extract(history, '$[#-1].attempt') AS attempt FROM jobs WHERE seq = ?`,
      job.seq,
    )[0];
    if (!row || row.event !== "dispatched" || row.attempt !== job.attempt || row.ready === null || row.dispatched === null) return null;
    return { readyAtMs: row.ready, dispatchedAtMs: row.dispatched };
  }

  /** The job's history, oldest first. */
  events(jobId: string): JobEvent[] | null {
    const row = this.query<{ history: string }>("SELECT history FROM jobs WHERE id = ?", jobId)[0];
    return row ? (JSON.parse(row.history) as JobEvent[]) : null;
  }
}
