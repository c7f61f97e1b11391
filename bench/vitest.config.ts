import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** `npm run bench`: coordinator cost inside workerd. The Queue binding goes nowhere, as in the unit tests. */
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "../wrangler.jsonc" },
      miniflare: {
        bindings: { ENVIRONMENT: "production", QUEUE_CAPACITY: "100000", MAX_CONCURRENCY: "5", LANGGRAPH_API_FLAVOR: "workflows" },
        queueProducers: { JOB_QUEUE: { queueName: "unconsumed-bench-queue" } },
      },
    }),
  ],
  test: { root: "bench", include: ["coordinator.bench.ts"], testTimeout: 600_000 },
});
