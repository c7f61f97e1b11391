import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// No internet here: nothing may phone home (wrangler, Miniflare).
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";
// workerd's V8 exposes gc(): the bench collects the garbage before each memory reading, so that
// RSS shows what the streams hold rather than how far the heap had grown since the last collection.
process.env.MINIFLARE_WORKERD_V8_FLAGS = [process.env.MINIFLARE_WORKERD_V8_FLAGS, "--expose-gc"].filter(Boolean).join(" ");

/**
 * `npm run bench:watchers`: what live-status watchers of one running job cost (coordinator
 * requests, the time of each change, memory) and how soon each change reaches them, with 0, 1,
 * 10 and 100 streams open (bench/watchers.bench.ts). The global setup (Node) reads the
 * BENCH_WATCHERS_* settings, reads workerd's memory and CPU time for the bench and prints its
 * report. The Queue binding goes nowhere: the bench claims the jobs itself.
 */
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "../wrangler.jsonc" },
      miniflare: {
        bindings: {
          ENVIRONMENT: "production",
          API_KEYS: "bench-key",
          QUEUE_NAMES: "watchers-bench",
          QUEUE_CAPACITY: "1000",
          MAX_CONCURRENCY: "5",
          LANGGRAPH_API_FLAVOR: "workflows",
        },
        queueProducers: { JOB_QUEUE: { queueName: "unconsumed-bench-queue" } },
      },
    }),
  ],
  test: {
    root: "bench",
    include: ["watchers.bench.ts"],
    globalSetup: ["watchers/setup.ts"],
    testTimeout: 10 * 60_000,
    // The coordinator logs a JSON line per job transition. The global setup prints the progress and the report instead.
    silent: true,
  },
});
