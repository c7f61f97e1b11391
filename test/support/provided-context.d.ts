// What vitest's globalSetup (test/support/workflows-server.ts) provides to the tests.
import "vitest";

declare module "vitest" {
  interface ProvidedContext {
    workflowsUrl: string;
  }
}
