/**
 * The Worker for the HTTP comparison (issue #8, target 5), on the leanest local runtime:
 * workerd through Miniflare, with no wrangler dev proxy in front. The script is wrangler's own
 * bundle (`wrangler deploy --dry-run`), the options wrangler.jsonc's (Durable Objects with
 * SQLite, vars), except that the Queue goes nowhere and no consumer or cron runs, so requests
 * are all the runtime serves. Worker logs are parsed by Miniflare (as always) and dropped.
 *
 * Bundled by esbuild and run by http-servers.ts; env WRANGLER_CONFIG, BUNDLE, VARS (JSON).
 * Prints `{"url": …}` on its first stdout line when ready; exits when stdin closes (its parent
 * is gone) or on SIGTERM, disposing of Miniflare and so of workerd.
 */
import { readFileSync } from "node:fs";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

/** The part of wrangler's Miniflare options this Worker uses. */
interface FromConfig {
  compatibilityDate: string;
  compatibilityFlags: string[];
  bindings: Record<string, string>;
  durableObjects: Record<string, { className: string; useSQLite?: boolean }>;
}
const workerOptions = unstable_getMiniflareWorkerOptions(process.env.WRANGLER_CONFIG!).workerOptions as unknown as FromConfig;
const bundle = process.env.BUNDLE!;

// wrangler hands out Miniflare 4's option shape; Miniflare 5 converts it. Only what this Worker
// uses is taken: its compatibility settings, vars and Durable Objects (SQLite).
const mf = new Miniflare(convertV4MiniflareOptions({
  workers: [{
    name: "queue-worker",
    compatibilityDate: workerOptions.compatibilityDate,
    compatibilityFlags: workerOptions.compatibilityFlags,
    modules: [{ type: "ESModule", path: bundle, contents: readFileSync(bundle, "utf8") }],
    bindings: { ...workerOptions.bindings, ...(JSON.parse(process.env.VARS ?? "{}") as Record<string, string>) },
    durableObjects: workerOptions.durableObjects,
    queueProducers: { JOB_QUEUE: { queueName: "unconsumed-bench-http" } },
  }],
  host: "127.0.0.1",
  port: 0,
  log: new Log(LogLevel.WARN),
  logRequests: false,
  handleStructuredLogs: () => {},
  telemetry: { enabled: false },
}));

const url = await mf.ready;
process.stdout.write(`${JSON.stringify({ url: url.origin })}\n`);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await mf.dispose();
  process.exit(0);
}
process.stdin.on("end", () => void shutdown());
process.stdin.resume();
process.once("SIGTERM", () => void shutdown());
