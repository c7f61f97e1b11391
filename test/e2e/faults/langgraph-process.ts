/**
 * LangGraph dev servers a test may kill: each on the same port and data directory as the one
 * before it (what a restart does), its output in .wrangler/e2e/<name>.log. Killing is SIGKILL to
 * the whole process group (CLI, tsx, server), as the OOM killer or a lost machine would; nothing
 * gets to flush. stopAll() stops whatever is left, and should the test process itself die first,
 * an exit hook kills the groups so that no server outlives it.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { groupAlive, startLangGraphServer, type LangGraphServer } from "../../../scripts/langgraph-dev.mjs";
import { freePort, logFile } from "../servers";

export interface KillableLangGraph {
  /** The server now up (the latest started). */
  readonly current: LangGraphServer | undefined;
  start(): Promise<LangGraphServer>;
  /** SIGKILL to the current server's group; resolves once every process of it is gone. */
  kill(): Promise<void>;
  /** The dev server's persisted threads and runs, and checkpoints, as it last wrote them (what a restart reads). */
  persisted(): Promise<{ ops: string; checkpoints: string }>;
  stopAll(): Promise<void>;
}

export async function killableLangGraph(name: string, dataDir: string): Promise<KillableLangGraph> {
  const port = await freePort();
  const log = logFile(`${name}.log`);
  const servers: LangGraphServer[] = [];
  const killLeftovers = () => {
    for (const server of servers) {
      try {
        process.kill(-server.pid, "SIGKILL");
      } catch {}
    }
  };
  process.once("exit", killLeftovers);
  const read = (file: string) => readFile(join(dataDir, ".langgraph_api", file), "utf8").catch(() => "");

  return {
    get current() {
      return servers.at(-1);
    },
    async start() {
      const server = await startLangGraphServer({
        port, dataDir, stdio: "pipe",
        onSpawn: (child) => {
          child.stdout?.pipe(log, { end: false });
          child.stderr?.pipe(log, { end: false });
        },
      });
      servers.push(server);
      return server;
    },
    async kill() {
      const server = servers.at(-1)!;
      process.kill(-server.pid, "SIGKILL");
      while (groupAlive(server.pid)) await new Promise((resolve) => setTimeout(resolve, 20));
    },
    async persisted() {
      return { ops: await read(".langgraphjs_ops.json"), checkpoints: await read(".langgraphjs_api.checkpointer.json") };
    },
    async stopAll() {
      for (const server of servers) await server.stop(); // a no-op for a killed one
      process.removeListener("exit", killLeftovers);
      await new Promise((resolve) => log.end(resolve));
    },
  };
}
