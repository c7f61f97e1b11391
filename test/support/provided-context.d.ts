// What vitest's global setups provide to the tests: test/support/workflows-server.ts
// (workflowsUrl), test/support/langgraph-fake.ts (langgraphFakeUrl) and, for the e2e project,
// test/e2e/setup.ts (workerUrl, langgraphUrl).
import "vitest";

declare module "vitest" {
  interface ProvidedContext {
    workflowsUrl: string;
    /** The fake LangGraph Server (test/support/langgraph-fake.ts), e.g. http://127.0.0.1:41236. */
    langgraphFakeUrl: string;
    /** The Worker under wrangler's dev server, e.g. http://127.0.0.1:41234 (no trailing slash). */
    workerUrl: string;
    /** The LangGraph dev server serving the example graphs, e.g. http://127.0.0.1:41235. */
    langgraphUrl: string;
  }
}
