import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import type { CeilingSizes } from "./ceiling-sizes";

// No internet here: nothing may phone home.
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";

const numbers = (value: string | undefined, fallback: number[]) => (value ? value.split(",").map(Number) : fallback);
const sizes: CeilingSizes = {
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  jobs: Number(process.env.BENCH_CEILING_JOBS ?? 2000),
  workers: numbers(process.env.BENCH_CEILING_WORKERS, [8, 32, 128]),
  producers: Number(process.env.BENCH_CEILING_PRODUCERS ?? 4),
};

/**
 * `npm run bench:ceiling` (issue #8, target 6): one coordinator's ceiling, inside workerd. The
 * Queue binding goes to a queue nobody consumes: the bench's own loops claim the jobs.
 */
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "../wrangler.jsonc" },
      miniflare: {
        bindings: {
          ENVIRONMENT: "production",
          QUEUE_CAPACITY: "10000000",
          MAX_CONCURRENCY: String(Math.max(...sizes.workers)),
          LANGGRAPH_API_FLAVOR: "workflows",
        },
        queueProducers: { JOB_QUEUE: { queueName: "unconsumed-bench-queue" } },
      },
    }),
  ],
  test: {
    root: "bench",
    include: ["ceiling.bench.ts"],
    provide: { ceilingSizes: sizes },
    testTimeout: 30 * 60_000,
    // The coordinator logs a JSON line per job transition; the bench prints its table with console.log after.
    silent: false,
    onConsoleLog: (log) => !log.startsWith('{"level"'),
  },
});
