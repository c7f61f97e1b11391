#!/usr/bin/env node
// Serves the example graphs in langgraph/ with `langgraphjs dev` on 127.0.0.1.
//
//   node scripts/langgraph-dev.mjs            # port 8123, or $LANGGRAPH_PORT; 64 runs at once, or $LANGGRAPH_JOBS_PER_WORKER
//   import { startLangGraphServer } from "./scripts/langgraph-dev.mjs"  (test global setup)
//
// The CLI runs the API server as a grandchild (cli -> tsx -> server), so the CLI is
// started in its own process group, and stop() waits until that whole group is gone.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const projectDir = resolve(dirname(fileURLToPath(import.meta.url)), "..", "langgraph");
const cliPath = join(projectDir, "node_modules", "@langchain", "langgraph-cli", "dist", "cli", "cli.mjs");

const DEFAULT_PORT = 8123;
// The dev server runs each run on one of N worker loops (the CLI's default is 10), so at most
// N runs execute at once, and an idle loop sleeps up to 1 s between looks for pending runs:
// many loops lift that cap and shorten the wait before a new run starts.
const DEFAULT_JOBS_PER_WORKER = 64;
const STOP_GRACE_MS = 10_000;

/**
 * Starts `langgraphjs dev` for langgraph/ and resolves once GET /ok answers.
 * @param {object} [options]
 * @param {number} [options.port] default $LANGGRAPH_PORT or 8123
 * @param {string} [options.host] default 127.0.0.1
 * @param {boolean} [options.reload] restart on source changes; default false
 * @param {string} [options.dataDir] keep the server's threads and runs in this folder (it gets a
 *   langgraph.json pointing at langgraph/'s graphs) instead of langgraph/.langgraph_api, so tests
 *   neither see nor wipe the data of a running `npm start`
 * @param {number} [options.timeoutMs] how long to wait for the server; default 60000
 * @param {number} [options.jobsPerWorker] runs executed at once (`--n-jobs-per-worker`); default
 *   $LANGGRAPH_JOBS_PER_WORKER or 64, so the dev server does not cap the queue's concurrency
 * @param {"inherit" | "ignore" | "pipe"} [options.stdio] the server's output; default "inherit"
 * @param {AbortSignal} [options.signal] aborting it stops the server (also while starting)
 * @param {(child: import("node:child_process").ChildProcess) => void} [options.onSpawn] called with the CLI
 *   process as soon as it is spawned, e.g. to read its output (stdio "pipe") while it starts
 * @returns {Promise<{url: string, pid: number, startupMs: number, child: import("node:child_process").ChildProcess, stop(): Promise<void>}>}
 */
export async function startLangGraphServer(options = {}) {
  const port = Number(options.port ?? process.env.LANGGRAPH_PORT ?? DEFAULT_PORT);
  const host = options.host ?? "127.0.0.1";
  const url = `http://${host}:${port}`;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const jobsPerWorker = Number(options.jobsPerWorker ?? process.env.LANGGRAPH_JOBS_PER_WORKER ?? DEFAULT_JOBS_PER_WORKER);
  if (!Number.isInteger(jobsPerWorker) || jobsPerWorker < 1) {
    throw new Error(`jobsPerWorker must be a positive integer, not ${jobsPerWorker}`);
  }

  if (!existsSync(cliPath)) {
    throw new Error(`${cliPath} is missing: run "npm ci" in ${projectDir}`);
  }
  if (await answers(url)) {
    throw new Error(`${url} already answers: port ${port} is taken (set LANGGRAPH_PORT)`);
  }
  const configPath = options.dataDir ? await writeConfigIn(options.dataDir) : join(projectDir, "langgraph.json");

  const args = [cliPath, "dev", "--host", host, "--port", String(port), "--no-browser", "--config", configPath,
    "--n-jobs-per-worker", String(jobsPerWorker)];
  if (!options.reload) args.push("--no-reload");
  const startedAt = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: projectDir,
    detached: true, // own process group, so stop() reaches the tsx and server processes too
    stdio: options.stdio ?? "inherit",
    env: {
      ...process.env,
      LANGGRAPH_CLI_NO_ANALYTICS: "1",
      LANGSMITH_TRACING: "false",
      BROWSER: "none",
    },
  });
  const exited = once(child, "exit");
  options.onSpawn?.(child);

  let stopping;
  const stop = () => {
    stopping ??= stopGroup(child.pid, exited);
    return stopping;
  };

  options.signal?.addEventListener("abort", stop, { once: true });

  try {
    await waitUntilAnswering(url, timeoutMs, exited, options.signal);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, pid: child.pid, startupMs: Math.round(performance.now() - startedAt), child, stop };
}

async function answers(url) {
  try {
    const response = await fetch(`${url}/ok`, { signal: AbortSignal.timeout(1_000) });
    return response.ok;
  } catch {
    return false;
  }
}

async function waitUntilAnswering(url, timeoutMs, exited, abortSignal) {
  let exitCode;
  exited.then(([code, signal]) => (exitCode = code ?? signal));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    abortSignal?.throwIfAborted();
    if (exitCode !== undefined) throw new Error(`langgraphjs dev exited (${exitCode}) before answering`);
    if (await answers(url)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`langgraphjs dev did not answer ${url}/ok within ${timeoutMs} ms`);
}

/** Whether any process of the process group `pgid` is still there. */
export function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

// SIGTERM goes to the CLI alone: it passes it down to tsx, which passes it to the server,
// which flushes .langgraph_api and exits. Signalling the whole group instead makes tsx see
// a second signal and SIGKILL the server mid-flush. The group gets SIGKILL only if it is
// still there after the grace period. Resolves when no process of the group is left.
async function stopGroup(pgid, exited) {
  const signal = (target, sig) => {
    try {
      process.kill(target, sig);
    } catch (error) {
      if (error.code !== "ESRCH") throw error;
    }
  };
  signal(pgid, "SIGTERM");
  const deadline = Date.now() + STOP_GRACE_MS;
  while (groupAlive(pgid)) {
    if (Date.now() > deadline) signal(-pgid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 50));
  }
  await exited;
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const abort = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"]) process.once(sig, () => abort.abort());
  const server = await startLangGraphServer({ reload: true, signal: abort.signal }).catch((error) => {
    if (abort.signal.aborted) process.exit(0);
    throw error;
  });
  console.log(`LangGraph dev server: ${server.url} (pid ${server.pid}, ready in ${server.startupMs} ms)`);
  abort.signal.addEventListener("abort", async () => {
    await server.stop();
    process.exit(0);
  });
  server.child.once("exit", (code, sig) => {
    if (abort.signal.aborted) return;
    console.error(`langgraphjs dev exited (${code ?? sig})`);
    process.exit(code || 1);
  });
}

/**
 * The CLI keeps its data beside its config file (`.langgraph_api/`), and resolves graph paths
 * against that file's folder (an absolute path is joined, not honoured): a copy of langgraph.json
 * in `dataDir`, with each graph path made relative to it, moves the data and nothing else.
 */
async function writeConfigIn(dataDir) {
  const config = JSON.parse(await readFile(join(projectDir, "langgraph.json"), "utf8"));
  for (const [id, spec] of Object.entries(config.graphs)) {
    const [file, exported] = spec.split(":");
    config.graphs[id] = `${relative(dataDir, join(projectDir, file))}:${exported}`;
  }
  const configPath = join(dataDir, "langgraph.json");
  await writeFile(configPath, JSON.stringify(config, null, 2));
  return configPath;
}
