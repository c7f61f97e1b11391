import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// No internet here: nothing may phone home.
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";

/**
 * `npm run bench:sweep` (issue 13, defect 5): one cron sweep of a queue with 1,000 running jobs
 * while LangGraph is down, today's bounded sweep against the unbounded loop it replaced. The
 * platform flavour, as only it looks runs up; slots for all 1,000 jobs at once; the Queue binding
 * goes to a queue nobody consumes (the bench claims the jobs itself).
 */
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "../wrangler.jsonc" },
      miniflare: {
        bindings: {
          ENVIRONMENT: "production",
          QUEUE_NAMES: "sweep-bench",
          QUEUE_CAPACITY: "2000",
          MAX_CONCURRENCY: "1000",
          LANGGRAPH_API_FLAVOR: "platform",
          // Far past the bench: no job times out or loses its lease while it runs.
          JOB_TIMEOUT_SECONDS: "86400",
        },
        queueProducers: { JOB_QUEUE: { queueName: "unconsumed-bench-queue" } },
      },
    }),
  ],
  test: {
    root: "bench",
    include: ["sweep.bench.ts"],
    globalSetup: ["sweep/setup.ts"],
    testTimeout: 10 * 60_000,
    silent: false,
    // The coordinator logs a JSON line per job transition: thousands here. The bench prints its table.
    onConsoleLog: (log) => !log.startsWith('{"level"'),
  },
});
