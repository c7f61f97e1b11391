/** The watchers bench's markdown report: one column per watcher count, then what polling would cost instead. */
import type { WatchersRunner, WorkerdSample } from "./protocol";

/** One job, watched by `watchers` streams from its claim to its end (bench/watchers.bench.ts). */
export interface PhaseResult {
  watchers: number;
  jobId: string;
  /** Per stream: from the request to its first event (the status at once). */
  connectMs: number[];
  /** workerd CPU while the streams were opened, one after another. */
  openCpuMs: number;
  /** Per progress report through RPC: the RPC's own time. */
  reportMs: number[];
  /** The reports called inside the object, one after another: their time together, and how many. */
  insideMs: number;
  insideReports: number;
  completeMs: number;
  /** Per change and watcher: from just before the change's RPC to the watcher's receipt of the status it caused. */
  delaysMs: number[];
  /** Statuses a watcher did not get (within the wait), or got wrong. */
  missed: number;
  /** Streams that did not end with the job. */
  unended: number;
  /** What each watcher's whole stream got wrong, if anything (one line per watcher). */
  problems: string[];
  /** Progress reports (by RPC and inside the object) + the completion. */
  changes: number;
  /** Reports that also changed the step (a transition). */
  steps: number;
  /** SQLite rows the coordinator read and wrote per report through RPC (its `storageIo()` counters), the push's reads included. */
  rowsRead: number;
  rowsWritten: number;
  /** workerd CPU over the reports through RPC, every watcher's status for each included. */
  reportsCpuMs: number;
  /** From the claim's answer to the completion's. */
  jobMs: number;
  /** The bench's own RPCs to the coordinator for this job: enqueue, claim, the reports, complete. */
  rpcCalls: number;
  /** Sockets the coordinator held for the job with every stream open, and after the job ended. */
  socketsOpen: number;
  socketsAfter: number;
  /** SSE events all the watchers received, the first status of each included. */
  eventsReceived: number;
  memory: { running: WorkerdSample; open: WorkerdSample; afterReports: WorkerdSample; closed: WorkerdSample };
}

interface Timing {
  medianMs: number;
  meanMs: number;
  p99Ms: number;
  /** workerd CPU per call. */
  cpuMs: number;
}

export interface PollCost {
  polls: number;
  /** POST …/queue-worker {action: "status"} through the Worker, as a polling client calls it. */
  http: Timing;
  /** The coordinator's `status` RPC alone. */
  rpc: Timing;
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const percentile = (values: number[], q: number) => (values.length === 0 ? NaN : sorted(values)[Math.max(0, Math.ceil(q * values.length) - 1)]!);
const median = (values: number[]) => percentile(values, 0.5);
/** Not Math.max(...values): a long run pools more samples than a call takes arguments. */
const largest = (values: number[]) => values.reduce((a, b) => Math.max(a, b), -Infinity);
const mean = (values: number[]) => (values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length);
const grouped = (n: number) => (Number.isFinite(n) ? Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",") : "—");
const ms = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "—");
const mib = (kiB: number) => (kiB / 1024).toFixed(1);
/** A growth in KiB over the rounds, in MiB: the median, and the rounds' range. */
const growth = (kiB: number[]) => `${signedMiB(median(kiB))} (${signedMiB(Math.min(...kiB))} to ${signedMiB(Math.max(...kiB))})`;
const signedMiB = (kiB: number) => `${kiB >= 0 ? "+" : "−"}${mib(Math.abs(kiB))}`;
const signed = (n: number, digits = 2) => (Number.isFinite(n) ? `${n >= 0 ? "+" : "−"}${Math.abs(n).toFixed(digits)}` : "—");

function table(columns: string[], body: string[][]): string {
  const align = columns.map((_, i) => (i === 0 ? "---" : "---:"));
  return [columns, align, ...body].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

/** Each watcher count's figures over its rounds: samples pooled for percentiles, per-job figures as medians of rounds. */
function summarise(phases: PhaseResult[]) {
  const count = phases[0]!.watchers;
  const pooled = (pick: (p: PhaseResult) => number[]) => phases.flatMap(pick);
  const perJob = (pick: (p: PhaseResult) => number) => median(phases.map(pick));
  const delays = pooled((p) => p.delaysMs);
  const reports = pooled((p) => p.reportMs);
  return {
    count,
    rounds: phases.length,
    delays,
    reports,
    connect: pooled((p) => p.connectMs),
    completeMs: perJob((p) => p.completeMs),
    /** Pooled over the rounds: the reports inside the object are timed together, in whole milliseconds. */
    insidePerChange: phases.reduce((sum, p) => sum + p.insideMs, 0) / phases.reduce((sum, p) => sum + p.insideReports, 0),
    cpuPerChange: perJob((p) => p.reportsCpuMs / p.reportMs.length),
    // Below 10 streams, opening them takes less than the 10 ms tick CPU time is counted in.
    openCpuPerStream: count < 10 ? NaN : perJob((p) => p.openCpuMs / count),
    rpcCalls: perJob((p) => p.rpcCalls),
    changes: perJob((p) => p.changes),
    steps: perJob((p) => p.steps),
    socketsOpen: perJob((p) => p.socketsOpen),
    socketsAfter: Math.max(...phases.map((p) => p.socketsAfter)),
    events: perJob((p) => p.eventsReceived),
    jobMs: perJob((p) => p.jobMs),
    rssRunning: perJob((p) => p.memory.running.rssKiB),
    /** Growth from the job running without streams, per round: RSS moves between rounds (workerd hands memory back now and then). */
    rssOpen: phases.map((p) => p.memory.open.rssKiB - p.memory.running.rssKiB),
    rowsRead: perJob((p) => p.rowsRead),
    rowsWritten: perJob((p) => p.rowsWritten),
    rssAfterReports: phases.map((p) => p.memory.afterReports.rssKiB - p.memory.running.rssKiB),
    rssClosed: phases.map((p) => p.memory.closed.rssKiB - p.memory.running.rssKiB),
    // One stream moves RSS by less than its page-and-allocator noise.
    perStreamKiB: count < 10 ? NaN : perJob((p) => (p.memory.open.rssKiB - p.memory.running.rssKiB) / count),
    missed: phases.reduce((sum, p) => sum + p.missed, 0),
    unended: phases.reduce((sum, p) => sum + p.unended, 0),
    problems: phases.flatMap((p) => p.problems.map((problem) => `${p.jobId}: ${problem}`)),
  };
}

export function watchersReport(results: PhaseResult[], warmUp: PhaseResult, poll: PollCost, runner: WatchersRunner): string {
  const { counts, rounds, reports, inside, stepEvery, polls } = runner.settings;
  type Column = ReturnType<typeof summarise>;
  const columns = counts.map((count) => summarise(results.filter((r) => r.watchers === count)));
  const base = columns.find((c) => c.count === 0);
  const row = (label: string, cell: (c: Column) => string) => [label, ...columns.map(cell)];
  const watched = (cell: (c: Column) => string) => (c: Column) => (c.count === 0 ? "—" : cell(c));
  const added = (figure: (c: Column) => number, digits = 2) => (c: Column) => (base ? signed(figure(c) - figure(base), digits) : "—");
  const reportsMedian = (c: Column) => median(c.reports);
  const reportsMean = (c: Column) => mean(c.reports);

  const main = table(
    ["measure (per job unless said: medians of the rounds)", ...columns.map((c) => `${c.count} watcher${c.count === 1 ? "" : "s"}`)],
    [
      row("**1. delay**, just before a change's RPC → each watcher's `status` event, p50 ms", watched((c) => ms(percentile(c.delays, 0.5)))),
      row("… p99 ms", watched((c) => ms(percentile(c.delays, 0.99)))),
      row("… max ms", watched((c) => ms(largest(c.delays)))),
      row("… samples (changes × watchers × rounds)", watched((c) => grouped(c.delays.length))),
      row("**2. duration**, `report` RPC (a change, its push included), median ms", (c) => ms(reportsMedian(c), 2)),
      row("… p99 ms", (c) => ms(percentile(c.reports, 0.99), 2)),
      row("… mean ms", (c) => ms(reportsMean(c), 2)),
      row("… added by the push, against 0 watchers: median / mean, ms per change", (c) => `${added(reportsMedian)(c)} / ${added(reportsMean)(c)}`),
      row("`report` inside the object (the coordinator's own work, push included; no RPC, no wait for the write), ms per change", (c) => ms(c.insidePerChange, 2)),
      row("… added by the push, ms per change", added((c) => c.insidePerChange)),
      row("SQLite rows read / written per `report` (the push reads the job's new history entries and status per watcher)", (c) => `${c.rowsRead.toFixed(1)} / ${c.rowsWritten.toFixed(1)}`),
      row("`complete` RPC (final transition and status, streams closed), ms", (c) => ms(c.completeMs, 2)),
      row("workerd CPU per `report` RPC, ms (whole process: coordinator, the Worker's streams, the bench's readers)", (c) => ms(c.cpuPerChange, 2)),
      row("open a stream → its first event (the status at once), median ms", watched((c) => ms(median(c.connect)))),
      row("… workerd CPU per stream opened, ms", watched((c) => ms(c.openCpuPerStream, 2))),
      row("**3. requests** to the coordinator: the bench's RPCs (enqueue, claim, reports, complete), observed", (c) => grouped(c.rpcCalls)),
      row("… WebSocket upgrades, one per `GET …/events` the bench made (each answered 200): sockets the coordinator held for the job, observed (after the job)", (c) => `${grouped(c.socketsOpen)} (${c.socketsAfter})`),
      row("… events the watchers received, observed; none is a request (derived from the code)", (c) => grouped(c.events)),
      row("**4. memory**, workerd RSS with the job running and no stream open, MiB", (c) => mib(c.rssRunning)),
      row("… growth with the streams open, MiB (rounds' range)", (c) => growth(c.rssOpen)),
      row(`… growth after the ${reports} \`report\` RPCs, streams still open, MiB (rounds' range)`, (c) => growth(c.rssAfterReports)),
      row("… growth after the job ended and its streams closed, MiB (rounds' range)", (c) => growth(c.rssClosed)),
      row("… per stream: growth with the streams open ÷ watchers, KiB", watched((c) => grouped(c.perStreamKiB))),
      row("**5.** every status, in order, progress never down; every transition; stream ended", watched((c) =>
        c.missed === 0 && c.unended === 0 && c.problems.length === 0 ? "yes" : `no: ${c.missed} missed, ${c.unended} not ended, ${c.problems.length} watchers wrong`)),
    ],
  );

  // Polling instead: as many clients as the most watchers, each asking once a second for the job's duration.
  const most = columns.reduce((a, b) => (b.count > a.count ? b : a));
  const clients = most.count;
  const jobSeconds = most.jobMs / 1000;
  const own = most.rpcCalls;
  const pushCpuMs = most.changes * (most.cpuPerChange - (base?.cpuPerChange ?? 0));
  const pollRow = (label: string, seconds: number, observed: boolean) => {
    const pollsMade = Math.round(clients * seconds);
    // A stream ends after EVENT_STREAM_MAX_SECONDS (600 s here) and its EventSource opens another.
    const opens = clients * Math.max(1, Math.ceil(seconds / 600));
    return [
      label,
      `${grouped(opens)} upgrades + ${grouped(own)} = **${grouped(opens + own)}**${observed ? " (observed)" : ""}`,
      `${grouped(pollsMade)} polls + ${grouped(own)} = **${grouped(pollsMade + own)}**`,
      `${ms((opens * most.openCpuPerStream + pushCpuMs) / 1000, 2)} s`,
      `${ms((pollsMade * poll.http.cpuMs) / 1000, 2)} s`,
    ];
  };
  const polling = table(
    [`${clients} clients of one job`, "coordinator requests, live status (+ the job's own)", "coordinator requests, polling `status` once a second (+ the job's own)", "workerd CPU, live status: opens + pushes", "workerd CPU, polling"],
    [
      pollRow(`this bench's job: ${ms(jobSeconds)} s, ${most.changes} changes`, jobSeconds, true),
      pollRow(`a 60 s job, the same changes (derived)`, 60, false),
      pollRow(`a 15 min job, the same changes (derived; each stream reopens once, at EVENT_STREAM_MAX_SECONDS = 600 s)`, 900, false),
    ],
  );

  const allProblems = columns.flatMap((c) => c.problems);
  const watcherCounts = columns.filter((c) => c.count > 0);
  const integrity =
    allProblems.length === 0 && watcherCounts.every((c) => c.missed === 0 && c.unended === 0)
      ? `Every watcher got every status event (${reports + inside + 2} each: the one at once, ${reports + inside} progress reports, the completion), in order, progress never down; every transition once, numbered on (${Math.round(columns[0]!.steps)} step changes and completed); every stream ended with the job (${watcherCounts.map((c) => `${c.count} × ${c.rounds}`).join(", ")} watchers).`
      : `**Not every watcher got every event:** ${watcherCounts.map((c) => `${c.count} watchers: ${c.missed} statuses missed or wrong, ${c.unended} streams not ended`).join("; ")}.\n\n${allProblems.slice(0, 20).map((p) => `- ${p}`).join("\n")}${allProblems.length > 20 ? `\n- … and ${allProblems.length - 20} more` : ""}`;

  return [
    "## Live status: watchers of one running job (`npm run bench:watchers`)",
    "",
    `Machine: ${runner.machine}. Node ${runner.versions.node}, workerd ${runner.versions.workerd} (miniflare ${runner.versions.miniflare}, wrangler ${runner.versions.wrangler}).`,
    `${rounds} rounds; in each, a job per watcher count (${counts.join(", ")}), claimed before its streams open one after another (\`GET …/jobs/{jobId}/events\` through the Worker); then ${reports} progress reports by RPC (every ${stepEvery}th also a new step: a transition and a status), ${inside} more called inside the object, and the completion, one change at a time, each awaited until every watcher has its status. Delays: the RPC reports' and the completion's, pooled over the rounds. workerd's clock steps in whole milliseconds; CPU time is counted in 10 ms ticks. The coordinator, the Worker's streams and the bench's readers all share workerd's one thread here.`,
    "",
    main,
    "",
    integrity,
    "",
    `Memory is read after two full garbage collections (workerd's V8 runs with --expose-gc here); it is the whole workerd process, the bench's readers included. What it once grew to it mostly keeps, handing some back now and then: the growths are each round's from its own job running without streams. The warm-up job, the first ${warmUp.watchers} streams this workerd served, took it from ${mib(warmUp.memory.running.rssKiB)} MiB (job running) to ${mib(warmUp.memory.open.rssKiB)} MiB (streams open), ${mib(warmUp.memory.afterReports.rssKiB)} MiB after its ${reports} reports (peak ${mib(warmUp.memory.afterReports.peakRssKiB)}) and ${mib(warmUp.memory.closed.rssKiB)} MiB once they had closed; the rounds above start from there.`,
    "",
    `Polling instead, derived from the counts above and from ${grouped(polls)} polls timed after the rounds: a \`status\` poll through the Worker took ${ms(poll.http.meanMs, 2)} ms (mean; p99 ${ms(poll.http.p99Ms, 2)}) and ${ms(poll.http.cpuMs, 2)} ms of workerd CPU; the coordinator's \`status\` RPC alone ${ms(poll.rpc.meanMs, 2)} ms and ${ms(poll.rpc.cpuMs, 2)} ms. "The job's own" are its ${grouped(own)} RPCs (enqueue, claim, reports, complete), which it makes whoever watches. The CPU columns include the bench's own client side (its readers, its polling calls).`,
    "",
    polling,
  ].join("\n");
}
