/** The scale bench's markdown report: cost per operation and depth, the deep-to-shallow ratios, memory. */
import type { MedianCost } from "./meter";
import type { ScaleRunner } from "./protocol";

/** Issue #8, target 2: the deepest figure within this factor of the shallowest, for each operation. */
const TARGET_RATIO = 1.5;

export interface MemoryFigures {
  /** Summed over every workerd process Miniflare started (normally one). */
  rssMiB: number;
  peakRssMiB: number;
  processes: number;
}

export interface DepthResult {
  depth: number;
  /** MAX_CONCURRENCY: the slots kept busy. */
  concurrency: number;
  fillMs: number;
  costs: Map<string, MedianCost>;
  /** This queue's SQLite database at the end (`ctx.storage.sql.databaseSize`). */
  databaseMiB: number;
  afterFill: MemoryFigures;
  afterMeasuring: MemoryFigures;
}

const grouped = (n: number) => Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
const rows = (n: number) => (n >= 100 ? grouped(n) : n.toFixed(1));
const mib = (n: number) => n.toFixed(1);

function table(columns: string[], body: string[][]): string {
  const align = columns.map((_, i) => (i === 0 ? "---" : "---:"));
  return [columns, align, ...body].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

export function scaleReport(results: DepthResult[], baseline: MemoryFigures, runner: ScaleRunner): string {
  const { rounds, calls } = runner.settings;
  const operations = [...results[0]!.costs.keys()];
  const byDepth = [...results].sort((a, b) => a.depth - b.depth);
  const shallow = byDepth[0]!;
  const deep = byDepth.at(-1)!;

  const costTable = table(
    ["operation", "jobs waiting", "µs/call", "µs/call, rounds' range", "rows read/call", "rows written/call"],
    operations.flatMap((operation) =>
      byDepth.map((r) => {
        const cost = r.costs.get(operation)!;
        const range = `${grouped(cost.usRange[0])}–${grouped(cost.usRange[1])}`;
        return [operation, grouped(r.depth), grouped(cost.us), range, rows(cost.rowsRead), rows(cost.rowsWritten)];
      }),
    ),
  );

  const ratioTable = table(
    ["operation", `µs at ${grouped(shallow.depth)}`, `µs at ${grouped(deep.depth)}`, "ratio", `within ${TARGET_RATIO}×`, `rows read at ${grouped(shallow.depth)} → ${grouped(deep.depth)}`],
    operations.map((operation) => {
      const [low, high] = [shallow.costs.get(operation)!, deep.costs.get(operation)!];
      const ratio = high.us / low.us;
      return [operation, grouped(low.us), grouped(high.us), `${ratio.toFixed(2)}×`, ratio <= TARGET_RATIO ? "yes" : "**no**", `${rows(low.rowsRead)} → ${rows(high.rowsRead)}`];
    }),
  );

  const memoryTable = table(
    ["jobs waiting", "fill, s", "fill, µs/job", "queue's SQLite database at the end, MiB", "workerd RSS after fill, MiB", "workerd RSS after measuring, MiB", "workerd peak RSS so far, MiB"],
    results.map((r) => [
      grouped(r.depth), (r.fillMs / 1000).toFixed(1), grouped((r.fillMs * 1000) / r.depth), mib(r.databaseMiB),
      mib(r.afterFill.rssMiB), mib(r.afterMeasuring.rssMiB), mib(r.afterMeasuring.peakRssMiB),
    ]),
  );
  const processes = Math.max(baseline.processes, ...results.map((r) => r.afterMeasuring.processes));

  return [
    "## Coordinator at scale (issue #8, target 2)",
    "",
    `One fresh queue per depth, filled with enqueueBatch (100 jobs a call; 88% low, 10% medium, 2% high) while all ${results[0]!.concurrency} slots are busy, so every job waits. ` +
      `Each figure is the median of ${rounds} rounds' mean per call (${calls} calls a round), through the Durable Object RPC (workerd, local; its clock steps in whole milliseconds, so single calls are not resolved, only means). ` +
      "Enqueued jobs are cancelled again and each dispatched job is replaced, untimed, so the depth stays put; every answered position and every dispatch is checked against a model of the queue.",
    "",
    `Machine: ${runner.machine}. Node ${runner.versions.node}, workerd ${runner.versions.workerd}, Miniflare ${runner.versions.miniflare}.`,
    "",
    costTable,
    "",
    `### Deepest against shallowest (target: within ${TARGET_RATIO}×)`,
    "",
    ratioTable,
    "",
    "### Memory",
    "",
    memoryTable,
    "",
    `RSS is the whole workerd process${processes > 1 ? `es (${processes}, summed)` : ""} (VmRSS and VmHWM from /proc): the test runner, every queue of this run ` +
      "(earlier depths' objects included, unless workerd evicted them) and SQLite's page cache, not one object's heap. " +
      `Read its growth from one depth to the next, not its level: before the first fill (after a warm-up pass on a throwaway queue) it was ${mib(baseline.rssMiB)} MiB.`,
  ].join("\n");
}
