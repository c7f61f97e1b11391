/**
 * The coordinator's SQLite tables and every statement that touches them.
 *
 * Design: one `jobs` table with a `state` column (BullMQ's Postgres layout). The ready heap is
 * the partial index `jobs_ready (score DESC, seq ASC) WHERE state = 'queued'`, so the next job
 * to run is one index seek, and a restart loses nothing. Queries name their index (INDEXED BY):
 * without statistics SQLite prefers `jobs_by_state` and sorts, reading every queued row. Jobs
 * waiting out a retry backoff are `delayed` (shown to clients as "queued") and sit in their own
 * index by due time; dispatched and running jobs by lease expiry; ended jobs by record expiry.
 * The alarm is set to the earliest of those three.
 * `counters` keeps per-state counts and totals up to date inside the same transaction as the
 * change, so stats and capacity checks never scan. Times are epoch ms, named `*_ms`.
 */
import type { JobState, JobType, Priority } from "../jobs";
import { CLOSED, type Circuit } from "./circuit";

export type JobRow = {
  id: string;
  seq: number;
  type: JobType;
  payload: string;
  body_hash: string;
  priority: Priority;
  score: number;
  state: JobState;
  /** Dispatch number. A delivery or report must name the current attempt to be heard. */
  attempt: number;
  retry_count: number;
  max_retries: number;
  progress: number;
  current_step: string | null;
  thread_id: string | null;
  run_id: string | null;
  result: string | null;
  error: string | null;
  enqueued_at_ms: number;
  started_at_ms: number | null;
  attempt_started_at_ms: number | null;
  ended_at_ms: number | null;
  next_retry_at_ms: number | null;
  lease_until_ms: number | null;
  expires_at_ms: number | null;
  /** When this job's attempts first found LangGraph unreachable, until one finds it answering. */
  outage_since_ms: number | null;
};

export type EventRow = {
  at_ms: number;
  event: string;
  attempt: number;
  detail: string | null;
};

type Mutable = Omit<JobRow, "id" | "seq" | "type" | "payload" | "body_hash" | "priority" | "score" | "enqueued_at_ms" | "max_retries">;
export type JobUpdate = Partial<Mutable>;

/** Column names an update may set: fixed here, never taken from input. */
const UPDATABLE = new Set<keyof Mutable>([
  "state", "attempt", "retry_count", "progress", "current_step", "thread_id", "run_id",
  "result", "error", "started_at_ms", "attempt_started_at_ms", "ended_at_ms", "next_retry_at_ms",
  "lease_until_ms", "expires_at_ms", "outage_since_ms",
]);

const SCHEMA_VERSION = 4;

const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE jobs (
      id TEXT PRIMARY KEY,
      seq INTEGER NOT NULL UNIQUE,
      type TEXT NOT NULL,
      payload TEXT NOT NULL,
      body_hash TEXT NOT NULL,
      priority TEXT NOT NULL,
      score INTEGER NOT NULL,
      state TEXT NOT NULL,
      attempt INTEGER NOT NULL DEFAULT 0,
      claimed INTEGER NOT NULL DEFAULT 0,
      retry_count INTEGER NOT NULL DEFAULT 0,
      max_retries INTEGER NOT NULL,
      progress INTEGER NOT NULL DEFAULT 0,
      current_step TEXT,
      thread_id TEXT,
      run_id TEXT,
      result TEXT,
      error TEXT,
      enqueued_at_ms INTEGER NOT NULL,
      started_at_ms INTEGER,
      attempt_started_at_ms INTEGER,
      ended_at_ms INTEGER,
      next_retry_at_ms INTEGER,
      lease_until_ms INTEGER,
      expires_at_ms INTEGER
    );
    CREATE INDEX jobs_ready ON jobs (score DESC, seq ASC) WHERE state = 'queued';
    CREATE INDEX jobs_delayed ON jobs (next_retry_at_ms) WHERE state = 'delayed';
    CREATE INDEX jobs_leased ON jobs (lease_until_ms) WHERE state = 'running';
    CREATE INDEX jobs_expiring ON jobs (expires_at_ms) WHERE expires_at_ms IS NOT NULL;
    CREATE INDEX jobs_by_state ON jobs (state, seq);
    CREATE TABLE job_events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      job_id TEXT NOT NULL,
      at_ms INTEGER NOT NULL,
      event TEXT NOT NULL,
      attempt INTEGER NOT NULL,
      detail TEXT
    );
    CREATE INDEX job_events_by_job ON job_events (job_id, seq);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  `,
  // A dispatched job nobody has taken on yet is its own state, no longer `running` with claimed = 0.
  2: `
    UPDATE jobs SET state = 'dispatched' WHERE state = 'running' AND claimed = 0;
    UPDATE counters SET value = (SELECT COUNT(*) FROM jobs WHERE state = 'running') WHERE name = 'state:running';
    INSERT INTO counters (name, value) SELECT 'state:dispatched', COUNT(*) FROM jobs WHERE state = 'dispatched';
    ALTER TABLE jobs DROP COLUMN claimed;
    DROP INDEX jobs_leased;
    CREATE INDEX jobs_leased ON jobs (lease_until_ms) WHERE state IN ('dispatched', 'running');
  `,
  // LangGraph outages: a job put back because LangGraph was unreachable remembers since when.
  3: `
    ALTER TABLE jobs ADD COLUMN outage_since_ms INTEGER;
  `,
  // Counters keyed by name alone (WITHOUT ROWID): a bump writes one row, not a row and its index entry.
  4: `
    CREATE TABLE counters_by_name (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO counters_by_name SELECT name, value FROM counters;
    DROP TABLE counters;
    ALTER TABLE counters_by_name RENAME TO counters;
  `,
};

export interface Counters {
  queued: number;
  delayed: number;
  dispatched: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Lifetime totals, kept after records expire. */
  completedTotal: number;
  failedTotal: number;
  processMsTotal: number;
}

const STATE_COUNTER = (state: JobState) => `state:${state}`;

/** Where a queued job stands in `listQueued`'s order: a dispatched job ahead of every score. */
const DISPATCHED_RANK = 1000;
const DISPATCH_RANK_SQL = `CASE state WHEN 'dispatched' THEN ${DISPATCHED_RANK} ELSE score END`;
export const dispatchRank = (job: Pick<JobRow, "state" | "score">): number => (job.state === "dispatched" ? DISPATCHED_RANK : job.score);

export class JobStore {
  /** SQLite rows read and written since this object was made: what the benchmarks report. */
  readonly io = { rowsRead: 0, rowsWritten: 0 };

  constructor(private readonly sql: SqlStorage) {}

  private query<T extends Record<string, SqlStorageValue>>(statement: string, ...params: SqlStorageValue[]): T[] {
    const cursor = this.sql.exec<T>(statement, ...params);
    const rows = cursor.toArray();
    this.io.rowsRead += cursor.rowsRead;
    this.io.rowsWritten += cursor.rowsWritten;
    return rows;
  }

  private run(statement: string, ...params: SqlStorageValue[]): void {
    this.query(statement, ...params);
  }

  /** Creates or upgrades the schema; the version lives in a meta row (DO SQLite has no user_version). */
  migrate(): void {
    this.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    const row = this.query<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'")[0];
    for (let version = Number(row?.value ?? 0) + 1; version <= SCHEMA_VERSION; version++) {
      this.sql.exec(MIGRATIONS[version]!);
      this.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", String(version));
    }
  }

  get(id: string): JobRow | null {
    return this.query<JobRow>("SELECT * FROM jobs WHERE id = ?", id)[0] ?? null;
  }

  insert(job: Omit<JobRow, "seq">): JobRow {
    const seq = this.bump("seq", 1);
    const row: JobRow = { ...job, seq };
    const columns = Object.keys(row);
    this.run(
      `INSERT INTO jobs (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
      ...Object.values(row),
    );
    this.bump(STATE_COUNTER(row.state), 1);
    return row;
  }

  /** Applies `update` to the job and keeps the per-state counters in step. */
  update(job: JobRow, update: JobUpdate): JobRow {
    const entries = Object.entries(update).filter(([column]) => UPDATABLE.has(column as keyof Mutable));
    if (entries.length === 0) return job;
    this.run(
      `UPDATE jobs SET ${entries.map(([column]) => `${column} = ?`).join(", ")} WHERE id = ?`,
      ...entries.map(([, value]) => value as SqlStorageValue),
      job.id,
    );
    if (update.state && update.state !== job.state) {
      this.bump(STATE_COUNTER(job.state), -1);
      this.bump(STATE_COUNTER(update.state), 1);
    }
    return { ...job, ...update };
  }

  delete(job: JobRow): void {
    this.run("DELETE FROM jobs WHERE id = ?", job.id);
    this.run("DELETE FROM job_events WHERE job_id = ?", job.id);
    this.bump(STATE_COUNTER(job.state), -1);
  }

  /** The best `limit` ready jobs: highest score, then oldest. One seek on jobs_ready. */
  nextReady(limit: number): JobRow[] {
    return this.query<JobRow>("SELECT * FROM jobs INDEXED BY jobs_ready WHERE state = 'queued' ORDER BY score DESC, seq ASC LIMIT ?", limit);
  }

  /** The probe a half-open circuit sends: the best ready job that has not met the outage, else the best. */
  nextProbe(): JobRow[] {
    return this.query<JobRow>(
      "SELECT * FROM jobs INDEXED BY jobs_ready WHERE state = 'queued' ORDER BY outage_since_ms IS NOT NULL, score DESC, seq ASC LIMIT 1",
    );
  }

  /**
   * Ready jobs that will be dispatched before `job`: two range scans of jobs_ready (an OR of
   * the two conditions would scan the whole index). Costs one row per job ahead.
   */
  countAhead(job: Pick<JobRow, "score" | "seq">): number {
    return this.query<{ n: number }>(
      `SELECT (SELECT COUNT(*) FROM jobs INDEXED BY jobs_ready WHERE state = 'queued' AND score > ?)
            + (SELECT COUNT(*) FROM jobs INDEXED BY jobs_ready WHERE state = 'queued' AND score = ? AND seq < ?) AS n`,
      job.score, job.score, job.seq,
    )[0]!.n;
  }

  dueRetries(now: number): JobRow[] {
    return this.query<JobRow>("SELECT * FROM jobs INDEXED BY jobs_delayed WHERE state = 'delayed' AND next_retry_at_ms <= ?", now);
  }

  expiredLeases(now: number): JobRow[] {
    return this.query<JobRow>("SELECT * FROM jobs INDEXED BY jobs_leased WHERE state IN ('dispatched', 'running') AND lease_until_ms <= ?", now);
  }

  runningSince(startedBeforeMs: number): JobRow[] {
    return this.query<JobRow>("SELECT * FROM jobs WHERE state = 'running' AND attempt_started_at_ms <= ?", startedBeforeMs);
  }

  expiredRecords(now: number): JobRow[] {
    return this.query<JobRow>("SELECT * FROM jobs INDEXED BY jobs_expiring WHERE expires_at_ms <= ?", now);
  }

  /** Jobs in one of `states` with a LangGraph run, that ended at or after `endedSinceMs` if they ended. */
  withRuns(states: JobState[], endedSinceMs: number): JobRow[] {
    return this.query<JobRow>(
      `SELECT * FROM jobs WHERE state IN (SELECT value FROM json_each(?)) AND run_id IS NOT NULL
       AND (ended_at_ms IS NULL OR ended_at_ms >= ?)`,
      JSON.stringify(states), endedSinceMs,
    );
  }

  /** The queue's circuit breaker for LangGraph (circuit.ts), kept as a meta row. */
  circuit(): Circuit {
    const row = this.query<{ value: string }>("SELECT value FROM meta WHERE key = 'circuit'")[0];
    return row ? (JSON.parse(row.value) as Circuit) : CLOSED;
  }

  saveCircuit(circuit: Circuit): void {
    this.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('circuit', ?)", JSON.stringify(circuit));
  }

  /** Average run time of completed jobs of `type`, or null before the first. */
  typeAverageMs(type: string): number | null {
    const rows = this.query<{ name: string; value: number }>(
      "SELECT name, value FROM counters WHERE name IN (?, ?)", `completed:${type}`, `process_ms:${type}`,
    );
    const completed = rows.find((r) => r.name.startsWith("completed:"))?.value ?? 0;
    const totalMs = rows.find((r) => r.name.startsWith("process_ms:"))?.value ?? 0;
    return completed > 0 ? totalMs / completed : null;
  }

  /** The earliest time any timer is due: a retry, a lease expiry or a record expiry. */
  nextTimerMs(): number | null {
    return this.query<{ at: number | null }>(
      `SELECT MIN(at) AS at FROM (
         SELECT MIN(next_retry_at_ms) AS at FROM jobs INDEXED BY jobs_delayed WHERE state = 'delayed'
         UNION ALL SELECT MIN(lease_until_ms) FROM jobs INDEXED BY jobs_leased WHERE state IN ('dispatched', 'running')
         UNION ALL SELECT MIN(expires_at_ms) FROM jobs INDEXED BY jobs_expiring WHERE expires_at_ms IS NOT NULL)`,
    )[0]!.at;
  }

  /**
   * Queued jobs as clients see them (ready, waiting to retry, or dispatched) in dispatch order:
   * dispatched ones first, as they are leaving, then by score and age; after the cursor `[rank, seq]`.
   */
  listQueued(limit: number, after: [number, number] | null): JobRow[] {
    const [rank, seq] = after ?? [Number.MAX_SAFE_INTEGER, -1];
    return this.query<JobRow>(
      `SELECT * FROM jobs WHERE state IN ('queued', 'delayed', 'dispatched')
         AND (${DISPATCH_RANK_SQL} < ? OR (${DISPATCH_RANK_SQL} = ? AND seq > ?))
       ORDER BY ${DISPATCH_RANK_SQL} DESC, seq ASC LIMIT ?`,
      rank, rank, seq, limit,
    );
  }

  /** Jobs in `state` (or any state), newest first, before the cursor `seq`. */
  listNewest(state: JobState | null, limit: number, beforeSeq: number | null): JobRow[] {
    const before = beforeSeq ?? Number.MAX_SAFE_INTEGER;
    return state === null
      ? this.query<JobRow>("SELECT * FROM jobs WHERE seq < ? ORDER BY seq DESC LIMIT ?", before, limit)
      : this.query<JobRow>("SELECT * FROM jobs WHERE state = ? AND seq < ? ORDER BY seq DESC LIMIT ?", state, before, limit);
  }

  addEvent(jobId: string, event: EventRow): void {
    this.run(
      "INSERT INTO job_events (job_id, at_ms, event, attempt, detail) VALUES (?, ?, ?, ?, ?)",
      jobId, event.at_ms, event.event, event.attempt, event.detail,
    );
  }

  events(jobId: string): EventRow[] {
    return this.query<EventRow>("SELECT at_ms, event, attempt, detail FROM job_events WHERE job_id = ? ORDER BY seq", jobId);
  }

  counters(): Counters {
    const values = new Map(
      this.query<{ name: string; value: number }>("SELECT name, value FROM counters").map((r) => [r.name, r.value]),
    );
    const get = (name: string) => values.get(name) ?? 0;
    return {
      queued: get(STATE_COUNTER("queued")),
      delayed: get(STATE_COUNTER("delayed")),
      dispatched: get(STATE_COUNTER("dispatched")),
      running: get(STATE_COUNTER("running")),
      completed: get(STATE_COUNTER("completed")),
      failed: get(STATE_COUNTER("failed")),
      cancelled: get(STATE_COUNTER("cancelled")),
      completedTotal: get("completed_total"),
      failedTotal: get("failed_total"),
      processMsTotal: get("process_ms_total"),
    };
  }

  /** Adds `delta` to a counter and returns its new value. */
  bump(name: string, delta: number): number {
    return this.query<{ value: number }>(
      `INSERT INTO counters (name, value) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET value = value + excluded.value RETURNING value`,
      name, delta,
    )[0]!.value;
  }
}
