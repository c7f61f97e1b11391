/**
 * Global setup of `npm run bench:watchers` (Node): reads the BENCH_WATCHERS_* settings and serves
 * the workerd half (bench/watchers.bench.ts) on 127.0.0.1:
 *
 *   GET  /sample   RSS, peak RSS and CPU time of the workerd processes below this vitest process
 *   POST /say      a progress line, printed at once (the tests' own output is silenced)
 *   POST /report   the finished markdown report
 *
 * Teardown prints the report, writes it to .wrangler/bench/watchers/results.md (every sample in
 * results.json beside it) and stops the server.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { machineLine, serveControl } from "../control-server";
import { workerdMemory } from "../scale/setup";
import type { WatchersSettings, WorkerdSample } from "./protocol";

const ROOT_DIR = fileURLToPath(new URL("../..", import.meta.url));
const OUT_DIR = join(ROOT_DIR, ".wrangler", "bench", "watchers");
const say = (line: string) => console.log(`[bench:watchers] ${line}`);
const CLOCK_TICK_MS = 1000 / (Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100);

const integer = (name: string, text: string, min: number): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name}: each value must be an integer >= ${min}, not "${text}"`);
  return value;
};

function settings(): WatchersSettings {
  const counts = (process.env.BENCH_WATCHERS_COUNTS ?? "0,1,10,100").split(",").map((n) => integer("BENCH_WATCHERS_COUNTS", n.trim(), 0));
  const reports = integer("BENCH_WATCHERS_REPORTS", process.env.BENCH_WATCHERS_REPORTS ?? "50", 1);
  const inside = integer("BENCH_WATCHERS_INSIDE", process.env.BENCH_WATCHERS_INSIDE ?? "25", 1);
  // Report k sets progress k: the last must stay below the completion's 100.
  if (reports + inside > 99) throw new Error(`BENCH_WATCHERS_REPORTS + BENCH_WATCHERS_INSIDE must be at most 99, not ${reports + inside}`);
  return {
    counts,
    rounds: integer("BENCH_WATCHERS_ROUNDS", process.env.BENCH_WATCHERS_ROUNDS ?? "5", 1),
    reports,
    inside,
    stepEvery: integer("BENCH_WATCHERS_STEP_EVERY", process.env.BENCH_WATCHERS_STEP_EVERY ?? "10", 1),
    polls: integer("BENCH_WATCHERS_POLLS", process.env.BENCH_WATCHERS_POLLS ?? "200", 1),
  };
}

/** User + system CPU of a process so far, in ms, or 0 if it is gone. */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid …": comm may hold spaces, so split after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
  } catch {
    return 0;
  }
}

function workerdSample(): WorkerdSample {
  const processes = workerdMemory();
  return {
    processes: processes.length,
    rssKiB: processes.reduce((sum, p) => sum + p.rssKiB, 0),
    peakRssKiB: processes.reduce((sum, p) => sum + p.peakRssKiB, 0),
    cpuMs: processes.reduce((sum, p) => sum + cpuMs(p.pid), 0),
  };
}

const version = (name: string) =>
  (JSON.parse(readFileSync(join(ROOT_DIR, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;

export default async function setup(project: TestProject) {
  const startedAtMs = Date.now();
  let report: string | null = null;
  let raw: unknown = null;
  const routes: Record<string, (body: string) => unknown> = {
    "GET /sample": () => workerdSample(),
    "POST /say": (body) => say((JSON.parse(body) as { line: string }).line),
    "POST /report": (body) => {
      ({ markdown: report, raw } = JSON.parse(body) as { markdown: string; raw: unknown });
    },
  };
  const control = await serveControl(routes);
  project.provide("watchersBench", {
    url: control.url,
    settings: settings(),
    machine: machineLine(),
    versions: { node: process.version, workerd: version("workerd"), miniflare: version("miniflare"), wrangler: version("wrangler") },
  });

  return async () => {
    await control.close();
    const seconds = Math.round((Date.now() - startedAtMs) / 1000);
    if (!report) {
      say(`no report: the workerd half did not finish (see its error above); ${seconds} s`);
      return;
    }
    mkdirSync(OUT_DIR, { recursive: true });
    const path = join(OUT_DIR, "results.md");
    writeFileSync(path, `${report}\n\nThe whole run took ${seconds} s.\n`);
    writeFileSync(join(OUT_DIR, "results.json"), `${JSON.stringify(raw, null, 1)}\n`);
    console.log(`\n${report}\n\n(also in ${path}; the whole run took ${seconds} s)`);
  };
}
