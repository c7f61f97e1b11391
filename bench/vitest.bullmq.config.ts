import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// No internet here: nothing may phone home (wrangler, Miniflare, the HTTP endpoints' children).
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";

/**
 * `npm run bench:bullmq` (issue #8, targets 1 and 5): the coordinator inside workerd beside
 * BullMQ on a local Redis, in one run. The global setup (Node) starts Redis, the BullMQ half and
 * the two HTTP endpoints; bench/bullmq.bench.ts (workerd) times the coordinator and asks the
 * Node half for its rounds in between. Sizes: BENCH_* (bench/bullmq/protocol.ts).
 * The Queue binding goes nowhere, as in `npm run bench`: the bench claims dispatched jobs itself.
 */
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "../wrangler.jsonc" },
      miniflare: {
        bindings: {
          ENVIRONMENT: "production",
          QUEUE_CAPACITY: "10000000",
          // BENCH_CONCURRENCY: the workers of the lifecycle rounds (bench/bullmq/protocol.ts); the bench checks they agree.
          MAX_CONCURRENCY: process.env.BENCH_CONCURRENCY ?? "8",
          LANGGRAPH_API_FLAVOR: "workflows",
        },
        queueProducers: { JOB_QUEUE: { queueName: "unconsumed-bench-queue" } },
      },
    }),
  ],
  test: {
    root: "bench",
    include: ["bullmq.bench.ts"],
    globalSetup: ["bullmq/setup.ts"],
    testTimeout: 15 * 60_000,
    hookTimeout: 5 * 60_000,
    // The coordinator logs a JSON line per job transition: thousands here. The table is
    // printed by the global setup's teardown instead.
    silent: true,
  },
});
