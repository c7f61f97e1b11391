/**
 * The HTTP part of `npm run bench:bullmq` (issue #8, targets 3 and 5), driven by the workerd
 * half: autocannon loads (run by the Node half) against the Worker on workerd via Miniflare and
 * against BullMQ behind Node http, one route and one side at a time, and their part of the report.
 *
 *   floor         an unknown route: the 404 envelope, no auth, no queue
 *   stats         auth, validation, one cheap read of the queue
 *   enqueue       a new job per request (target 5)
 *   enqueueBatch  HTTP_BATCH_JOBS new jobs per request; its jobs/s ÷ enqueue's req/s is target 3 (≥ 10×)
 *
 * Every load has a queue of its own (httpQueueName), so each enqueue load starts on an empty queue.
 */
import { dec, int, median, ratio, table } from "./format";
import { HTTP_BATCH_JOBS, HTTP_ROUTES, httpQueueName, jobsPerRequest, type BenchSizes, type HttpRound, type HttpRoute, type HttpTarget } from "./protocol";

const TARGETS: HttpTarget[] = ["workerd", "bullmq"];
const TARGET_3 = 10;

type Load = (target: HttpTarget, route: HttpRoute, queueName: string, seconds: number) => Promise<HttpRound>;

/** A warm-up load of every route on both sides (1 s, not counted: compiles and JITs both), then `httpRounds` rounds, alternating which side goes first. */
export async function runHttpLoads(sizes: BenchSizes, load: Load): Promise<HttpRound[]> {
  for (const target of TARGETS) for (const route of HTTP_ROUTES) await load(target, route, httpQueueName(0, route), 1);
  const loads: HttpRound[] = [];
  for (let round = 1; round <= sizes.httpRounds; round++) {
    const order = round % 2 ? TARGETS : [...TARGETS].reverse();
    for (const route of HTTP_ROUTES) {
      for (const target of order) loads.push(await load(target, route, httpQueueName(round, route), sizes.httpSeconds));
    }
  }
  return loads;
}

const DESCRIPTION: Record<HttpRoute, string> = {
  floor: "floor: unknown route → 404 envelope (no auth, no queue)",
  stats: "`stats`: auth, validation, one cheap queue read",
  enqueue: "`enqueue`: auth, validation, a new job per request",
  enqueueBatch: `\`enqueueBatch\`: auth, validation, ${HTTP_BATCH_JOBS} new jobs per request (BullMQ: addBulk)`,
};

export function httpReport(sizes: BenchSizes, loads: HttpRound[]): string {
  const of = (target: HttpTarget, route: HttpRoute) => loads.filter((l) => l.target === target && l.route === route);
  const med = (target: HttpTarget, route: HttpRoute, pick: (l: HttpRound) => number) => median(of(target, route).map(pick));
  const rps = (target: HttpTarget, route: HttpRoute) => med(target, route, (l) => l.requestsPerSecond);
  const jobsPerSecond = (target: HttpTarget, route: HttpRoute) => rps(target, route) * jobsPerRequest(route);
  const stored = (target: HttpTarget, route: HttpRoute) => med(target, route, (l) => l.jobsStored ?? NaN);

  const cell = (target: HttpTarget, route: HttpRoute) => {
    const latency = `${dec(med(target, route, (l) => l.latencyP50Ms))} / ${dec(med(target, route, (l) => l.latencyP99Ms))} ms`;
    const jobs = route === "enqueueBatch" ? ` = **${int(jobsPerSecond(target, route))} jobs/s**` : "";
    return `${int(rps(target, route))}${jobs} (${latency})`;
  };
  const cpu = (target: HttpTarget, route: HttpRoute) => {
    const runs = of(target, route);
    const names = Object.keys(runs[0]?.cpuMicrosPerRequest ?? {});
    const each = names.map((name) => [name, median(runs.map((r) => r.cpuMicrosPerRequest[name] ?? NaN))] as const);
    const serving = each.filter(([name]) => !name.startsWith("autocannon"));
    const total = serving.reduce((sum, [, us]) => sum + us, 0);
    const perJob = route === "enqueueBatch" ? ` (**${dec(total / HTTP_BATCH_JOBS)}** per job)` : "";
    const generator = each.filter(([name]) => name.startsWith("autocannon")).map(([name, us]) => `${name} ${int(us)}`).join("");
    return `${serving.map(([name, us]) => `${name} ${int(us)}`).join(" + ")} = **${int(total)}**${perJob}; ${generator}`;
  };

  const enqueueLoads = loads.filter((l) => l.created !== null);
  const checks = loads.map((l) => {
    const jobs = jobsPerRequest(l.route);
    const lost = l.created !== null && (l.jobsStored ?? 0) < l.created * jobs;
    const notNew = l.created !== null && l.created !== l.requests - l.unexpected;
    if (!lost && !notNew && l.unexpected === 0 && l.errors === 0) return null;
    return `${l.target} ${l.route}: ${l.unexpected} unexpected statuses, ${l.errors} errors, ${l.created ?? "-"} 201s of ${l.requests} answers, ${l.jobsStored ?? "-"} jobs stored`;
  }).filter(Boolean);
  const inFlight = enqueueLoads.map((l) => `${l.target} ${l.route} ${int((l.jobsStored ?? 0) - l.created! * jobsPerRequest(l.route))}`).join(", ");

  const target3 = (target: HttpTarget) => {
    const batch = jobsPerSecond(target, "enqueueBatch");
    const single = rps(target, "enqueue");
    return { text: `${int(batch)} jobs/s ÷ ${int(single)} req/s = **${dec(batch / single)}×**`, ratio: batch / single };
  };
  const worker = target3("workerd");

  return [
    `#### HTTP (targets 3 and 5): autocannon, ${sizes.httpConnections} connections, ${sizes.httpSeconds} s per load, median of ${sizes.httpRounds} rounds`,
    "",
    table(
      ["route", "Worker on workerd via Miniflare: req/s (p50 / p99)", "BullMQ behind Node http: req/s (p50 / p99)", "workerd ÷ BullMQ"],
      ["---", "---:", "---:", "---:"],
      HTTP_ROUTES.map((route) => [DESCRIPTION[route], cell("workerd", route), cell("bullmq", route), `**${ratio(rps("workerd", route), rps("bullmq", route))}**`]),
    ),
    "",
    `**Target 3**, batch enqueue over HTTP, jobs/s ÷ single enqueue over HTTP, req/s: the Worker ${worker.text} ` +
      `(target ≥ ${TARGET_3}×: ${worker.ratio >= TARGET_3 ? "met" : "missed"}); BullMQ, for comparison, ${target3("bullmq").text}.`,
    `Jobs a load left in its queue (median; every load starts on an empty queue): \`enqueue\` ${int(stored("workerd", "enqueue"))} on the Worker, ${int(stored("bullmq", "enqueue"))} on BullMQ; ` +
      `\`enqueueBatch\` ${int(stored("workerd", "enqueueBatch"))} on the Worker, ${int(stored("bullmq", "enqueueBatch"))} on BullMQ.`,
    "",
    "Where the time goes: CPU µs per request (user + system, from /proc; median of the rounds) of each process serving the load, and of the load generator. Two cores serve everything here.",
    "",
    table(
      ["route", "Worker on workerd via Miniflare", "BullMQ behind Node http"],
      ["---", "---", "---"],
      HTTP_ROUTES.map((route) => [DESCRIPTION[route], cpu("workerd", route), cpu("bullmq", route)]),
    ),
    "",
    `Checks: ${checks.length ? `PROBLEMS: ${checks.join("; ")}` : `no errors, no unexpected statuses, every 2xx a 201 and every 201 stored jobs (1 per \`enqueue\`, ${HTTP_BATCH_JOBS} per \`enqueueBatch\`)`}` +
      ` (jobs stored minus jobs in 201s, i.e. in requests still in flight when a load stopped: ${inFlight}).`,
  ].join("\n");
}
