/**
 * The `queue-worker` CLI, the real binary (dist/cli.js, built by scripts/build-client.mjs as
 * `npm install` builds it), run as a child process against the running Worker and the real
 * LangGraph dev server: enqueue, watch (its progress bar, exit 0 / 1 / 2), --json output for
 * scripts, errors, resume; the URL and key from flags or QUEUE_WORKER_URL / QUEUE_WORKER_API_KEY,
 * against a second Worker that requires a key; and `npx queue-worker` from the repository's root.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { uniqueJobId } from "./api";
import { ROOT_DIR, startQueueWorker, type QueueWorker } from "./servers";

const QUEUE = "e2e-cli";
const CLI = join(ROOT_DIR, "dist", "cli.js");
/** `[██████░░░…] 40% | transform`: the bar as watch draws it off a terminal, one line per change. */
const BAR = /^\[([█░]{30})\] (\d{1,3})% \| (.*)$/;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a run: this process's, without any QUEUE_WORKER_* of the developer's. */
function baseEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("QUEUE_WORKER_")));
}

/**
 * Starts the CLI; `done` resolves when it ends (it is killed, by its pid, if it outlives
 * `timeoutMs`). By default its URL and queue come from the environment, as a script's would.
 */
function start(args: string[], options: { env?: Record<string, string>; node?: string; timeoutMs?: number } = {}) {
  const env = { ...baseEnv(), QUEUE_WORKER_URL: inject("workerUrl"), QUEUE_WORKER_QUEUE: QUEUE, ...options.env };
  const child = spawn(options.node ?? process.execPath, [CLI, ...args], { cwd: ROOT_DIR, env, stdio: ["ignore", "pipe", "pipe"] });
  const output = { stdout: "", stderr: "" };
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output.stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output.stderr += chunk));
  const done = new Promise<Run>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`queue-worker ${args.join(" ")} did not end in ${options.timeoutMs ?? 30_000} ms\nstdout: ${output.stdout}\nstderr: ${output.stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, ...output });
    });
  });
  return { child, output, done };
}

/** Runs the CLI to its end. */
const cli = (args: string[], options: { env?: Record<string, string>; node?: string; timeoutMs?: number } = {}): Promise<Run> => start(args, options).done;

const bars = (stderr: string) => stderr.split("\n").map((line) => BAR.exec(line)).filter((m): m is RegExpExecArray => m !== null);

beforeAll(() => {
  // The binary as `npm install` builds it, from the sources as they are now.
  const built = spawnSync(process.execPath, [join(ROOT_DIR, "scripts/build-client.mjs")], { cwd: ROOT_DIR, encoding: "utf8" });
  if (built.status !== 0) throw new Error(`scripts/build-client.mjs failed:\n${built.stdout}${built.stderr}`);
});

describe("queue-worker CLI", () => {
  it("`npx queue-worker` from the repository's root runs the package's own bin", () => {
    const env = baseEnv();
    // --no: never from the registry. The first run links this package into npx's cache (a few seconds).
    const run = spawnSync("npx", ["--no", "--", "queue-worker", "--version"], { cwd: ROOT_DIR, env, encoding: "utf8", timeout: 60_000 });
    const { version } = JSON.parse(readFileSync(join(ROOT_DIR, "package.json"), "utf8")) as { version: string };
    expect({ status: run.status, stdout: run.stdout.trim() }).toEqual({ status: 0, stdout: version });
  });

  it("enqueue, then watch: a progress bar with the current step, 0 when the job completes", async () => {
    const id = uniqueJobId("cli-watch");
    const enqueued = await cli(["enqueue", "data_sync", '{"recordCount": 3, "delayMs": 300}', "--id", id, "--priority", "high"]);
    expect(enqueued).toMatchObject({ code: 0, stderr: "" });
    expect(enqueued.stdout).toMatch(new RegExp(`^queued ${id} \\(priority high, position \\d+, about [\\d.]+ s to wait\\)\\n$`));

    const watched = await cli(["watch", id]);
    expect(watched.code).toBe(0);
    const drawn = bars(watched.stderr);
    expect(drawn.length).toBeGreaterThanOrEqual(3);
    const percents = drawn.map((m) => Number(m[2]));
    expect(percents.every((p, i) => i === 0 || p >= percents[i - 1]!)).toBe(true);
    // Each step of the graph in the bar's label, then the end at 100%.
    const steps = new Set(drawn.map((m) => m[3]));
    expect([...steps]).toEqual(expect.arrayContaining(["write"]));
    expect(drawn.some((m) => ["fetch_source", "transform"].includes(m[3]!))).toBe(true);
    expect(drawn.at(-1)![0]).toBe(`[${"█".repeat(30)}] 100% | completed`);
    expect(watched.stdout).toMatch(new RegExp(`^completed ${id} in [\\d.]+ s: \\{"`));

    // status and history, for people.
    const status = await cli(["status", id]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^job\s+cli-watch-/);
    expect(status.stdout).toMatch(/status\s+completed 100%/);
    const history = await cli(["history", id]);
    expect(history.stdout).toMatch(/#1\s+started/);
    expect(history.stdout).toMatch(/#1\s+completed/);
  });

  it("watch exits 1 when the job fails, the bar and the line saying why", async () => {
    const id = uniqueJobId("cli-fails");
    expect((await cli(["enqueue", "data_sync", '{"finalError": {"node": "transform", "message": "bad rows"}}', "--id", id])).code).toBe(0);
    const watched = await cli(["watch", id]);
    expect(watched.code).toBe(1);
    expect(bars(watched.stderr).at(-1)![3]).toMatch(/^failed: .*bad rows/);
    expect(watched.stdout).toMatch(new RegExp(`^failed ${id}.* after 0 retries: .*bad rows`));
  });

  it("--json prints the data as plain JSON, and watch --json the final status only", async () => {
    const enqueued = await cli(["--json", "enqueue", "data_sync", '{"recordCount": 1}', "--max-retries", "0"]);
    expect(enqueued.code).toBe(0);
    const { jobId } = JSON.parse(enqueued.stdout) as { jobId: string };
    expect(jobId).toMatch(/^[0-9a-f-]{36}$/);

    // After the command, as well as before it.
    const watched = await cli(["watch", jobId, "--json"]);
    expect(watched).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(watched.stdout)).toMatchObject({ jobId, status: "completed", progress: 100, maxRetries: 0, result: { syncResult: { written: 1 } } });

    expect(JSON.parse((await cli(["status", jobId, "--json"])).stdout)).toMatchObject({ jobId, status: "completed" });
    expect(JSON.parse((await cli(["history", jobId, "--json"])).stdout).events.map((e: { event: string }) => e.event)).toContain("completed");
    expect(JSON.parse((await cli(["list", "--status", "completed", "--limit", "100", "--json"])).stdout).jobs.map((j: { jobId: string }) => j.jobId)).toContain(jobId);
    expect(JSON.parse((await cli(["stats", "--json"])).stdout)).toMatchObject({ queueName: QUEUE, completedJobs: expect.any(Number) });

    // Cancel a job before it runs: queued behind a slow one (one job at a time on this queue).
    const slow = uniqueJobId("cli-slow");
    const later = uniqueJobId("cli-later");
    const batch = await cli(["--json", "enqueue-batch", JSON.stringify([
      { id: slow, type: "data_sync", payload: { delayMs: 3000 } },
      { id: later, type: "data_sync", payload: {}, priority: "low" },
    ])]);
    expect(JSON.parse(batch.stdout).jobs.map((j: { created: boolean }) => j.created)).toEqual([true, true]);
    expect(JSON.parse((await cli(["cancel", later, "--json"])).stdout)).toEqual({ jobId: later, status: "cancelled", previousStatus: "queued" });
    expect((await cli(["cancel", slow])).stdout).toMatch(new RegExp(`^cancelled ${slow} \\(was (queued|running)\\)`));
    // A cancelled job's watch exits 1 too.
    expect((await cli(["watch", later, "--json"])).code).toBe(1);
  });

  it("errors: the API's code on stderr (JSON with --json), exit 1; bad arguments refused before any request", async () => {
    const missing = await cli(["status", "no-such-job"]);
    expect(missing).toMatchObject({ code: 1, stdout: "" });
    expect(missing.stderr).toMatch(/^error JOB_NOT_FOUND \(404\): job no-such-job not found/);
    const missingJson = await cli(["--json", "watch", "no-such-job"]);
    expect(missingJson.code).toBe(1);
    expect(JSON.parse(missingJson.stderr)).toMatchObject({ success: false, code: "JOB_NOT_FOUND", status: 404 });

    const badType = await cli(["enqueue", "no_such_type", "{}"]);
    expect(badType.code).toBe(1);
    expect(badType.stderr).toMatch(/^error INVALID_JOB_TYPE \(400\)/);

    const notJson = await cli(["enqueue", "data_sync", "{not json"]);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/is invalid for argument 'payload'.*not JSON/);
    const badPriority = await cli(["enqueue", "data_sync", "--priority", "urgent"]);
    expect(badPriority.code).toBe(1);
    expect(badPriority.stderr).toMatch(/Allowed choices are high, medium, low/);
  });

  it("resume: watch --stop-on-interrupt exits 2 at the question; resume --watch answers it and follows the job to its end", async () => {
    const id = uniqueJobId("cli-approval");
    expect((await cli(["enqueue", "approval", '{"topic": "cli launch"}', "--id", id])).code).toBe(0);
    const paused = await cli(["watch", id, "--stop-on-interrupt"]);
    expect(paused.code).toBe(2);
    expect(paused.stdout).toContain(`interrupted ${id}`);
    expect(paused.stdout).toContain("Publish this draft?");
    expect(bars(paused.stderr).at(-1)![3]).toMatch(/^interrupted, waiting for resume/);

    const resumed = await cli(["resume", id, '{"approved": true, "note": "from the cli"}', "--watch"]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`^completed ${id}`));
    const final = JSON.parse((await cli(["status", id, "--json"])).stdout);
    expect(final.result).toMatchObject({ decision: { approved: true, note: "from the cli" }, published: true });
  });

  it("retry queues a failed job again; retry --status retries them all; pause and unpause show in stats", async () => {
    const id = uniqueJobId("cli-retry");
    const failing = JSON.stringify({ recordCount: 1, finalError: { node: "transform" } });
    expect((await cli(["enqueue", "data_sync", failing, "--id", id, "--max-retries", "0", "--watch"])).code).toBe(1);
    const retried = await cli(["retry", id]);
    expect(retried).toMatchObject({ code: 0, stdout: `queued again: ${id} (was failed)\n` });
    expect((await cli(["watch", id])).code).toBe(1);
    const all = await cli(["retry", "--status", "failed", "--json"]);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout).jobIds).toContain(id);
    expect((await cli(["retry"])).stderr).toContain("retry: name a job, or --status failed|cancelled, not both");
    expect((await cli(["retry", id, "--status", "cancelled"])).code).toBe(1);

    expect(await cli(["pause"])).toMatchObject({ code: 0, stdout: `${QUEUE}: paused\n` });
    try {
      expect((await cli(["stats"])).stdout).toContain(`${QUEUE} (paused: nothing is dispatched until unpause)`);
    } finally {
      expect(await cli(["unpause"])).toMatchObject({ code: 0, stdout: `${QUEUE}: running\n` });
    }
    expect(JSON.parse((await cli(["stats", "--json"])).stdout)).toMatchObject({ paused: false });
  });

  it("Ctrl-C stops watching (exit 130), not the job", async () => {
    const id = uniqueJobId("cli-sigint");
    expect((await cli(["enqueue", "data_sync", '{"recordCount": 1, "delayMs": 5000}', "--id", id])).code).toBe(0);
    try {
      const watching = start(["watch", id]);
      const deadline = Date.now() + 10_000;
      while (bars(watching.output.stderr).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      watching.child.kill("SIGINT");
      const run = await watching.done;
      expect(run.code).toBe(130);
      expect(run.stderr).toContain(`stopped watching ${id}; the job goes on`);
      expect(["queued", "running"]).toContain(JSON.parse((await cli(["status", id, "--json"])).stdout).status);
    } finally {
      await cli(["cancel", id]);
    }
  });

  it("runs on the machine's Node 20 as well (the bin's own node)", async () => {
    const node20 = findOtherNode();
    if (!node20) return; // only the test's own node on PATH
    const run = await cli(["--json", "stats"], { node: node20 });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).queueName).toBe(QUEUE);
  });
});

describe("queue-worker CLI: URL and key from flags or the environment", () => {
  let keyed: QueueWorker | undefined;
  let persistDir: string | undefined;

  beforeAll(async () => {
    persistDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-cli-"));
    keyed = await startQueueWorker({
      name: "cli-keyed",
      langgraphUrl: inject("langgraphUrl"),
      persistDir,
      vars: { ENVIRONMENT: "production", API_KEYS: "cli-key-1,cli-key-2" },
    });
  });

  afterAll(async () => {
    await keyed?.stop();
    if (persistDir) await rm(persistDir, { recursive: true, force: true });
  });

  it("QUEUE_WORKER_API_KEY is sent; --api-key wins over it; a wrong key is UNAUTHORIZED", async () => {
    const env = (key: string) => ({ QUEUE_WORKER_URL: keyed!.url, QUEUE_WORKER_API_KEY: key });
    expect((await cli(["--json", "stats"], { env: env("cli-key-1") })).code).toBe(0);
    const refused = await cli(["--json", "stats"], { env: env("wrong-key") });
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stderr)).toMatchObject({ code: "UNAUTHORIZED", status: 401 });
    const flagWins = await cli(["--json", "--api-key", "cli-key-2", "stats"], { env: env("wrong-key") });
    expect(flagWins.code).toBe(0);
    expect(JSON.parse(flagWins.stdout).queueName).toBe(QUEUE);

    // The key reaches the events route too: a job followed to its end on the keyed Worker.
    const id = uniqueJobId("cli-keyed");
    expect((await cli(["enqueue", "data_sync", '{"recordCount": 1}', "--id", id, "--watch"], { env: env("cli-key-1") })).code).toBe(0);
    const noKey = await cli(["watch", id], { env: { QUEUE_WORKER_URL: keyed!.url } });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/error UNAUTHORIZED \(401\)/);
  });

  it("--url wins over QUEUE_WORKER_URL; -q over QUEUE_WORKER_QUEUE", async () => {
    const id = uniqueJobId("cli-url");
    expect((await cli(["enqueue", "data_sync", "{}", "--id", id])).code).toBe(0); // on the main Worker
    const env = { QUEUE_WORKER_URL: keyed!.url, QUEUE_WORKER_QUEUE: "no-such-queue" };
    const run = await cli(["--json", "--url", inject("workerUrl"), "-q", QUEUE, "status", id], { env });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).jobId).toBe(id);
    // Without the flags, the environment's: the keyed Worker refuses a request without its key.
    expect(JSON.parse((await cli(["--json", "status", id], { env })).stderr).code).toBe("UNAUTHORIZED");
    // And with its key, that Worker has no such queue.
    expect(JSON.parse((await cli(["--json", "status", id], { env: { ...env, QUEUE_WORKER_API_KEY: "cli-key-1" } })).stderr).code).toBe("UNKNOWN_QUEUE");
  });
});

/** A `node` on PATH that is not the one running the tests (npm scripts put node@22 first). */
function findOtherNode(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, "node");
    if (!existsSync(candidate) || dir.includes("node_modules")) continue;
    const version = spawnSync(candidate, ["--version"], { encoding: "utf8" }).stdout.trim();
    if (version && version !== process.version) return candidate;
  }
  return undefined;
}
