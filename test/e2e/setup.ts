/**
 * Global setup of the e2e project: the whole system, for real, once per run.
 *   1. the LangGraph dev server with the example graphs (langgraph/), on a free port (not 8123,
 *      so it does not clash with `npm start`), its threads in a temp dir of its own (neither
 *      earlier runs' nor `npm start`'s);
 *   2. the Worker (wrangler.jsonc under `unstable_startWorker`) pointed at it, platform flavour,
 *      its Durable Object storage in a temp dir.
 * Tests get both URLs through `inject("workerUrl")` / `inject("langgraphUrl")`. The teardown
 * stops both whether tests passed or not; a setup that fails half-way stops what it started.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startLangGraphServer, type LangGraphServer } from "../../scripts/langgraph-dev.mjs";
import { freePort, LOG_DIR, logFile, startQueueWorker, type QueueWorker } from "./servers";

export default async function setup(project: TestProject) {
  const persistDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-"));
  const langgraphDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-langgraph-"));
  const langgraphLog = logFile("langgraph.log");
  let langgraph: LangGraphServer | undefined;
  let worker: QueueWorker | undefined;

  // If vitest itself dies before the teardown runs, the LangGraph server (its own process group)
  // would outlive it: kill the group on the way out. A no-op once the teardown has stopped it.
  const killLeftovers = () => {
    if (langgraph && langgraph.child.exitCode === null && langgraph.child.signalCode === null) {
      try {
        process.kill(-langgraph.pid, "SIGKILL");
      } catch {}
    }
  };
  process.once("exit", killLeftovers);

  const teardown = async () => {
    await worker?.stop();
    await langgraph?.stop();
    process.removeListener("exit", killLeftovers);
    await new Promise((resolve) => langgraphLog.end(resolve));
    await rm(persistDir, { recursive: true, force: true });
    await rm(langgraphDir, { recursive: true, force: true });
  };

  try {
    langgraph = await startLangGraphServer({
      port: await freePort(),
      dataDir: langgraphDir,
      stdio: "pipe",
      onSpawn: (child) => {
        child.stdout?.pipe(langgraphLog, { end: false });
        child.stderr?.pipe(langgraphLog, { end: false });
      },
    });
    worker = await startQueueWorker({ name: "main", langgraphUrl: langgraph.url, persistDir });
  } catch (error) {
    await teardown();
    throw error;
  }

  project.provide("workerUrl", worker.url);
  project.provide("langgraphUrl", langgraph.url);
  console.log(`e2e: worker ${worker.url}, LangGraph ${langgraph.url}; their logs are in ${LOG_DIR}`);
  return teardown;
}
