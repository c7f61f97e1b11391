import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** Bindings every workerd test project shares: production auth, small retry delays. */
const testBindings = (langgraphUrl: string) => ({
  ENVIRONMENT: "production",
  API_KEYS: "test-key-1,test-key-2",
  QUEUE_NAMES: "langgraph-queue,reports",
  LANGGRAPH_API_FLAVOR: "workflows",
  LANGGRAPH_API_URL: langgraphUrl,
  RETRY_BASE_MS: "200",
  RETRY_MAX_MS: "1000",
});

export default defineConfig({
  test: {
    // Every job transition logs a JSON line; show them only for tests that fail.
    silent: "passed-only",
    globalSetup: ["test/support/workflows-server.ts", "test/support/langgraph-fake.ts"],
    projects: [
      {
        // Pure functions: plain Node, no runtime needed.
        test: { name: "logic", include: ["test/logic/**/*.test.ts"] },
      },
      {
        // The coordinator and the consumer, each on its own. The Queue binding points at a
        // queue nobody consumes, so each test delivers messages itself (createMessageBatch)
        // and every step is deterministic.
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.jsonc" },
            miniflare: {
              bindings: { ...testBindings(inject<string>("workflowsUrl")), QUEUE_CAPACITY: "20", MAX_CONCURRENCY: "2" },
              queueProducers: { JOB_QUEUE: { queueName: "unconsumed-test-queue" } },
            },
          })),
        ],
        // The first test of a file also pays for starting its workerd isolate: seconds on a busy machine.
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 15_000 },
      },
      {
        // The platform flavour (LangGraph Server API) inside workerd: the consumer, the run
        // follower's alarm and the sweep, against the fake LangGraph (test/support/langgraph-fake.ts),
        // which the tests drive over its /__control/ routes. Bindings as the unit project's, but
        // the platform flavour, and a lost run proven after 1 s of silence (after an outage only).
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.jsonc" },
            miniflare: {
              bindings: {
                ...testBindings(inject<string>("langgraphFakeUrl")), LANGGRAPH_API_FLAVOR: "platform", LANGGRAPH_LOST_RUN_SECONDS: "1",
                QUEUE_CAPACITY: "20", MAX_CONCURRENCY: "2",
              },
              queueProducers: { JOB_QUEUE: { queueName: "unconsumed-test-queue" } },
            },
          })),
        ],
        test: { name: "unit-platform", include: ["test/platform/**/*.test.ts"], testTimeout: 15_000 },
      },
      {
        // The whole Worker: router, real Queue delivery to the consumers, the cron handler,
        // talking to a real HTTP server that implements the seed's /workflows/execute.
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.jsonc" },
            // Live-status streams end after 2 s here, so that a test sees one end and the client carry on.
            miniflare: { bindings: { ...testBindings(inject<string>("workflowsUrl")), QUEUE_CAPACITY: "30", EVENT_STREAM_MAX_SECONDS: "2" } },
          })),
        ],
        test: { name: "integration", include: ["test/integration/**/*.test.ts"], testTimeout: 15_000 },
      },
      {
        // The real system, driven over HTTP as a client would: the Worker under wrangler's dev
        // server (workerd, Durable Objects, Queues, alarms) and the LangGraph dev server running
        // the example graphs in langgraph/. Plain Node; its global setup starts and stops both.
        // Runs after the other projects, so the servers do not compete with them for the CPU;
        // two files at a time, since the restart test spends most of its time waiting.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/e2e/setup.ts"],
          sequence: { groupOrder: 1 },
          maxWorkers: 2,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
