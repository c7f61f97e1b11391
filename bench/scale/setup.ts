/**
 * Global setup of `npm run bench` (Node): reads the BENCH_SCALE_* settings and serves the
 * workerd half (bench/coordinator.bench.ts) on 127.0.0.1:
 *
 *   GET  /memory   VmRSS and VmHWM of every workerd process below this vitest process
 *   POST /say      a progress line, printed at once (the tests' own output is silenced)
 *   POST /report   the finished markdown report
 *
 * Teardown prints the report, writes it to .wrangler/bench/scale/results.md and stops the server.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { machineLine, serveControl } from "../control-server";
import type { ScaleSettings, WorkerdMemory } from "./protocol";

const ROOT_DIR = fileURLToPath(new URL("../..", import.meta.url));
const OUT_DIR = join(ROOT_DIR, ".wrangler", "bench", "scale");
const say = (line: string) => console.log(`[bench:scale] ${line}`);

const integer = (name: string, text: string, min: number): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name}: each value must be an integer >= ${min}, not "${text}"`);
  return value;
};

function settings(): ScaleSettings {
  const depths = (process.env.BENCH_SCALE_DEPTHS ?? "10,1000,10000,100000").split(",").map((d) => integer("BENCH_SCALE_DEPTHS", d.trim(), 1));
  return {
    depths,
    rounds: integer("BENCH_SCALE_ROUNDS", process.env.BENCH_SCALE_ROUNDS ?? "5", 1),
    calls: integer("BENCH_SCALE_CALLS", process.env.BENCH_SCALE_CALLS ?? "200", 1),
  };
}

/** Field `name` of /proc/<pid>/status, in KiB (VmRSS, VmHWM), or null if the process is gone. */
function statusKiB(pid: number, name: string): number | null {
  try {
    const match = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Every workerd process descended from this one: Miniflare spawns workerd from vitest's main process. */
export function workerdMemory(): WorkerdMemory[] {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ...", and comm may itself hold spaces or parentheses.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      names.set(pid, stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")));
      parents.set(pid, Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  const descends = (pid: number): boolean => {
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) if (p === process.pid) return true;
    return false;
  };
  return [...names]
    .filter(([pid, name]) => name.startsWith("workerd") && descends(pid))
    .map(([pid]) => ({ pid, rssKiB: statusKiB(pid, "VmRSS") ?? 0, peakRssKiB: statusKiB(pid, "VmHWM") ?? 0 }));
}

const version = (name: string) =>
  (JSON.parse(readFileSync(join(ROOT_DIR, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;

export default async function setup(project: TestProject) {
  const startedAtMs = Date.now();
  let report: string | null = null;
  const routes: Record<string, (body: string) => unknown> = {
    "GET /memory": () => workerdMemory(),
    "POST /say": (body) => say((JSON.parse(body) as { line: string }).line),
    "POST /report": (body) => {
      report = (JSON.parse(body) as { markdown: string }).markdown;
    },
  };
  const control = await serveControl(routes);
  project.provide("scaleBench", {
    url: control.url,
    settings: settings(),
    machine: machineLine(),
    versions: { node: process.version, workerd: version("workerd"), miniflare: version("miniflare") },
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
    console.log(`\n${report}\n\n(also in ${path}; the whole run took ${seconds} s)`);
  };
}
