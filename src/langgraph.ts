/**
 * The LangGraph client the consumer starts runs through and the run follower follows them with.
 * Two flavours, chosen by LANGGRAPH_API_FLAVOR:
 *   - `platform` (default): the LangGraph Server API (LangGraph Platform, `langgraphjs dev`),
 *     one thread per job, resuming from the thread's checkpoint on retry (langgraph/platform.ts);
 *   - `workflows`: the seed's `POST /workflows/execute` wrapper contract (langgraph/workflows.ts).
 */
import { lostRunMs, nonRetryableErrors, type AppEnv } from "./config";
import { PlatformClient } from "./langgraph/platform";
import type { LangGraphClient } from "./langgraph/client";
import { WorkflowsClient } from "./langgraph/workflows";

export * from "./langgraph/client";

export function langGraphClient(env: AppEnv): LangGraphClient {
  const settings = {
    baseUrl: (env.LANGGRAPH_API_URL || "http://127.0.0.1:8123").replace(/\/+$/, ""),
    apiKey: env.LANGGRAPH_API_KEY || undefined,
    lostRunMs: lostRunMs(env),
    nonRetryableErrors: nonRetryableErrors(env),
  };
  return env.LANGGRAPH_API_FLAVOR === "workflows" ? new WorkflowsClient(settings) : new PlatformClient(settings);
}
