/**
 * Starting the real servers for the end-to-end tests: the Worker under wrangler's programmatic
 * dev server (`unstable_startWorker`: workerd, Durable Objects, Queues, alarms, as `wrangler
 * dev` runs them) and the LangGraph dev server with the example graphs in langgraph/.
 * Their output goes to files in .wrangler/e2e/, not to the test report.
 */
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_startWorker } from "wrangler";

export const ROOT_DIR = fileURLToPath(new URL("../..", import.meta.url));
export const LOG_DIR = join(ROOT_DIR, ".wrangler", "e2e");

/** One queue per test, so no test sees another's jobs or waits behind them. */
export const E2E_QUEUES = [
  "e2e-a", "e2e-b", "e2e-c", "e2e-d", "e2e-e", "e2e-f", "e2e-g", "e2e-h", "e2e-i",
  "e2e-approval", "e2e-conversation", "e2e-job-options",
  "e2e-client", "e2e-client-wait", "e2e-cli", "e2e-admin",
] as const;

/**
 * The Worker's vars for every e2e run: the real LangGraph API, one job at a time per queue (so
 * priority order is observable), short retry backoffs, auth off as in local development, lost
 * runs proven as the JS dev server needs. The
 * empty secrets keep a developer's .dev.vars (API_KEYS=local-dev-key) out of the tests.
 */
export const E2E_VARS = {
  LANGGRAPH_API_FLAVOR: "platform",
  MAX_CONCURRENCY: "1",
  RETRY_BASE_MS: "300",
  RETRY_MAX_MS: "1000",
  ENVIRONMENT: "development",
  QUEUE_NAMES: E2E_QUEUES.join(","),
  // Every example graph, and one type mapped to another's graph (`triage` runs data_sync).
  JOB_TYPES: "research_workflow,content_generation,batch_processing,data_sync,approval,conversation,triage=data_sync",
  API_KEYS: "",
  LANGGRAPH_API_KEY: "",
  // The JS dev server keeps a run it lost in a crash "running" for ever: after an outage, a run
  // with no sign of life for 20 s is taken for lost (the nodes here are quiet for 6 s at most).
  LANGGRAPH_LOST_RUN_SECONDS: "20",
};

// No internet here: nothing may phone home. Wrangler's own chatter (bindings table, request
// lines) stays out of the test report; its log files go next to the servers' output.
Object.assign(process.env, {
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  LANGGRAPH_CLI_NO_ANALYTICS: "1",
  LANGSMITH_TRACING: "false",
  WRANGLER_LOG: process.env.WRANGLER_LOG ?? "warn",
  WRANGLER_LOG_PATH: process.env.WRANGLER_LOG_PATH ?? LOG_DIR,
});

export function logFile(name: string): WriteStream {
  mkdirSync(LOG_DIR, { recursive: true });
  return createWriteStream(join(LOG_DIR, name), { flags: "w" });
}

/** A port nobody listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface QueueWorker {
  url: string;
  logPath: string;
  stop(): Promise<void>;
}

export interface QueueWorkerOptions {
  /** Names the log file, .wrangler/e2e/worker-<name>.log. */
  name: string;
  langgraphUrl: string;
  /** Durable Object storage (SQLite, alarms) lives here; a second start with the same dir resumes it. */
  persistDir: string;
  /** Overrides of E2E_VARS. */
  vars?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * Starts the Worker from wrangler.jsonc with E2E_VARS (plus `vars`) overriding its vars, and
 * resolves once GET /health answers. `worker.ready` alone is not enough: it resolves when
 * wrangler's proxy is up, before workerd has loaded the Worker (or failed to).
 */
export async function startQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const log = logFile(`worker-${options.name}.log`);
  const vars: Record<string, string> = { ...E2E_VARS, LANGGRAPH_API_URL: options.langgraphUrl, ...options.vars };
  const worker = await unstable_startWorker({
    config: join(ROOT_DIR, "wrangler.jsonc"),
    // Bindings given here win over the config's vars (and .dev.vars).
    bindings: Object.fromEntries(Object.entries(vars).map(([name, value]) => [name, { type: "plain_text", value }])),
    dev: {
      server: { hostname: "127.0.0.1", port: await freePort() },
      inspector: false,
      persist: options.persistDir,
      watch: false, // src/ may change while the suite runs: keep the Worker that started
      testScheduled: true,
      structuredLogsHandler: ({ level, message }: { level: string; message: string }) => {
        log.write(level === "log" || level === "info" ? `${message}\n` : `[${level}] ${message}\n`);
      },
    },
  }).catch(async (error: unknown) => {
    await new Promise((resolve) => log.end(resolve)); // a config wrangler refuses
    throw error;
  });

  // DevEnv reports runtime failures (a Worker that does not load) as "error" events; with no
  // listener, EventEmitter would throw them out of the test process.
  let failure: unknown;
  worker.raw.on("error", (error: unknown) => {
    failure ??= error;
    log.write(`[wrangler error] ${describe(error)}\n`);
  });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      try {
        await worker.dispose();
      } catch (error) {
        log.write(`[dispose] ${describe(error)}\n`);
      }
      await new Promise((resolve) => log.end(resolve));
    })());

  try {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    const url = await Promise.race([
      worker.url.then((u: URL) => u.origin),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`wrangler did not start (see ${log.path})`)), deadline - Date.now()).unref()),
    ]);
    while (!(await answers(`${url}/health`))) {
      if (failure) throw new Error(`the Worker did not start: ${describe(failure)}`);
      if (Date.now() > deadline) throw new Error(`the Worker did not answer ${url}/health (see ${log.path})`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return { url, logPath: String(log.path), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  const event = error as { reason?: string; cause?: { message?: string } };
  return [event.reason, event.cause?.message].filter(Boolean).join(": ") || String(error);
}
