import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// No internet here: nothing may phone home (wrangler, Miniflare).
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";

/**
 * `npm run bench` (issue #8, target 2): the coordinator with 10 to 100,000 jobs waiting, inside
 * workerd (bench/coordinator.bench.ts). The global setup (Node) reads the BENCH_SCALE_* settings,
 * reads workerd's memory for the bench and prints its report. The Queue binding goes nowhere, as
 * in the unit tests: the bench claims dispatched jobs itself.
 */
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "../wrangler.jsonc" },
      miniflare: {
        // Capacity raised far past the deepest queue: the bench checks it is enough.
        bindings: { ENVIRONMENT: "production", QUEUE_CAPACITY: "10000000", MAX_CONCURRENCY: "5", LANGGRAPH_API_FLAVOR: "workflows" },
        queueProducers: { JOB_QUEUE: { queueName: "unconsumed-bench-queue" } },
      },
    }),
  ],
  test: {
    root: "bench",
    include: ["coordinator.bench.ts"],
    globalSetup: ["scale/setup.ts"],
    testTimeout: 20 * 60_000,
    // The coordinator logs a JSON line per job transition: hundreds of thousands here. The
    // global setup prints the progress and the report instead.
    silent: true,
  },
});
