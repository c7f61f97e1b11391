// Types for langgraph-dev.mjs, so TypeScript callers (the e2e global setup) are type-checked.
import type { ChildProcess } from "node:child_process";

export interface LangGraphServerOptions {
  /** Default $LANGGRAPH_PORT or 8123. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Restart on source changes; default false. */
  reload?: boolean;
  /** Keep threads and runs in this folder instead of langgraph/.langgraph_api (tests). */
  dataDir?: string;
  /** How long to wait for GET /ok; default 60000. */
  timeoutMs?: number;
  /** Runs the dev server executes at once (`--n-jobs-per-worker`); default $LANGGRAPH_JOBS_PER_WORKER or 64. */
  jobsPerWorker?: number;
  /** The server's output; default "inherit". */
  stdio?: "inherit" | "ignore" | "pipe";
  /** Aborting it stops the server, also while it starts. */
  signal?: AbortSignal;
  /** Called with the CLI process as soon as it is spawned. */
  onSpawn?: (child: ChildProcess) => void;
}

export interface LangGraphServer {
  url: string;
  pid: number;
  startupMs: number;
  child: ChildProcess;
  /** Resolves when the CLI, tsx and the server process are all gone. */
  stop(): Promise<void>;
}

export function groupAlive(pgid: number): boolean;

export function startLangGraphServer(options?: LangGraphServerOptions): Promise<LangGraphServer>;
