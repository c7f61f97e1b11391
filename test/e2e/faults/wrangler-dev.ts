/**
 * The Worker under `wrangler dev` in a process group of its own, so that a test can kill it for
 * real (SIGKILL to wrangler and workerd at once, no shutdown code run), which the in-process
 * `unstable_startWorker` of ../servers.ts cannot do. Its state lives in `persistDir`; starting it
 * again there resumes the Durable Objects' SQLite storage and alarms.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { groupAlive } from "../../../scripts/langgraph-dev.mjs";
import { waitFor } from "../api";
import { E2E_VARS, freePort, logFile, ROOT_DIR } from "../servers";

export interface WranglerDev {
  url: string;
  pid: number;
  child: ChildProcess;
  /** SIGKILL to the whole group; resolves once wrangler and workerd are gone. */
  kill(): Promise<void>;
  /** SIGINT (wrangler ignores SIGTERM), then SIGKILL to the group if anything is left after 15 s. */
  stop(): Promise<void>;
}

export interface WranglerDevOptions {
  /** Names the log file, .wrangler/e2e/wrangler-<name>.log. */
  name: string;
  langgraphUrl: string;
  persistDir: string;
  /** Overrides of E2E_VARS. */
  vars?: Record<string, string>;
}

const STOP_GRACE_MS = 15_000;

export async function startWranglerDev(options: WranglerDevOptions): Promise<WranglerDev> {
  const port = await freePort();
  const vars: Record<string, string> = { ...E2E_VARS, LANGGRAPH_API_URL: options.langgraphUrl, ...options.vars };
  // An empty env file in place of .dev.vars, so a developer's keys stay out; empty vars are left unset.
  const envFile = join(options.persistDir, "empty.env");
  await writeFile(envFile, "");
  const args = [
    join(ROOT_DIR, "node_modules", "wrangler", "bin", "wrangler.js"), "dev",
    "--config", join(ROOT_DIR, "wrangler.jsonc"), "--ip", "127.0.0.1", "--port", String(port),
    "--inspector-port", String(await freePort()), "--persist-to", options.persistDir, "--env-file", envFile,
    "--test-scheduled", "--show-interactive-dev-session=false",
    ...Object.entries(vars).filter(([, value]) => value !== "").flatMap(([name, value]) => ["--var", `${name}:${value}`]),
  ];
  const log = logFile(`wrangler-${options.name}.log`);
  const child = spawn(node22(), args, {
    cwd: ROOT_DIR,
    detached: true, // its own process group: wrangler and the workerd it spawns
    stdio: ["ignore", "pipe", "pipe"],
    // The Worker's JSON log lines (level "log") go to the file too: what happened to each job.
    env: { ...process.env, WRANGLER_LOG: "log", NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const exited = once(child, "exit");
  const pid = child.pid!;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {}
  };
  // Should the test process itself die first, its own process group must not outlive it.
  const killLeftovers = () => signalGroup("SIGKILL");
  process.once("exit", killLeftovers);

  const waitUntilGone = async () => {
    while (groupAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 20));
    process.removeListener("exit", killLeftovers);
    await exited;
    await new Promise((resolve) => log.end(resolve));
  };
  let stopping: Promise<void> | undefined;
  const kill = () => (stopping ??= (signalGroup("SIGKILL"), waitUntilGone()));
  const stop = () =>
    (stopping ??= (async () => {
      child.kill("SIGINT");
      const timer = setTimeout(() => signalGroup("SIGKILL"), STOP_GRACE_MS);
      await waitUntilGone();
      clearTimeout(timer);
    })());

  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`wrangler dev at ${url} (see ${log.path})`, () => health(url, child), (ok) => ok, { timeoutMs: 60_000, intervalMs: 250 });
  } catch (error) {
    await kill();
    throw error;
  }
  return { url, pid, child, kill, stop };
}

async function health(url: string, child: ChildProcess): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) throw new Error(`wrangler dev exited (${child.exitCode ?? child.signalCode})`);
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** Wrangler 4 needs Node 22: the node@22 dev dependency when the test runs on an older one. */
function node22(): string {
  return Number(process.versions.node.split(".")[0]) >= 22 ? process.execPath : join(ROOT_DIR, "node_modules", ".bin", "node");
}
