/**
 * The store on its own, on a coordinator's real SQLite storage: positions counted by blocks of
 * seqs against a plain count of the jobs ahead, across many blocks; and the upgrade of a queue
 * written by an older schema (v4: history and counters in tables of their own, a hash of each body).
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JobStore, type JobRow } from "../../src/coordinator/job-store";
import { MIGRATIONS } from "../../src/coordinator/migrations";
import { BLOCK_SIZE } from "../../src/coordinator/positions";
import { freshCoordinator } from "../support/jobs";

const SCORES = [100, 50, 10] as const;

function newJob(id: string, score: number, now: number): Omit<JobRow, "seq"> {
  return {
    id, type: "data_sync", payload: "{}", priority: score === 100 ? "high" : score === 50 ? "medium" : "low", score,
    state: "queued", attempt: 0, retry_count: 0, max_retries: 3, progress: 0, current_step: null, thread_id: null, run_id: null,
    result: null, error: null, enqueued_at_ms: now, started_at_ms: null, attempt_started_at_ms: null, ended_at_ms: null,
    next_retry_at_ms: null, lease_until_ms: null, expires_at_ms: null, outage_since_ms: null, deliveries: 0, stalls: 0, result_ref: null, outage_run_id: null,
    assistant_id: null, run_options: null, shared_thread: 0, timeout_ms: null, deadline_ms: null, interrupts: null, resume: null, busy_since_ms: null,
  };
}

/** The plain answer: ready jobs of a higher score, or of the same score and older. */
function countAheadByScan(storage: DurableObjectStorage, job: JobRow): number {
  return storage.sql.exec<{ n: number }>(
    "SELECT COUNT(*) AS n FROM jobs WHERE state = 'queued' AND (score > ? OR (score = ? AND seq < ?))", job.score, job.score, job.seq,
  ).one().n;
}

describe("queue positions", () => {
  it("agree with a plain count, across blocks, as jobs arrive, leave and come back", async () => {
    const queue = freshCoordinator();
    await runInDurableObject(queue, (_, state) => {
      const store = new JobStore(state.storage);
      let n = 0;
      fc.assert(
        fc.property(
          fc.array(fc.record({ score: fc.constantFrom(...SCORES), leaves: fc.boolean(), comesBack: fc.boolean() }), { minLength: BLOCK_SIZE, maxLength: 3 * BLOCK_SIZE, size: "max" }),
          fc.array(fc.nat(), { minLength: 20, maxLength: 20 }),
          (arrivals, probes) => {
            const rows = store.transaction(() => arrivals.map(({ score }) => store.insert(newJob(`job-${n++}`, score, 0), { at_ms: 0, event: "queued", attempt: 0, detail: {} })));
            // Some leave the ready state (dispatched); some of those come back (their attempt found LangGraph down).
            store.transaction(() => {
              for (const [i, row] of rows.entries()) {
                if (!arrivals[i]!.leaves) continue;
                const left = store.update(row, { state: "dispatched" });
                rows[i] = arrivals[i]!.comesBack ? store.update(left, { state: "queued" }) : left;
              }
            });
            for (const probe of probes) {
              const job = rows[probe % rows.length]!;
              if (job.state !== "queued") continue;
              expect(store.countAhead(job)).toBe(countAheadByScan(state.storage, job));
            }
            // The newest job of each lane, answered from the lane's size alone.
            for (const score of SCORES) {
              const newest = rows.findLast((row) => row.score === score && row.state === "queued");
              if (newest) expect(store.countAhead(newest, 0)).toBe(countAheadByScan(state.storage, newest));
            }
          },
        ),
        { numRuns: 8 },
      );
    });
  });

  it("are rebuilt from the ready index when a transaction rolls back", async () => {
    const queue = freshCoordinator();
    await runInDurableObject(queue, (_, state) => {
      const store = new JobStore(state.storage);
      const first = store.transaction(() => store.insert(newJob("first", 50, 0), { at_ms: 0, event: "queued", attempt: 0, detail: {} }));
      expect(store.countAhead(first)).toBe(0);
      expect(() => store.transaction(() => {
        store.insert(newJob("rolled-back", 100, 0), { at_ms: 0, event: "queued", attempt: 0, detail: {} });
        throw new Error("something failed mid-way");
      })).toThrow("mid-way");
      expect(store.countAhead(first)).toBe(0);
      expect(store.counters().queued).toBe(1);
    });
  });
});

describe("schema upgrade from v4", () => {
  it("moves each job's history into its row and the counters into one meta row, drops the body hash, losing nothing", async () => {
    const queue = freshCoordinator();
    await runInDurableObject(queue, (_, state) => {
      const sql = state.storage.sql;
      for (const { name, type } of sql.exec<{ name: string; type: string }>("SELECT name, type FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name <> 'sqlite_sequence'").toArray()) {
        if (type === "table") sql.exec(`DROP TABLE ${name}`);
      }
      sql.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
      for (const version of [1, 2, 3, 4]) sql.exec(MIGRATIONS[version]!);
      sql.exec("INSERT INTO meta (key, value) VALUES ('schema_version', '4')");
      sql.exec(`INSERT INTO jobs (id, seq, type, payload, body_hash, priority, score, state, attempt, max_retries, enqueued_at_ms, ended_at_ms, expires_at_ms, result)
                VALUES ('done', 1, 'data_sync', '{"a":1}', 'h1', 'medium', 50, 'completed', 1, 3, 1000, 3000, 4102444800000, '{"ok":true}'),
                       ('waiting', 2, 'data_sync', '{"b":2}', 'h2', 'high', 100, 'queued', 0, 3, 2000, NULL, NULL, NULL)`);
      sql.exec(`INSERT INTO job_events (job_id, at_ms, event, attempt, detail) VALUES
                ('done', 1000, 'queued', 0, '{"priority":"medium"}'), ('waiting', 2000, 'queued', 0, NULL),
                ('done', 1500, 'dispatched', 1, '{}'), ('done', 3000, 'completed', 1, '{"durationMs":1500}')`);
      sql.exec(`INSERT INTO counters (name, value) VALUES ('seq', 2), ('state:completed', 1), ('state:queued', 1), ('completed_total', 1), ('process_ms_total', 1500)`);
    });
    await evictDurableObject(queue);
    expect(await queue.history("done")).toMatchObject({
      ok: true,
      data: { events: [
        { event: "queued", attempt: 0, detail: { priority: "medium" } },
        { event: "dispatched", attempt: 1, detail: {} },
        { event: "completed", attempt: 1, detail: { durationMs: 1500 } },
      ] },
    });
    expect(await queue.history("waiting")).toMatchObject({ ok: true, data: { events: [{ event: "queued", detail: {} }] } });
    expect(await queue.status("done")).toMatchObject({ ok: true, data: { status: "completed", result: { ok: true } } });
    expect(await queue.stats()).toMatchObject({ totalJobs: 2, completedJobs: 1, averageProcessTime: 1.5, successRate: 1 });
    // The body hash is gone (v6): a repeated enqueue is told from a conflict by the stored body.
    const waiting = { id: "waiting", type: "data_sync", priority: "high", maxRetries: 3 } as const;
    expect(await queue.enqueue({ ...waiting, payload: { b: 2 } })).toMatchObject({ ok: true, created: false });
    expect(await queue.enqueue({ ...waiting, payload: { b: 3 } })).toMatchObject({ ok: false, code: "JOB_ID_CONFLICT" });
    // The next job continues the old sequence.
    const next = await queue.enqueue({ id: "next", type: "data_sync", payload: {}, priority: "low", maxRetries: 0 });
    expect(next).toMatchObject({ ok: true, created: true });
    await runInDurableObject(queue, (_, state) => {
      const tables = state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('job_events', 'counters')").toArray();
      expect(tables).toEqual([]);
      const columns = state.storage.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('jobs')").toArray().map((c) => c.name);
      expect(columns).not.toContain("body_hash");
      expect(state.storage.sql.exec("SELECT seq FROM jobs WHERE id = 'next'").one().seq).toBe(3);
    });
  });
});
