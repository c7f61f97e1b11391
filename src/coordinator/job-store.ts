/**
 * The coordinator's SQLite tables and the statements that touch them: here, but for the reads of
 * list pages and histories (job-reads.ts, through this store's statement runner) and the
 * `throughput` table (metrics.ts).
 *
 * Design: one `jobs` table with a `state` column (BullMQ's Postgres layout), keyed by `seq`
 * (the rowid: enqueue order). The ready heap is the partial index
 * `jobs_ready (score DESC, seq ASC) WHERE state = 'queued'`, so the next job to run is one index
 * seek, and a restart loses nothing. Queries name their index (INDEXED BY): without statistics
 * SQLite may pick another and sort. Jobs waiting out a retry backoff are `delayed` (shown to
 * clients as "queued") and sit in their own index by due time; dispatched and running jobs by
 * lease expiry; ended jobs by record expiry and by state. The alarm is never later than the
 * earliest timer (alarm.ts).
 *
 * What a write costs is what Cloudflare bills (rows written, index entries included), so:
 * - a job's history is a JSON array in its own row, appended by the same UPDATE that changes
 *   the job: an event costs no row of its own, and deleting the job deletes its history;
 * - the counters behind stats, capacity and averages are one JSON row in `meta`, kept in memory
 *   and written once at the end of each transaction that changed them;
 * - there is no index over every job by state: each state has its own small partial index.
 * Times are epoch ms, named `*_ms`.
 */
import { isTerminal, type JobState } from "../jobs";
import { log } from "../log";
import { CLOSED, type Circuit } from "./circuit";
import { HAS_DEADLINE, JOB, UPDATABLE, type JobBody, type JobEvent, type JobRow, type JobUpdate, type Mutable } from "./job-row";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations";
import { BY_STATE, ON_SHARED_THREAD } from "./job-indexes";
import { JobReads } from "./job-reads";
import { BLOCK_SIZE, blockOf, ReadyPositions } from "./positions";

export type { JobBody, JobEvent, JobRow, JobUpdate } from "./job-row";
export { dispatchRank } from "./job-reads";

/**
 * A history grows no further past this many bytes, but for the event that ends the job: with a
 * result (1 MiB at most) and a payload (64 KiB) it stays well under a row's 2 MB. Every event is
 * in the log all the same.
 */
export const MAX_HISTORY_BYTES = 256 * 1024;

/**
 * What a committed transaction changed: the jobs it touched, the history entries it appended, and
 * whether the queue itself changed (paused or unpaused): what live status pushes.
 */
export interface Changes {
  jobs: Set<string>;
  events: { jobId: string; state: JobState; event: JobEvent }[];
  queue: boolean;
}

export interface Counters {
  queued: number;
  delayed: number;
  dispatched: number;
  waiting: number;
  running: number;
  interrupted: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Lifetime totals, kept after records expire. */
  completedTotal: number;
  failedTotal: number;
  processMsTotal: number;
}

const STATE_COUNTER = (state: JobState) => `state:${state}`;

export class JobStore {
  /** SQLite rows read and written since this object was made: what the benchmarks report. */
  readonly io = { rowsRead: 0, rowsWritten: 0 };
  /** The pages of `list` and a bulk retry, and reads of a job's history (job-reads.ts), through this store's statements. */
  readonly reads = new JobReads((statement, ...params) => this.query(statement, ...params));
  /** Read from the meta row when first needed (after the schema exists), then kept here. */
  private counts: Map<string, number> | null = null;
  private countsChanged = false;
  private cachedCircuit: Circuit | null = null;
  private cachedPaused: boolean | null = null;
  private positions: ReadyPositions | null = null;
  private inTransaction = false;
  private changes: Changes = { jobs: new Set(), events: [], queue: false };
  /** Called with what a transaction changed, once it has committed (watchers.ts pushes it to live status streams). */
  onCommit: (changes: Changes) => void = () => {};

  constructor(private readonly storage: DurableObjectStorage) {}

  private get sql(): SqlStorage {
    return this.storage.sql;
  }

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
    // All or nothing: a step that fails leaves the schema (and its version) as it was.
    this.storage.transactionSync(() => {
      this.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
      const row = this.query<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'")[0];
      for (let version = Number(row?.value ?? 0) + 1; version <= SCHEMA_VERSION; version++) {
        this.sql.exec(MIGRATIONS[version]!);
        this.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", String(version));
      }
    });
    this.forgetCaches();
  }

  /**
   * Runs `change` as one transaction and writes the counters it changed as one row at its end.
   * If it throws, SQLite rolls back, and so do the caches: they are read again when next needed.
   */
  transaction<T>(change: () => T): T {
    // A nested one that failed would reload the counters without the outer one's changes.
    if (this.inTransaction) throw new Error("store transactions do not nest");
    this.inTransaction = true;
    this.changes = { jobs: new Set(), events: [], queue: false };
    let result: T;
    try {
      result = this.storage.transactionSync(() => {
        const outcome = change();
        if (this.countsChanged) {
          this.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('counters', ?)", JSON.stringify(Object.fromEntries(this.counterValues())));
          this.countsChanged = false;
        }
        return outcome;
      });
    } catch (error) {
      this.forgetCaches();
      throw error;
    } finally {
      this.inTransaction = false;
    }
    if (this.changes.jobs.size > 0 || this.changes.queue) {
      try {
        this.onCommit(this.changes);
      } catch (error) {
        // The change is committed: telling watchers of it must never fail the request that made it.
        log({ event: "publish_failed", error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, "error");
      }
    }
    return result;
  }

  private forgetCaches(): void {
    this.counts = null;
    this.countsChanged = false;
    this.cachedCircuit = null;
    this.cachedPaused = null;
    this.positions = null;
  }

  private counterValues(): Map<string, number> {
    if (!this.counts) {
      const row = this.query<{ value: string }>("SELECT value FROM meta WHERE key = 'counters'")[0];
      this.counts = new Map(Object.entries(row ? (JSON.parse(row.value) as Record<string, number>) : {}));
    }
    return this.counts;
  }

  get(id: string): JobRow | null {
    return this.query<JobRow>(`SELECT ${JOB} FROM jobs WHERE id = ?`, id)[0] ?? null;
  }

  /**
   * The body (type, payload, thread, assistant, run options, time limit) of each named job that
   * exists, which tells a repeated enqueue from a conflict: one statement for a whole batch.
   */
  bodies(ids: string[]): Map<string, JobBody> {
    const rows = this.query<Pick<JobRow, "id" | "type" | "payload" | "assistant_id" | "thread_id" | "shared_thread" | "run_options" | "timeout_ms">>(
      `SELECT id, type, payload, assistant_id, thread_id, shared_thread, run_options, timeout_ms FROM jobs
       WHERE id IN (SELECT value FROM json_each(?))`, JSON.stringify(ids),
    );
    return new Map(rows.map((row) => [row.id, {
      type: row.type, payload: JSON.parse(row.payload) as unknown, assistantId: row.assistant_id ?? row.type,
      threadId: row.shared_thread ? row.thread_id : null, runOptions: row.run_options === null ? null : (JSON.parse(row.run_options) as unknown),
      timeoutMs: row.timeout_ms,
    }]));
  }

  /** Adds a job with the first event of its history. */
  insert(job: Omit<JobRow, "seq">, event: JobEvent): JobRow {
    const row: JobRow = { ...job, seq: this.bump("seq", 1) };
    const columns = Object.keys(row);
    this.run(
      `INSERT INTO jobs (${columns.join(", ")}, history) VALUES (${columns.map(() => "?").join(", ")}, json_array(json(?)))`,
      ...Object.values(row), JSON.stringify(event),
    );
    this.bump(STATE_COUNTER(row.state), 1);
    if (row.state === "queued") this.positions?.enter(row.score, row.seq);
    this.changed(row, row.state, [event]);
    return row;
  }

  /**
   * Applies `update` to the job, appends `events` to its history, in one statement, and keeps
   * the counters and positions in step.
   */
  update(job: JobRow, update: JobUpdate, ...events: JobEvent[]): JobRow {
    // A deadline belongs to the state it was set in: leaving that state clears it.
    if (update.state !== undefined && !HAS_DEADLINE.has(update.state) && job.deadline_ms !== null && update.deadline_ms === undefined) {
      update = { ...update, deadline_ms: null };
    }
    const entries = Object.entries(update).filter(([column]) => UPDATABLE.has(column as keyof Mutable));
    const sets = entries.map(([column]) => `${column} = ?`);
    if (events.length > 0) {
      const append = `json_insert(history, ${events.map(() => "'$[#]', json(?)").join(", ")})`;
      const ends = update.state !== undefined && isTerminal(update.state);
      sets.push(ends ? `history = ${append}` : `history = CASE WHEN length(history) < ${MAX_HISTORY_BYTES} THEN ${append} ELSE history END`);
    }
    if (sets.length === 0) return job;
    this.run(
      `UPDATE jobs SET ${sets.join(", ")} WHERE seq = ?`,
      ...entries.map(([, value]) => value as SqlStorageValue), ...events.map((event) => JSON.stringify(event)), job.seq,
    );
    if (update.state && update.state !== job.state) {
      this.bump(STATE_COUNTER(job.state), -1);
      this.bump(STATE_COUNTER(update.state), 1);
      if (job.state === "queued") this.positions?.leave(job.score, job.seq);
      if (update.state === "queued") this.positions?.enter(job.score, job.seq);
    }
    this.changed(job, update.state ?? job.state, events);
    return { ...job, ...update };
  }

  private changed(job: Pick<JobRow, "id">, state: JobState, events: JobEvent[]): void {
    this.changes.jobs.add(job.id);
    for (const event of events) this.changes.events.push({ jobId: job.id, state, event });
  }

  delete(job: JobRow): void {
    this.changes.jobs.add(job.id);
    this.run("DELETE FROM jobs WHERE seq = ?", job.seq);
    this.bump(STATE_COUNTER(job.state), -1);
    if (job.state === "queued") this.positions?.leave(job.score, job.seq);
  }

  /** The best `limit` ready jobs: highest score, then oldest. One seek on jobs_ready. */
  nextReady(limit: number): JobRow[] {
    return this.query<JobRow>(`SELECT ${JOB} FROM jobs ${BY_STATE.queued} ORDER BY score DESC, seq ASC LIMIT ?`, limit);
  }

  /** The probe a half-open circuit sends: the best ready job that has not met the outage, else the best. */
  nextProbe(): JobRow[] {
    return this.query<JobRow>(`SELECT ${JOB} FROM jobs ${BY_STATE.queued} ORDER BY outage_since_ms IS NOT NULL, score DESC, seq ASC LIMIT 1`);
  }

  /**
   * Ready jobs that will be dispatched before `job`. `newerInLane`, when the caller knows it:
   * ready jobs of the same score with a larger seq (0 for a job just enqueued). Otherwise the
   * jobs ahead in its own block of seqs are counted: at most BLOCK_SIZE index rows.
   */
  countAhead(job: Pick<JobRow, "score" | "seq">, newerInLane?: number): number {
    const positions = this.readyPositions();
    const higher = positions.inHigherLanes(job.score);
    if (newerInLane !== undefined) return higher + positions.laneSize(job.score) - 1 - newerInLane;
    const blockStart = blockOf(job.seq) * BLOCK_SIZE;
    const inBlock = this.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM jobs ${BY_STATE.queued} AND score = ? AND seq >= ? AND seq < ?`, job.score, blockStart, job.seq,
    )[0]!.n;
    return higher + positions.inEarlierBlocks(job.score, job.seq) + inBlock;
  }

  /** Ready jobs that would go before a job of `score` entering the ready state now: all of higher lanes and of its own. */
  countAheadOfNewcomer(score: number): number {
    const positions = this.readyPositions();
    return positions.inHigherLanes(score) + positions.laneSize(score);
  }

  /** Built from the ready index the first time a position is asked for, then kept in step. */
  private readyPositions(): ReadyPositions {
    this.positions ??= new ReadyPositions(this.query<{ score: number; block: number; jobs: number }>(
      `SELECT score, seq / ${BLOCK_SIZE} AS block, COUNT(*) AS jobs FROM jobs ${BY_STATE.queued} GROUP BY score, block`,
    ));
    return this.positions;
  }

  dueRetries(now: number): JobRow[] {
    return this.query<JobRow>(`SELECT ${JOB} FROM jobs ${BY_STATE.delayed} AND next_retry_at_ms <= ?`, now);
  }

  expiredLeases(now: number): JobRow[] {
    return this.query<JobRow>(`SELECT ${JOB} FROM jobs INDEXED BY jobs_leased WHERE state IN ('dispatched', 'running') AND lease_until_ms <= ?`, now);
  }

  /** Running attempts past their own timeout, and interrupts waited for too long. */
  dueDeadlines(now: number): JobRow[] {
    return this.query<JobRow>(`SELECT ${JOB} FROM jobs INDEXED BY jobs_deadline WHERE deadline_ms IS NOT NULL AND deadline_ms <= ?`, now);
  }

  /** Whether a job that has not ended holds or waits for the client-chosen thread. */
  threadTaken(threadId: string): boolean {
    return this.query(`SELECT 1 FROM jobs ${ON_SHARED_THREAD} AND thread_id = ? LIMIT 1`, threadId).length > 0;
  }

  /** The job whose turn on the thread comes next: the oldest waiting for it. */
  nextOnThread(threadId: string): JobRow | null {
    return this.query<JobRow>(`SELECT ${JOB} FROM jobs ${BY_STATE.waiting} AND thread_id = ? ORDER BY seq LIMIT 1`, threadId)[0] ?? null;
  }

  runningSince(startedBeforeMs: number): JobRow[] {
    return this.query<JobRow>(`SELECT ${JOB} FROM jobs ${BY_STATE.running} AND attempt_started_at_ms <= ?`, startedBeforeMs);
  }

  expiredRecords(now: number): JobRow[] {
    return this.query<JobRow>(`SELECT ${JOB} FROM jobs INDEXED BY jobs_expiring WHERE expires_at_ms <= ?`, now);
  }

  /** Jobs in one of `states` with a LangGraph run, that ended at or after `endedSinceMs` if they ended. */
  withRuns(states: JobState[], endedSinceMs: number): JobRow[] {
    return states.flatMap((state) =>
      this.query<JobRow>(`SELECT ${JOB} FROM jobs ${BY_STATE[state]} AND run_id IS NOT NULL AND (ended_at_ms IS NULL OR ended_at_ms >= ?)`, endedSinceMs),
    ).sort((a, b) => a.seq - b.seq);
  }

  /** The queue's circuit breaker for LangGraph (circuit.ts), kept as a meta row. */
  circuit(): Circuit {
    if (this.cachedCircuit) return this.cachedCircuit;
    const row = this.query<{ value: string }>("SELECT value FROM meta WHERE key = 'circuit'")[0];
    this.cachedCircuit = row ? (JSON.parse(row.value) as Circuit) : CLOSED;
    return this.cachedCircuit;
  }

  saveCircuit(circuit: Circuit): void {
    this.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('circuit', ?)", JSON.stringify(circuit));
    this.cachedCircuit = circuit;
  }

  /** Whether an operator paused the queue (admin.ts): nothing is dispatched until it is unpaused. A meta row, so a restart keeps it. */
  paused(): boolean {
    this.cachedPaused ??= this.query("SELECT 1 FROM meta WHERE key = 'paused'").length > 0;
    return this.cachedPaused;
  }

  setPaused(paused: boolean): void {
    if (paused === this.paused()) return;
    if (paused) this.run("INSERT INTO meta (key, value) VALUES ('paused', '1')");
    else this.run("DELETE FROM meta WHERE key = 'paused'");
    this.cachedPaused = paused;
    this.changes.queue = true;
  }

  /** Average run time of completed jobs of `type`, or null before the first. */
  typeAverageMs(type: string): number | null {
    const completed = this.counter(`completed:${type}`);
    return completed > 0 ? this.counter(`process_ms:${type}`) / completed : null;
  }

  /** The earliest time any timer is due: a retry, a lease expiry, a deadline or a record expiry. */
  nextTimerMs(): number | null {
    return this.query<{ at: number | null }>(
      `SELECT MIN(at) AS at FROM (
         SELECT MIN(next_retry_at_ms) AS at FROM jobs INDEXED BY jobs_delayed WHERE state = 'delayed'
         UNION ALL SELECT MIN(lease_until_ms) FROM jobs INDEXED BY jobs_leased WHERE state IN ('dispatched', 'running')
         UNION ALL SELECT MIN(deadline_ms) FROM jobs INDEXED BY jobs_deadline WHERE deadline_ms IS NOT NULL
         UNION ALL SELECT MIN(expires_at_ms) FROM jobs INDEXED BY jobs_expiring WHERE expires_at_ms IS NOT NULL)`,
    )[0]!.at;
  }

  counters(): Counters {
    const get = (name: string) => this.counter(name);
    return {
      queued: get(STATE_COUNTER("queued")),
      delayed: get(STATE_COUNTER("delayed")),
      dispatched: get(STATE_COUNTER("dispatched")),
      waiting: get(STATE_COUNTER("waiting")),
      running: get(STATE_COUNTER("running")),
      interrupted: get(STATE_COUNTER("interrupted")),
      completed: get(STATE_COUNTER("completed")),
      failed: get(STATE_COUNTER("failed")),
      cancelled: get(STATE_COUNTER("cancelled")),
      completedTotal: get("completed_total"),
      failedTotal: get("failed_total"),
      processMsTotal: get("process_ms_total"),
    };
  }

  /** A counter's value (0 for one never bumped), as of the change under way. */
  counter(name: string): number {
    return this.counterValues().get(name) ?? 0;
  }

  /** Adds `delta` to a counter and returns its new value; written when the transaction ends. */
  bump(name: string, delta: number): number {
    const value = this.counter(name) + delta;
    this.counterValues().set(name, value);
    this.countsChanged = true;
    return value;
  }
}
