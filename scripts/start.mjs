#!/usr/bin/env node
// `npm start`: the whole system on this machine.
//
//   [langgraph]  langgraphjs dev serving the example graphs in langgraph/   http://127.0.0.1:8123
//   [worker]     wrangler dev --test-scheduled (Worker, Durable Objects, Queues)  http://localhost:8787
//                and its cron trigger, fired from here every minute (wrangler dev does not);
//                the dashboard at http://localhost:8787/dashboard, built first (scripts/build-dashboard.mjs)
//
// State survives restarts: the Worker's under .wrangler/, LangGraph's under langgraph/.langgraph_api/.
// LANGGRAPH_PORT moves the LangGraph server (and points the Worker at it).
//
// Each one's output is prefixed. Ctrl-C (SIGINT), SIGTERM or SIGHUP stops both, wrangler with
// SIGINT (it ignores SIGTERM) and LangGraph with stop(); this exits once both are gone. If either
// exits on its own, the other is stopped and this exits non-zero.
//
// Both run in their own process group, so a Ctrl-C in the terminal reaches this script only
// (npm may forward it a second time): each gets exactly one stop signal, from here.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { buildDashboard } from "./build-dashboard.mjs";
import { groupAlive, startLangGraphServer } from "./langgraph-dev.mjs";

const rootDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WORKER_PORT = 8787;
const LANGGRAPH_PORT = Number(process.env.LANGGRAPH_PORT ?? 8123);
const WRANGLER_STOP_GRACE_MS = 15_000;
/** The graphs of langgraph/langgraph.json, each served as the job type of the same name. */
const EXAMPLE_JOB_TYPES = ["research_workflow", "content_generation", "batch_processing", "data_sync", "approval", "conversation"];

// No internet here beyond the npm registry: keep every tool from phoning home.
const quietEnv = {
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  LANGGRAPH_CLI_NO_ANALYTICS: "1",
  LANGSMITH_TRACING: "false",
};
for (const [name, value] of Object.entries(quietEnv)) process.env[name] ??= value;
// Output goes through pipes; keep the colours when a person is watching.
if (process.stdout.isTTY) process.env.FORCE_COLOR ??= "1";

const color = (code, text) => (process.stdout.isTTY ? `\x1b[${code}m${text}\x1b[0m` : text);
const tags = { start: color(36, "[start]"), langgraph: color(35, "[langgraph]"), worker: color(33, "[worker]") };
const say = (text) => process.stdout.write(`${tags.start} ${text}\n`);

/** Copies a child's stdout and stderr line by line, each line prefixed; resolves when both end. */
function prefixOutput(child, tag) {
  const copies = [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ].map(async ([from, to]) => {
    if (!from) return;
    for await (const line of createInterface({ input: from, crlfDelay: Infinity })) to.write(`${tag} ${line}\n`);
  });
  return Promise.all(copies);
}

/** Wrangler 4 needs Node >= 22: `npm start` runs on the node@22 dev dependency, `node scripts/start.mjs` may not. */
function node22() {
  const major = Number(process.versions.node.split(".")[0]);
  return major >= 22 ? process.execPath : join(rootDir, "node_modules", ".bin", "node");
}

function startWrangler() {
  const wranglerJs = join(rootDir, "node_modules", "wrangler", "bin", "wrangler.js");
  // Local development: with no API_KEYS (in .dev.vars) requests are let through, and the log says so.
  // The JS dev server keeps a run it lost in a crash "running" for ever: after an outage, a run
  // with no sign of life for 20 s is taken for lost (wrangler.jsonc's 0, never, suits LangGraph Platform).
  // Every example graph in langgraph/ is a job type here, the human-in-the-loop and conversation
  // ones too (wrangler.jsonc's JOB_TYPES keeps the seed's four, for a deploy).
  const args = [
    wranglerJs, "dev", "--port", String(WORKER_PORT), "--test-scheduled",
    "--var", "ENVIRONMENT:development", "--var", "LANGGRAPH_LOST_RUN_SECONDS:20",
    "--var", `JOB_TYPES:${EXAMPLE_JOB_TYPES.join(",")}`,
  ];
  if (LANGGRAPH_PORT !== 8123) args.push("--var", `LANGGRAPH_API_URL:http://127.0.0.1:${LANGGRAPH_PORT}`);
  const child = spawn(node22(), args, { cwd: rootDir, detached: true, stdio: ["ignore", "pipe", "pipe"], env: process.env });
  const exited = once(child, "exit"); // rejects if it could not be spawned at all
  const output = prefixOutput(child, tags.worker);
  let stopping;
  // SIGINT to wrangler alone: it shuts workerd down itself. Its group (workerd, esbuild) is
  // killed only if something is still there after the grace period.
  const stop = () =>
    (stopping ??= (async () => {
      if (child.pid === undefined) return; // never started
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      const deadline = Date.now() + WRANGLER_STOP_GRACE_MS;
      while (groupAlive(child.pid)) {
        if (Date.now() > deadline) {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {}
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      await exited;
      await output;
    })());
  return { child, exited, stop };
}

async function waitForWorker(url, signal) {
  while (!signal.aborted) {
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return true;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

const stopping = new AbortController();
let langgraphOutput = Promise.resolve();

// The dashboard (GET /dashboard) as dashboard/ is now, not as the last `npm install` built it.
await buildDashboard();
const wrangler = startWrangler();
say(`starting LangGraph on port ${LANGGRAPH_PORT} and the worker on port ${WORKER_PORT}`);
const langgraphStart = startLangGraphServer({
  port: LANGGRAPH_PORT,
  // Without reload the CLI exits when the server dies, so a crash stops everything. With it,
  // tsx would wait for a file change with no server behind it. To work on the graphs with
  // reload, run `npm run dev --prefix langgraph` beside `wrangler dev`.
  reload: false,
  stdio: "pipe",
  signal: stopping.signal, // aborting it while it starts stops it before the promise settles
  onSpawn: (child) => {
    child.stdin?.end();
    langgraphOutput = prefixOutput(child, tags.langgraph);
  },
});

/** Stops both, once, then exits with the first reason's code. */
async function shutdown(code, reason) {
  if (stopping.signal.aborted) return;
  say(`${reason}: stopping…`);
  stopping.abort();
  const stopLangGraph = langgraphStart.then((server) => server.stop(), () => {});
  await Promise.all([wrangler.stop(), stopLangGraph]);
  await langgraphOutput;
  say("LangGraph and the worker are stopped");
  process.exit(code);
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => void shutdown(0, signal));
wrangler.exited.then(
  ([code, signal]) => shutdown(code || 1, `wrangler dev exited (${code ?? signal})`),
  (error) => shutdown(1, `wrangler dev did not start: ${error.message}`),
);

let langgraph;
try {
  langgraph = await langgraphStart;
} catch (error) {
  await shutdown(1, `LangGraph did not start: ${error.message}`);
}
if (langgraph && !stopping.signal.aborted) {
  langgraph.child.once("exit", (code, signal) => shutdown(code || 1, `the LangGraph server exited (${code ?? signal})`));
  say(`LangGraph ready at ${langgraph.url} in ${langgraph.startupMs} ms (pid ${langgraph.pid})`);
  const workerUrl = `http://localhost:${WORKER_PORT}`;
  if (await waitForWorker(workerUrl, stopping.signal)) {
    say(`ready: POST ${workerUrl}/functions/v1/queue-worker · dashboard ${workerUrl}/dashboard · GET ${workerUrl}/health · ${workerUrl}/__scheduled · Ctrl-C stops both`);
    runCronEveryMinute(workerUrl);
  }
}

/**
 * `wrangler dev` does not fire cron triggers by itself (seen here: no sweep in minutes), only
 * on a request to /__scheduled. Make that request on the config's schedule, every minute, so
 * the sweep runs locally as it does when deployed.
 */
function runCronEveryMinute(workerUrl) {
  const timer = setInterval(() => {
    fetch(`${workerUrl}/__scheduled?cron=${encodeURIComponent("* * * * *")}`, { signal: AbortSignal.timeout(30_000) })
      .then((response) => response.body?.cancel())
      .catch((error) => say(`cron trigger failed: ${error.message}`));
  }, 60_000);
  stopping.signal.addEventListener("abort", () => clearInterval(timer), { once: true });
}
