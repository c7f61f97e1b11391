/**
 * The two HTTP endpoints of target 5, each in a process of its own, and the load generator:
 * autocannon, in the bench's Node process, against one endpoint at a time.
 *
 *   workerd: http-workerd-server.ts, Miniflare running wrangler's bundle of the Worker
 *   bullmq:  http-bullmq-server.ts, Node `http` + BullMQ on the bench's Redis
 *
 * Both run with the same API key, queue names (a fresh queue per round and route) and concurrency.
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import autocannon from "autocannon";
import { build } from "esbuild";
import { HTTP_BATCH_JOBS, HTTP_ROUTES, httpQueueName, jobsPerRequest, type BenchSizes, type HttpRoute, type HttpRound, type HttpTarget } from "./protocol";

const ENDPOINT = "/functions/v1/queue-worker";
export const HTTP_API_KEY = "bench-http-key";

export interface HttpServers {
  urls: Record<HttpTarget, string>;
  queueNames: string[];
  /** One load of `route` against `target` for `seconds`; for the enqueue routes, then reads back how many jobs the queue holds. */
  load(target: HttpTarget, route: HttpRoute, queueName: string, seconds: number): Promise<HttpRound>;
  stop(): Promise<void>;
}

export async function startHttpServers(options: { rootDir: string; redisUrl: string; redisPid: number; sizes: BenchSizes }): Promise<HttpServers> {
  const outDir = join(options.rootDir, ".wrangler", "bench", "bullmq");
  mkdirSync(outDir, { recursive: true });
  const rounds = Array.from({ length: Math.max(1, options.sizes.httpRounds) + 1 }, (_, round) => round);
  const queueNames = rounds.flatMap((round) => HTTP_ROUTES.map((route) => httpQueueName(round, route)));
  const [workerBundle, workerdHost, bullmqServer] = await Promise.all([
    bundleWorker(options.rootDir, join(outDir, "worker")),
    bundleNodeScript(join(options.rootDir, "bench", "bullmq", "http-workerd-server.ts"), join(outDir, "http-workerd-server.mjs")),
    bundleNodeScript(join(options.rootDir, "bench", "bullmq", "http-bullmq-server.ts"), join(outDir, "http-bullmq-server.mjs")),
  ]);
  const children: Child[] = [];
  const stop = async () => {
    await Promise.all(children.map((child) => child.stop()));
  };
  try {
    const [workerd, bullmq] = await Promise.all([
      startChild("workerd", workerdHost, children, {
        WRANGLER_CONFIG: join(options.rootDir, "wrangler.jsonc"),
        BUNDLE: workerBundle,
        VARS: JSON.stringify({
          ENVIRONMENT: "production", API_KEYS: HTTP_API_KEY, QUEUE_NAMES: queueNames.join(","),
          QUEUE_CAPACITY: "10000000", MAX_CONCURRENCY: String(options.sizes.concurrency), LANGGRAPH_API_FLAVOR: "workflows",
        }),
      }),
      startChild("bullmq", bullmqServer, children, {
        REDIS_URL: options.redisUrl, API_KEYS: HTTP_API_KEY, QUEUE_NAMES: queueNames.join(","), LOG_PATH: "/dev/null",
      }),
    ]);
    const urls: Record<HttpTarget, string> = { workerd: workerd.url, bullmq: bullmq.url };
    // Whose CPU each load spends: the processes serving it, and this one (the load generator).
    const serving: Record<HttpTarget, () => Record<string, number>> = {
      workerd: () => cpuOfGroup(workerd.pgid, { workerd: "workerd", node: "Miniflare (Node: parses workerd's log lines)" }),
      bullmq: () => ({ ...cpuOfGroup(bullmq.pgid, { node: "Node http endpoint + BullMQ client" }), "redis-server": cpuOfPid(options.redisPid) }),
    };
    return {
      urls,
      queueNames,
      stop,
      async load(target, route, queueName, seconds) {
        const servingBefore = serving[target]();
        const generatorBefore = process.cpuUsage();
        const result = await autocannon({
          url: `${urls[target]}${route === "floor" ? "/no-such-route" : ENDPOINT}`,
          method: "POST",
          headers: { authorization: `Bearer ${HTTP_API_KEY}`, "content-type": "application/json" },
          body: JSON.stringify(requestBody(route, queueName)),
          connections: options.sizes.httpConnections,
          pipelining: 1,
          duration: seconds,
        });
        const generator = process.cpuUsage(generatorBefore);
        const servingAfter = serving[target]();
        const answered = result["1xx"] + result["2xx"] + result["3xx"] + result["4xx"] + result["5xx"];
        const cpuMicrosPerRequest: Record<string, number> = {};
        for (const [name, ms] of Object.entries(servingAfter)) cpuMicrosPerRequest[name] = ((ms - (servingBefore[name] ?? 0)) * 1000) / answered;
        cpuMicrosPerRequest["autocannon (the bench process)"] = (generator.user + generator.system) / answered;
        const expectedStatus = route === "floor" ? result["4xx"] : result["2xx"];
        const enqueues = jobsPerRequest(route) > 0;
        return {
          target, route,
          requestsPerSecond: answered / result.duration,
          latencyP50Ms: result.latency.p50,
          latencyP99Ms: result.latency.p99,
          requests: answered,
          unexpected: answered - expectedStatus,
          errors: result.errors + result.timeouts,
          jobsStored: enqueues ? await totalJobs(urls[target], queueName) : null,
          created: enqueues ? (result.statusCodeStats?.["201"]?.count ?? 0) : null,
          cpuMicrosPerRequest,
        };
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Jobs without an id: each request makes new jobs, with the ids the endpoint generates. */
function requestBody(route: HttpRoute, queueName: string): unknown {
  const job = (i: number) => ({ type: "data_sync", payload: { itemName: "bench item", itemId: i }, priority: "medium" });
  if (route === "enqueue") return { action: "enqueue", queueName, job: job(1) };
  if (route === "enqueueBatch") return { action: "enqueueBatch", queueName, jobs: Array.from({ length: HTTP_BATCH_JOBS }, (_, i) => job(i + 1)) };
  return { action: "stats", queueName };
}

async function totalJobs(url: string, queueName: string): Promise<number> {
  const response = await fetch(`${url}${ENDPOINT}`, {
    method: "POST",
    headers: { authorization: `Bearer ${HTTP_API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ action: "stats", queueName }),
  });
  const body = (await response.json()) as { data?: { totalJobs?: number } };
  if (typeof body.data?.totalJobs !== "number") throw new Error(`stats of ${url} answered ${response.status}: ${JSON.stringify(body)}`);
  return body.data.totalJobs;
}

/** Wrangler's own bundle of the Worker, as `wrangler deploy` would upload it. */
async function bundleWorker(rootDir: string, outDir: string): Promise<string> {
  const wrangler = join(rootDir, "node_modules", "wrangler", "bin", "wrangler.js");
  const result = spawnSync(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", outDir], {
    cwd: rootDir,
    encoding: "utf8",
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  });
  if (result.status !== 0) throw new Error(`wrangler deploy --dry-run failed (${result.status}): ${(result.stderr || result.stdout).slice(-2000)}`);
  return join(outDir, "index.js");
}

/** A Node script of this folder, TypeScript and src/ imports resolved; packages stay in node_modules. */
async function bundleNodeScript(entry: string, outfile: string): Promise<string> {
  await build({ entryPoints: [entry], outfile, bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", logLevel: "error" });
  return outfile;
}

interface Child {
  url: string;
  pgid: number;
  stop(): Promise<void>;
}

const CLOCK_TICK_MS = 1000 / Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim() || 100);

/** CPU milliseconds (user + system) a process has used so far, from /proc; 0 once it is gone. */
function cpuOfPid(pid: number): number {
  const stat = procStat(pid);
  return stat ? stat.cpuMs : 0;
}

/** CPU milliseconds per process name (mapped through `names`) of every process in a group. */
function cpuOfGroup(pgid: number, names: Record<string, string>): Record<string, number> {
  const totals: Record<string, number> = Object.fromEntries(Object.values(names).map((name) => [name, 0]));
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (!stat || stat.pgrp !== pgid) continue;
    const name = names[stat.comm] ?? stat.comm;
    totals[name] = (totals[name] ?? 0) + stat.cpuMs;
  }
  return totals;
}

function procStat(pid: number): { comm: string; pgrp: number; cpuMs: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // "pid (comm) state ppid pgrp …": comm may hold spaces, so split after its closing parenthesis.
  const close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).split(" ");
  return { comm: text.slice(text.indexOf("(") + 1, close), pgrp: Number(fields[2]), cpuMs: (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS };
}

/**
 * Runs `script` in its own process group and resolves with the URL it prints. stop() closes its
 * stdin and sends SIGTERM; whatever of the group is left after a grace period gets SIGKILL, and
 * so does the group if this process exits without stopping it.
 */
async function startChild(name: string, script: string, children: Child[], env: Record<string, string>): Promise<Child> {
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"], detached: true });
  const pgid = child.pid!;
  const exited = once(child, "exit");
  let exitCode: string | number | undefined;
  void exited.then(([code, signal]) => (exitCode = code ?? signal));
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const killOnExit = () => killGroup(pgid, "SIGKILL");
  process.once("exit", killOnExit);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      child.stdin!.end();
      if (exitCode === undefined) child.kill("SIGTERM");
      const deadline = Date.now() + 10_000;
      while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      killGroup(pgid, "SIGKILL");
      if (exitCode === undefined) await exited;
      process.removeListener("exit", killOnExit);
    })());
  const stub: Child = { url: "", pgid, stop };
  children.push(stub);
  const lines = createInterface({ input: child.stdout! });
  const firstLine = new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
    void exited.then(() => reject(new Error(`the ${name} endpoint exited (${exitCode}) before it was ready: ${stderr.trim()}`)));
    setTimeout(() => reject(new Error(`the ${name} endpoint was not ready within 60 s: ${stderr.trim()}`)), 60_000).unref();
  });
  const line = await firstLine;
  lines.on("line", () => {}); // anything later is drained, not shown
  stub.url = (JSON.parse(line) as { url: string }).url;
  return stub;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

