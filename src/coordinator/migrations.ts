/**
 * The coordinator's schema, as numbered steps from an empty database. The version lives in a
 * meta row (Durable Object SQLite has no PRAGMA user_version); JobStore.migrate applies the
 * missing steps in one transaction when the object starts. A step is never edited once
 * released: a change is a new step.
 */

export const SCHEMA_VERSION = 9;

/** Exported for the migration test, which builds an older schema to upgrade. */
export const MIGRATIONS: Record<number, string> = {
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
  // Rows written per job cut from 43 to under 20 (issue #8): seq is the rowid (no separate unique
  // index), the history moves into the job's row, the counters into one meta row, and the index
  // over every job by state gives way to one over ended jobs (the other states have their own).
  5: `
    CREATE TABLE jobs_v5 (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      type TEXT NOT NULL,
      payload TEXT NOT NULL,
      body_hash TEXT NOT NULL,
      priority TEXT NOT NULL,
      score INTEGER NOT NULL,
      state TEXT NOT NULL,
      attempt INTEGER NOT NULL DEFAULT 0,
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
      expires_at_ms INTEGER,
      outage_since_ms INTEGER,
      history TEXT NOT NULL DEFAULT '[]'
    );
    INSERT INTO jobs_v5 (id, seq, type, payload, body_hash, priority, score, state, attempt, retry_count, max_retries, progress, current_step, thread_id, run_id, result, error, enqueued_at_ms, started_at_ms, attempt_started_at_ms, ended_at_ms, next_retry_at_ms, lease_until_ms, expires_at_ms, outage_since_ms, history)
      SELECT id, seq, type, payload, body_hash, priority, score, state, attempt, retry_count, max_retries, progress, current_step, thread_id, run_id, result, error, enqueued_at_ms, started_at_ms, attempt_started_at_ms, ended_at_ms, next_retry_at_ms, lease_until_ms, expires_at_ms, outage_since_ms, (
        SELECT json_group_array(json_object('at_ms', at_ms, 'event', event, 'attempt', attempt, 'detail', json(coalesce(detail, '{}'))))
        FROM (SELECT * FROM job_events WHERE job_events.job_id = jobs.id ORDER BY job_events.seq)
      ) FROM jobs;
    DROP TABLE job_events;
    DROP TABLE jobs;
    ALTER TABLE jobs_v5 RENAME TO jobs;
    CREATE INDEX jobs_ready ON jobs (score DESC, seq ASC) WHERE state = 'queued';
    CREATE INDEX jobs_delayed ON jobs (next_retry_at_ms) WHERE state = 'delayed';
    CREATE INDEX jobs_leased ON jobs (lease_until_ms) WHERE state IN ('dispatched', 'running');
    CREATE INDEX jobs_expiring ON jobs (expires_at_ms) WHERE expires_at_ms IS NOT NULL;
    CREATE INDEX jobs_ended ON jobs (state, seq) WHERE ended_at_ms IS NOT NULL;
    INSERT OR REPLACE INTO meta (key, value) SELECT 'counters', json_group_object(name, value) FROM counters;
    DROP TABLE counters;
  `,
  // A repeated enqueue compares the stored body itself, so a new job is not hashed (issue #8).
  6: `
    ALTER TABLE jobs DROP COLUMN body_hash;
  `,
  // Issue #13: deliveries of the current attempt that reached the coordinator (a dead-lettered
  // delivery that never did is not the job's fault); stalls (lapsed leases, which spend no retry
  // up to a limit); where a result too large for the row is kept; and the run that was current
  // when the job met an outage (a run that lived through one may be one LangGraph lost).
  7: `
    ALTER TABLE jobs ADD COLUMN deliveries INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN stalls INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN result_ref TEXT;
    ALTER TABLE jobs ADD COLUMN outage_run_id TEXT;
  `,
  // Issue #14, LangGraph-native jobs: the assistant and run options a job's runs are created with;
  // threads a client chose (their jobs take turns: jobs_thread finds who is next); a job's own
  // time limit; deadlines (a running attempt's timeout, an interrupt's wait) under one index,
  // which also lists interrupted jobs; an interrupt's questions and the answer that resumes it; since when LangGraph has found the
  // job's thread busy with a run not its own.
  8: `
    ALTER TABLE jobs ADD COLUMN assistant_id TEXT;
    ALTER TABLE jobs ADD COLUMN run_options TEXT;
    ALTER TABLE jobs ADD COLUMN shared_thread INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN timeout_ms INTEGER;
    ALTER TABLE jobs ADD COLUMN deadline_ms INTEGER;
    ALTER TABLE jobs ADD COLUMN interrupts TEXT;
    ALTER TABLE jobs ADD COLUMN resume TEXT;
    ALTER TABLE jobs ADD COLUMN busy_since_ms INTEGER;
    CREATE INDEX jobs_deadline ON jobs (deadline_ms) WHERE deadline_ms IS NOT NULL;
    CREATE INDEX jobs_thread ON jobs (thread_id, seq) WHERE shared_thread = 1 AND ended_at_ms IS NULL;
  `,
  // Issue #16, the `throughput` action: per minute, jobs completed and failed, and the waits and
  // run times behind their averages. The minute under way is kept in the counters row (metrics.ts);
  // a row is written here once the minute is over, and rows older than an hour are deleted then.
  9: `
    CREATE TABLE throughput (
      minute_ms INTEGER PRIMARY KEY,
      completed INTEGER NOT NULL,
      failed INTEGER NOT NULL,
      waits INTEGER NOT NULL,
      wait_ms INTEGER NOT NULL,
      process_ms INTEGER NOT NULL
    );
  `,
};
