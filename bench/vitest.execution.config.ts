import { defineConfig } from "vitest/config";

/**
 * `npm run bench:execution`: the whole stack end to end, in plain Node (no workerd pool): the
 * bench starts the LangGraph dev server and the Worker itself. See bench/execution.bench.ts.
 */
export default defineConfig({
  test: {
    root: "bench",
    include: ["execution.bench.ts"],
    environment: "node",
    testTimeout: 20 * 60_000,
    hookTimeout: 120_000,
    // No internet here: nothing may phone home.
    env: {
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_SEND_METRICS: "false",
      LANGGRAPH_CLI_NO_ANALYTICS: "1",
      LANGSMITH_TRACING: "false",
    },
  },
});
