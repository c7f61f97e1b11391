/**
 * What one coordinator operation costs, inside workerd: wall time per call (through the
 * Durable Object RPC, as the router calls it) and SQLite rows read and written per call.
 * Each figure is the median of ROUNDS rounds of CALLS calls. Prints a table; asserts nothing.
 *
 * Side by side in one run: the same operations on a queue holding a few jobs and one holding
 * thousands, and `stats` from the maintained counters against the scan it replaces.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { it } from "vitest";
import type { QueueCoordinator } from "../src/queue-do";

const ROUNDS = 5;
const CALLS = 200;
const DEEP = 5000;

type Stub = DurableObjectStub<QueueCoordinator>;
interface Cost {
  ms: number;
  rowsRead: number;
  rowsWritten: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Runs `call` CALLS times per round and returns the median per-call cost. */
async function measure(queue: Stub, call: (i: number) => Promise<unknown>): Promise<Cost> {
  const rounds: Cost[] = [];
  let i = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const before = await queue.storageIo();
    const started = performance.now();
    for (let n = 0; n < CALLS; n++) await call(i++);
    const ms = performance.now() - started;
    const after = await queue.storageIo();
    rounds.push({
      ms: ms / CALLS,
      rowsRead: (after.rowsRead - before.rowsRead) / CALLS,
      rowsWritten: (after.rowsWritten - before.rowsWritten) / CALLS,
    });
  }
  return { ms: median(rounds.map((r) => r.ms)), rowsRead: median(rounds.map((r) => r.rowsRead)), rowsWritten: median(rounds.map((r) => r.rowsWritten)) };
}

const jobInput = (id: string, priority: "high" | "medium" | "low" = "medium") =>
  ({ id, type: "research_workflow", payload: { itemName: id }, priority, maxRetries: 3 }) as const;

async function queueWith(queued: number): Promise<Stub> {
  const queue = env.QUEUE_COORDINATOR.getByName(`bench-${crypto.randomUUID()}`);
  for (let i = 0; i < queued; i++) await queue.enqueue(jobInput(`filler-${i}`, "low"));
  return queue;
}

it("coordinator cost per operation", async () => {
  const rows: Record<string, string | number>[] = [];
  const report = (operation: string, depth: number, cost: Cost) =>
    rows.push({ operation, "jobs in queue": depth, "ms/call": +cost.ms.toFixed(3), "rows read": +cost.rowsRead.toFixed(1), "rows written": +cost.rowsWritten.toFixed(1) });

  for (const depth of [10, DEEP]) {
    const queue = await queueWith(depth);
    const tag = crypto.randomUUID().slice(0, 8);
    // A high-priority job sorts before the low fillers; a low one goes to the back.
    report("enqueue (high)", depth, await measure(queue, (i) => queue.enqueue(jobInput(`h-${tag}-${i}`, "high"))));
    report("enqueue (low, at the back)", depth, await measure(queue, (i) => queue.enqueue(jobInput(`l-${tag}-${i}`, "low"))));
    report("status (queued job)", depth, await measure(queue, () => queue.status(`filler-${depth - 1}`)));
    report("stats (counters)", depth, await measure(queue, () => queue.stats()));
    // The same answer by scanning, which the counters replace (its rows are counted by its own cursor).
    let scanRows = 0;
    const scan = await measure(queue, () =>
      runInDurableObject(queue, (_, state) => {
        const cursor = state.storage.sql.exec("SELECT state, COUNT(*) FROM jobs GROUP BY state");
        cursor.toArray();
        scanRows += cursor.rowsRead;
      }));
    report("stats by scan (for comparison)", depth, { ...scan, rowsRead: scanRows / (ROUNDS * CALLS) });
    // claim + complete of a running job, which also dispatches the next one from the heap.
    const running = async () => (await queue.list({ status: "running", limit: 1 })).jobs[0]!.jobId;
    report("claim + complete + dispatch next", depth, await measure(queue, async () => {
      const jobId = await running();
      const status = await queue.status(jobId);
      const attempt = status.ok ? 1 : 0;
      await queue.claim(jobId, attempt);
      await queue.complete(jobId, attempt, { ok: true });
    }));
  }
  const columns = Object.keys(rows[0]!);
  const table = [columns, columns.map(() => "---"), ...rows.map((row) => columns.map((c) => String(row[c])))]
    .map((cells) => `| ${cells.join(" | ")} |`)
    .join("\n");
  console.log(`\ncoordinator cost, median of ${ROUNDS} rounds of ${CALLS} calls (workerd, local RPC)\n\n${table}\n`);
});
