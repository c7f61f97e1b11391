/**
 * `queue-worker`, the command line on the typed client (src/client/): commander parses the
 * arguments, cli-progress draws `watch`'s bar. Built into dist/cli.js (scripts/build-client.mjs),
 * the package's `bin`:
 *
 *   npx queue-worker enqueue research_workflow '{"itemName": "x"}' --watch
 *   npx queue-worker status <jobId> | watch <jobId> | list --status failed | stats | history <jobId>
 *   npx queue-worker cancel <jobId> | resume <jobId> '{"approved": true}'
 *   npx queue-worker retry <jobId> | retry --status failed | pause | unpause
 *
 * The Worker's URL and key come from --url / --api-key or QUEUE_WORKER_URL / QUEUE_WORKER_API_KEY
 * (a flag wins). --json prints the answer's data as JSON and nothing else on stdout.
 * Exit codes: 0 done; 1 an error, or (watch) the job failed or was cancelled; 2 (watch
 * --stop-on-interrupt) the job is waiting for a resume; 130 watching stopped by Ctrl-C.
 */
import { Command, Option } from "commander";
import { createClient, QueueWorkerError, type JobInput, type JobStatus, type QueueWorkerClient, type ResumeValue } from "../client/index";
import { formatHistory, formatList, formatStats, formatStatus } from "./format";
import { readInteger, readJsonArgument, readJsonArray, readJsonObject } from "./input";
import { watch } from "./watch";

declare const __QUEUE_WORKER_VERSION__: string | undefined;
const VERSION = typeof __QUEUE_WORKER_VERSION__ === "string" ? __QUEUE_WORKER_VERSION__ : "0.0.0-dev";

const DEFAULT_URL = "http://localhost:8787";
const PRIORITIES = ["high", "medium", "low"];
const STATUSES: JobStatus[] = ["queued", "running", "interrupted", "completed", "failed", "cancelled"];

interface GlobalOptions {
  url: string;
  apiKey?: string;
  queue?: string;
  json?: boolean;
}

interface WatchFlags {
  poll?: boolean;
  interval?: number;
  stopOnInterrupt?: boolean;
}

/** Runs one command line; resolves with the exit code. */
export async function main(argv: string[] = process.argv): Promise<number> {
  let exitCode = 0;
  let json = false;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  program.hook("preAction", (_, action) => {
    json = Boolean(action.optsWithGlobals<GlobalOptions>().json);
  });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (isCommanderExit(error)) return error.exitCode;
    reportError(error, json);
    return 1;
  }
}

function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command("queue-worker")
    .description("Queue LangGraph jobs on a queue-worker deployment, and follow them.")
    .version(VERSION)
    .addOption(new Option("--url <url>", "the Worker's URL").env("QUEUE_WORKER_URL").default(DEFAULT_URL))
    .addOption(new Option("--api-key <key>", "an API key, sent as Authorization: Bearer (prefer the variable: a flag shows in ps)").env("QUEUE_WORKER_API_KEY"))
    .addOption(new Option("-q, --queue <name>", "the queue (default: the Worker's first QUEUE_NAMES)").env("QUEUE_WORKER_QUEUE"))
    .option("--json", "print the answer's data as JSON (errors as JSON on stderr), for scripts")
    .showHelpAfterError("(queue-worker help <command> says more)")
    // Set before the subcommands are made, which inherit it: main() decides the exit code.
    .exitOverride()
    .addHelpText("after", "\nJSON arguments may be given inline, as @file.json, or as - (standard input).");

  /** Wraps an action: the client from the global options, the exit code from what it returns. */
  const action =
    <Args extends unknown[]>(run: (client: QueueWorkerClient, globals: GlobalOptions, ...args: Args) => Promise<number | void>) =>
    async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const globals = command.optsWithGlobals<GlobalOptions>();
      const client = createClient({
        url: globals.url,
        ...(globals.apiKey ? { apiKey: globals.apiKey } : {}),
        ...(globals.queue ? { queueName: globals.queue } : {}),
      });
      setExitCode((await run(client, globals, ...(args.slice(0, -1) as Args))) ?? 0);
    };

  const print = (globals: GlobalOptions, data: unknown, human: () => string) => {
    process.stdout.write(`${globals.json ? JSON.stringify(data, null, 2) : human()}\n`);
  };

  const watchOptions = (command: Command) =>
    command
      .option("--poll", "poll status instead of following the live event stream")
      .option("--interval <ms>", "how often to poll, when polling (default 2000)", readInteger)
      .option("--stop-on-interrupt", "stop (exit 2) when the job waits for a resume, instead of waiting on");

  const watchJob = (client: QueueWorkerClient, globals: GlobalOptions, jobId: string, flags: WatchFlags) =>
    watch(client, jobId, {
      json: Boolean(globals.json),
      poll: Boolean(flags.poll),
      stopOnInterrupt: Boolean(flags.stopOnInterrupt),
      ...(flags.interval !== undefined && { pollIntervalMs: flags.interval }),
    });

  watchOptions(
    program
      .command("enqueue")
      .description("queue a job; prints its id")
      .argument("<type>", "the job type (one JOB_TYPES accepts)")
      .argument("[payload]", "the run's input, a JSON object", readJsonObject, {})
      .option("--id <id>", "the job's id (makes a retried enqueue safe); a UUID when left out")
      .addOption(new Option("-p, --priority <priority>", "high, medium or low").choices(PRIORITIES))
      .option("--max-retries <n>", "retries after a failed attempt (0-10, default 3)", readInteger)
      .option("--thread-id <uuid>", "the LangGraph thread to run on (a conversation's)")
      .option("--assistant-id <id>", "the graph or assistant to run, instead of the type's")
      .option("--config <json>", "the run's config: configurable, tags, recursion_limit", readJsonObject)
      .option("--context <json>", "the run's context", readJsonObject)
      .option("--metadata <json>", "the run's metadata", readJsonObject)
      .option("--timeout-seconds <n>", "bounds each attempt's run", readInteger)
      .option("-w, --watch", "then watch it, as `watch` does"),
  ).action(
    action(async (client, globals, type: string, payload: Record<string, unknown>, flags: EnqueueFlags & WatchFlags & { watch?: boolean }) => {
      const job = jobFrom(type, payload, flags);
      const data = await client.enqueue(job);
      if (flags.watch) {
        if (!globals.json) process.stderr.write(`queued ${data.jobId}\n`);
        return watchJob(client, globals, data.jobId, flags);
      }
      print(globals, data, () => `${data.status === "queued" ? "queued" : `already ${data.status}:`} ${data.jobId} (priority ${data.priority}, position ${data.queuePosition}, about ${data.estimatedWaitTime} s to wait)`);
    }),
  );

  program
    .command("enqueue-batch")
    .description("queue 1-100 jobs in one request, all or none")
    .argument("<jobs>", "a JSON array of jobs ({type, payload, …} each)", readJsonArray)
    .action(
      action(async (client, globals, jobs: JobInput[]) => {
        const data = await client.enqueueBatch(jobs);
        print(globals, data, () => data.jobs.map((job) => `${job.created ? "queued" : `already ${job.status}:`} ${job.jobId}`).join("\n"));
      }),
    );

  program
    .command("status")
    .description("a job's status, progress and result")
    .argument("<jobId>")
    .action(
      action(async (client, globals, jobId: string) => {
        const data = await client.status(jobId);
        print(globals, data, () => formatStatus(data));
      }),
    );

  watchOptions(
    program
      .command("watch")
      .description("a progress bar with the job's current step until it ends; exits 1 if it failed or was cancelled")
      .argument("<jobId>"),
  ).action(action(async (client, globals, jobId: string, flags: WatchFlags) => watchJob(client, globals, jobId, flags)));

  program
    .command("list")
    .description("jobs: queued ones in dispatch order, others newest first")
    .addOption(new Option("-s, --status <status>", "only jobs in this status").choices(STATUSES))
    .option("-n, --limit <n>", "jobs per page (1-100, default 20)", readInteger)
    .option("--cursor <cursor>", "the next page, from an earlier list")
    .action(
      action(async (client, globals, flags: { status?: JobStatus; limit?: number; cursor?: string }) => {
        const data = await client.list({
          ...(flags.status !== undefined && { status: flags.status }),
          ...(flags.limit !== undefined && { limit: flags.limit }),
          ...(flags.cursor !== undefined && { cursor: flags.cursor }),
        });
        print(globals, data, () => formatList(data));
      }),
    );

  program
    .command("retry")
    .description("queue a failed or cancelled job again (it continues from its checkpoint), or with --status every such job")
    .argument("[jobId]", "the job to retry")
    .addOption(new Option("-s, --status <status>", "retry every job in this status, oldest first, page by page").choices(["failed", "cancelled"]))
    .action(
      action(async (client, globals, jobId: string | undefined, flags: { status?: "failed" | "cancelled" }) => {
        if ((jobId === undefined) === (flags.status === undefined)) throw new Error("retry: name a job, or --status failed|cancelled, not both");
        if (jobId !== undefined) {
          const data = await client.retry(jobId);
          return print(globals, data, () => `queued again: ${data.jobId} (was ${data.previousStatus})`);
        }
        const jobIds: string[] = [];
        let cursor: string | undefined;
        let full = false;
        do {
          try {
            const page = await client.retryMany({ status: flags.status!, ...(cursor === undefined ? {} : { cursor }) });
            jobIds.push(...page.jobIds);
            cursor = page.nextCursor ?? undefined;
          } catch (error) {
            // The queue filled up part way: say what was retried (the rest stay in their status, for a later run).
            if (!(error instanceof QueueWorkerError && error.code === "QUEUE_FULL" && jobIds.length > 0)) throw error;
            full = true;
            cursor = undefined;
          }
        } while (cursor !== undefined);
        print(globals, { jobIds, queueFull: full }, () => `queued again: ${jobIds.length} ${flags.status} job${jobIds.length === 1 ? "" : "s"}${jobIds.length > 0 ? `\n${jobIds.join("\n")}` : ""}`);
        if (!full) return;
        process.stderr.write(`the queue is full: the other ${flags.status} jobs were left as they are; run this again once jobs have ended\n`);
        return 1;
      }),
    );

  for (const paused of [true, false]) {
    program
      .command(paused ? "pause" : "unpause")
      .description(paused ? "stop dispatching jobs (running ones, and those already sent to a consumer, go on; enqueues are still accepted)" : "dispatch jobs again")
      .action(
        action(async (client, globals) => {
          const data = paused ? await client.pause() : await client.unpause();
          print(globals, data, () => `${data.queueName}: ${data.paused ? "paused" : "running"}`);
        }),
      );
  }

  program
    .command("stats")
    .description("the queue's counts, capacity and LangGraph circuit")
    .action(
      action(async (client, globals) => {
        const data = await client.stats();
        print(globals, data, () => formatStats(data));
      }),
    );

  program
    .command("history")
    .description("every transition of a job")
    .argument("<jobId>")
    .action(
      action(async (client, globals, jobId: string) => {
        const data = await client.history(jobId);
        print(globals, data, () => formatHistory(data));
      }),
    );

  program
    .command("cancel")
    .description("cancel a queued, running or interrupted job")
    .argument("<jobId>")
    .action(
      action(async (client, globals, jobId: string) => {
        const data = await client.cancel(jobId);
        print(globals, data, () => `cancelled ${data.jobId} (was ${data.previousStatus})`);
      }),
    );

  watchOptions(
    program
      .command("resume")
      .description("answer an interrupted job's interrupt() and queue it again")
      .argument("<jobId>")
      .argument("<value>", "the answer, any JSON but null; with several interrupts, a map from interrupt id to answer", readJsonArgument)
      .option("-w, --watch", "then watch it, as `watch` does"),
  ).action(
    action(async (client, globals, jobId: string, value: unknown, flags: WatchFlags & { watch?: boolean }) => {
      const data = await client.resume(jobId, value as ResumeValue);
      if (flags.watch) {
        if (!globals.json) process.stderr.write(`resumed ${data.jobId}\n`);
        return watchJob(client, globals, data.jobId, flags);
      }
      print(globals, data, () => `resumed ${data.jobId}: ${data.status}`);
    }),
  );

  return program;
}

interface EnqueueFlags {
  id?: string;
  priority?: string;
  maxRetries?: number;
  threadId?: string;
  assistantId?: string;
  config?: Record<string, unknown>;
  context?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  timeoutSeconds?: number;
}

function jobFrom(type: string, payload: Record<string, unknown>, flags: EnqueueFlags): JobInput {
  return {
    type,
    payload,
    ...(flags.id !== undefined && { id: flags.id }),
    ...(flags.priority !== undefined && { priority: flags.priority as JobInput["priority"] }),
    ...(flags.maxRetries !== undefined && { maxRetries: flags.maxRetries }),
    ...(flags.threadId !== undefined && { threadId: flags.threadId }),
    ...(flags.assistantId !== undefined && { assistantId: flags.assistantId }),
    ...(flags.config !== undefined && { config: flags.config as JobInput["config"] }),
    ...(flags.context !== undefined && { context: flags.context }),
    ...(flags.metadata !== undefined && { metadata: flags.metadata }),
    ...(flags.timeoutSeconds !== undefined && { timeoutSeconds: flags.timeoutSeconds }),
  };
}

/** An error on stderr: the API's code and message (and which fields, for a refused request); as JSON with --json. */
function reportError(error: unknown, json: boolean): void {
  if (error instanceof QueueWorkerError) {
    if (json) {
      process.stderr.write(`${JSON.stringify({ success: false, error: error.message, code: error.code, status: error.status, details: error.details })}\n`);
      return;
    }
    // Each refused field on a line of its own, unless the message already says it.
    const lines = Array.isArray(error.details)
      ? error.details
          .map((issue: { path?: string; message?: string }) => `${issue.path || "(body)"}: ${issue.message ?? JSON.stringify(issue)}`)
          .filter((line) => !error.message.includes(line))
      : error.details === undefined
        ? []
        : [JSON.stringify(error.details)];
    const issues = lines.map((line) => `\n  ${line}`).join("");
    process.stderr.write(`error ${error.code}${error.status ? ` (${error.status})` : ""}: ${error.message}${issues}\n`);
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(json ? `${JSON.stringify({ success: false, error: message, code: "CLI_ERROR" })}\n` : `error: ${message}\n`);
}

function isCommanderExit(error: unknown): error is { exitCode: number; code: string } {
  return typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string" &&
    (error as { code: string }).code.startsWith("commander.") && typeof (error as { exitCode?: unknown }).exitCode === "number";
}

process.exitCode = await main();
