/**
 * LangGraph misbehaving, not just down: the Worker talks to the real LangGraph dev server through
 * a fault-injecting proxy (fault-proxy.ts) that answers 500s and 429s, answers slowly (or not at
 * all), garbles answers into invalid JSON after the server acted, and cuts SSE streams mid-event.
 *
 * What a client needs: a job whose trouble passes completes, without any node running twice (a
 * garbled or cut answer means the run exists: it must be rejoined, not started again); a job
 * whose trouble does not pass fails with an error that says what happened; and no job hangs:
 * each reaches a terminal state within JOB_BOUND_MS of its enqueue.
 *
 * A Worker of its own (its LANGGRAPH_API_URL is the proxy), in front of the shared LangGraph
 * server.
 */
import { Client } from "@langchain/langgraph-sdk";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { QueueClient, uniqueJobId, waitFor, type JobEvent, type JobInput } from "../api";
import { startQueueWorker, type QueueWorker } from "../servers";
import { accountFor, completedTwice, countBy, explain, reportFigures, type JobAccount } from "./figures";
import { FAULT_KINDS, startFaultProxy, type FaultProxy, type FaultRule } from "./fault-proxy";

/**
 * Every job ends within this long of its enqueue. Retries back off 0.15–1 s here (RETRY_BASE_MS
 * 300, RETRY_MAX_MS 1000), an attempt takes a second or two, and a hung job would be held to its
 * 30 s lease at the least.
 */
const JOB_BOUND_MS = 45_000;
// One queue per test: a job that opens the queue's LangGraph circuit must not slow another test's jobs.
const PASSING = "faults-passing";
const LASTING = "faults-lasting";
const POISON_GARBLED = "faults-poison-garbled";
const POISON_RESET = "faults-poison-reset";
const HANG = "faults-hang";
const RANDOM = "faults-random";
const CREATE_RUN = /^\/threads\/[^/]+\/runs$/; // runs.create: POST /threads/{id}/runs
const STREAM = /\/stream(\?|$)/;

let persistDir: string;
let proxy: FaultProxy;
let worker: QueueWorker;
/** The targeted jobs' ids by name, chosen before the proxy starts so that its rules can name them. */
const jobIds = new Map<string, string>();

const rule = (name: string, fault: FaultRule["fault"], match: Omit<FaultRule, "fault" | "jobId">): FaultRule => {
  jobIds.set(name, jobIds.get(name) ?? uniqueJobId(name));
  return { ...match, fault, jobId: jobIds.get(name) };
};

const researchJob = (name: string, delayMs: number, maxRetries = 3): JobInput => ({
  id: jobIds.get(name) ?? uniqueJobId(name), type: "research_workflow", payload: { itemName: name, delayMs, instrument: true }, maxRetries,
});

beforeAll(async () => {
  persistDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-faults-"));
  proxy = await startFaultProxy({
    target: inject("langgraphUrl"),
    slowMs: 1500,
    resetAfterBytes: 64,
    rules: [
      rule("500-twice", "status500", { method: "POST", path: CREATE_RUN, times: 2 }),
      rule("429-twice", "status429", { method: "POST", path: CREATE_RUN, times: 2 }),
      rule("slow", "slow", {}),
      // The server created the run; the Worker cannot read its id.
      rule("garbled-create", "malformed", { method: "POST", path: CREATE_RUN, times: 1 }),
      rule("cut-create", "reset", { method: "POST", path: CREATE_RUN, times: 1 }),
      rule("cut-stream-twice", "reset", { path: STREAM, times: 2 }),
      // Troubles that do not pass.
      rule("500-always", "status500", {}),
      rule("cut-stream-always", "reset", { path: STREAM }),
      // Poison jobs: LangGraph answers everyone else.
      rule("garbled-always", "malformed", {}),
      rule("reset-always", "reset", {}),
      // Held for twice the lease.
      rule("hang-create", "slow", { method: "POST", path: CREATE_RUN, times: 1, slowMs: 60_000 }),
    ],
    random: { seed: 20_240_607, rate: 0.2, kinds: FAULT_KINDS, jobIds: /^random-/ },
  });
  worker = await startQueueWorker({
    name: "faults-proxy", langgraphUrl: proxy.url, persistDir,
    vars: { QUEUE_NAMES: [PASSING, LASTING, POISON_GARBLED, POISON_RESET, RANDOM, HANG].join(","), MAX_CONCURRENCY: "10" },
  });
});

afterAll(async () => {
  await worker?.stop();
  await proxy?.close();
  await rm(persistDir, { recursive: true, force: true });
});

/** Enqueues the jobs, waits until each has ended (or JOB_BOUND_MS passed), and accounts for them. */
async function runJobs(queue: QueueClient, jobs: JobInput[]): Promise<(JobAccount & { endedAfterMs: number })[]> {
  return awaitJobs(queue, jobs, await enqueueJobs(queue, jobs));
}

/** Enqueues the jobs; resolves, once every enqueue is answered, with the time they were sent. */
async function enqueueJobs(queue: QueueClient, jobs: JobInput[]): Promise<number> {
  const started = Date.now();
  await Promise.all(jobs.map((job) => queue.enqueue(job)));
  return started;
}

/** Waits until each enqueued job has ended (or JOB_BOUND_MS passed since `started`), and accounts for them. */
async function awaitJobs(queue: QueueClient, jobs: JobInput[], started: number): Promise<(JobAccount & { endedAfterMs: number })[]> {
  // Infinity for a job still going after JOB_BOUND_MS: the assertions on it say which and why.
  const endedAfterMs = await Promise.all(
    jobs.map((job) =>
      waitFor(`job ${job.id}`, () => queue.status(job.id), (j) => ["completed", "failed", "cancelled"].includes(j.status), {
        timeoutMs: JOB_BOUND_MS, intervalMs: 250,
      }).then(() => Date.now() - started, () => Infinity),
    ),
  );
  const accounts = await accountFor(queue, jobs.map((job) => job.id));
  return accounts.map((account, i) => ({ ...account, endedAfterMs: endedAfterMs[i]! }));
}

/** The error that ended the job's first failed attempt, as its history recorded it. */
const firstError = (events: JobEvent[]): string | undefined => {
  const failed = events.find((e) => e.detail !== null && "error" in e.detail);
  return failed ? String(failed.detail!.error) : undefined;
};

it("retries through 500s, 429s, slow answers, garbled answers and cut streams, and completes, running no node twice", async () => {
  const queue = new QueueClient(worker.url, PASSING);
  const names = ["500-twice", "429-twice", "slow", "garbled-create", "cut-create", "cut-stream-twice"];
  const accounts = await runJobs(queue, names.map((name) => researchJob(name, name.startsWith("cut-") || name.startsWith("garbled") ? 300 : 100)));
  const byName = Object.fromEntries(names.map((name, i) => [name, accounts[i]!]));
  // How long the Worker waited after each 429 that said Retry-After: 1.
  const retryDelaysAfter429Ms = byName["429-twice"]!.events
    .filter((e) => e.event === "retry_scheduled")
    .map((e) => Date.parse(String(e.detail?.nextRetryAt)) - Date.parse(e.at));

  reportFigures("langgraph-faults-passing", {
    jobs: names.length,
    faultsInjected: countBy(proxy.injected.filter((f) => names.some((n) => f.jobId === jobIds.get(n))), (f) => f.fault),
    outcomes: Object.fromEntries(names.map((name) => [name, `${byName[name]!.status}, ${byName[name]!.attempts} attempt(s), ${byName[name]!.endedAfterMs} ms`])),
    retryDelaysAfter429Ms,
    jobsLost: accounts.filter((a) => a.status === "lost").length,
    jobsCompletedTwice: completedTwice(accounts).length,
  });

  for (const account of accounts) {
    expect(account.endedAfterMs, `ended within ${JOB_BOUND_MS} ms: ${explain(account)}`).toBeLessThan(JOB_BOUND_MS);
    expect(account.status, explain(account)).toBe("completed");
    expect(account.nodeRuns, explain(account)).toEqual({ research: 1, draft: 1 });
    expect(account.completedEvents, explain(account)).toBe(1);
  }
  // Two refused attempts, then the third; each refusal is in the history with its status.
  expect(byName["500-twice"]!.attempts).toBe(3);
  expect(explain(byName["500-twice"]!)).toContain("LangGraph answered 500");
  expect(byName["429-twice"]!.attempts).toBe(3);
  expect(explain(byName["429-twice"]!)).toContain("LangGraph answered 429");
  // Slow is not broken: no attempt failed.
  expect(byName.slow!.attempts, explain(byName.slow!)).toBe(1);
  // A cut stream is rejoined within the attempt: the run goes on, nothing is retried.
  expect(byName["cut-stream-twice"]!.attempts, explain(byName["cut-stream-twice"]!)).toBe(1);
  // The run whose creation answer was garbled, or cut, exists: the next attempt rejoined it, so
  // the thread has that one run, not a second one.
  const langgraph = new Client({ apiUrl: inject("langgraphUrl") });
  for (const name of ["garbled-create", "cut-create"]) {
    const account = byName[name]!;
    expect(account.attempts, explain(account)).toBe(2);
    const threads = proxy.threadsOf(account.jobId);
    expect(threads).toHaveLength(1);
    expect((await langgraph.runs.list(threads[0]!)).length, explain(account)).toBe(1);
  }
});

it("fails a job whose LangGraph answers keep failing, or whose stream keeps breaking, with an error that says so", async () => {
  const queue = new QueueClient(worker.url, LASTING);
  const [always500, cutStream] = await runJobs(queue, [
    researchJob("500-always", 100, 2),
    // A progress event every 150 ms for 12 s: each rejoin and retry of the stream is cut long before the run ends.
    { id: jobIds.get("cut-stream-always")!, type: "batch_processing", payload: { items: Array.from({ length: 80 }, (_, i) => i), delayMs: 150 }, maxRetries: 1 },
  ]);
  // The failed job's run goes on until the sweep stops it (every minute): stop it now.
  const langgraph = new Client({ apiUrl: inject("langgraphUrl") });
  for (const threadId of proxy.threadsOf(cutStream!.jobId)) {
    for (const run of await langgraph.runs.list(threadId)) if (run.status === "running") await langgraph.runs.cancel(threadId, run.run_id);
  }
  reportFigures("langgraph-faults-lasting", {
    jobs: 2,
    faultsInjected: countBy(proxy.injected.filter((f) => f.jobId === always500!.jobId || f.jobId === cutStream!.jobId), (f) => f.fault),
    outcomes: { "500-always": `${always500!.status} after ${always500!.endedAfterMs} ms: ${always500!.error}`, "cut-stream-always": `${cutStream!.status} after ${cutStream!.endedAfterMs} ms: ${cutStream!.error}` },
  });

  expect(always500!.status, explain(always500!)).toBe("failed");
  expect(always500!.attempts).toBe(3);
  expect(always500!.error).toMatch(/LangGraph answered 500.*injected internal server error/);
  expect(cutStream!.status, explain(cutStream!)).toBe("failed");
  expect(cutStream!.attempts).toBe(2);
  expect(cutStream!.error).toMatch(/stream of run \S+ kept breaking while the run was running/);
  for (const account of [always500!, cutStream!]) expect(account.endedAfterMs, explain(account)).toBeLessThan(JOB_BOUND_MS);
});

/**
 * A poison job: LangGraph answers every one of its requests with invalid JSON, or every one of
 * its connections is reset, while it answers other jobs normally. That is the job's trouble, not
 * an outage: the job fails within the bound, saying what happened, and a job enqueued after it
 * on the same queue is not held back.
 */
it("fails a poison job (answers never valid JSON, or connections always reset) and holds no other job back", async () => {
  const poisons = [
    { name: "garbled-always", queue: new QueueClient(worker.url, POISON_GARBLED), error: /JSON/ },
    { name: "reset-always", queue: new QueueClient(worker.url, POISON_RESET), error: /LangGraph/ },
  ];
  const results = await Promise.all(
    poisons.map(async ({ name, queue }) => {
      // Enqueued before its history is asked for: sent side by side, the history request may come first (404).
      const job = researchJob(name, 100, 2);
      const poison = awaitJobs(queue, [job], await enqueueJobs(queue, [job]));
      // Once the poison job has had its first attempt fail, a neighbour comes.
      await waitFor(`${name}'s first attempt to fail`, () => queue.history(jobIds.get(name)!), (events) => firstError(events) !== undefined);
      const neighbour = await runJobs(queue, [researchJob(`${name}-neighbour`, 100)]);
      return { poison: (await poison)[0]!, neighbour: neighbour[0]! };
    }),
  );
  reportFigures("langgraph-faults-poison", Object.fromEntries(results.map(({ poison, neighbour }, i) => [poisons[i]!.name, {
    faultsInjected: countBy(proxy.injected.filter((f) => f.jobId === poison.jobId), (f) => f.fault),
    poison: `${poison.status}, ${poison.attempts} attempts, ${poison.endedAfterMs} ms: ${poison.error}`,
    neighbour: `${neighbour.status} after ${neighbour.endedAfterMs} ms`,
  }])));

  for (const [i, { poison, neighbour }] of results.entries()) {
    expect(neighbour.status, `enqueued after ${poisons[i]!.name}: ${explain(neighbour)}`).toBe("completed");
    expect(neighbour.endedAfterMs, explain(neighbour)).toBeLessThan(10_000);
    expect(poison.endedAfterMs, explain(poison)).toBeLessThan(JOB_BOUND_MS);
    expect(poison.status, explain(poison)).toBe("failed");
    expect(poison.error).toMatch(poisons[i]!.error);
  }
  // LangGraph answered: what it said could not be read. It was not unreachable.
  expect(results[0]!.poison.error).not.toMatch(/unreachable/);
});

it("with faults at random (seed 20240607, 20% of requests), every job ends in time and none runs twice", async () => {
  const queue = new QueueClient(worker.url, RANDOM);
  const jobs: JobInput[] = Array.from({ length: 12 }, (_, i) => ({
    id: uniqueJobId(`random-${i}`), type: "research_workflow", payload: { itemName: `random ${i}`, delayMs: 200, instrument: true }, maxRetries: 5,
  }));
  const accounts = await runJobs(queue, jobs);

  const figures = {
    jobs: jobs.length,
    faultsInjected: countBy(proxy.injected.filter((f) => f.jobId?.startsWith("random-")), (f) => f.fault),
    outcomes: countBy(accounts, (a) => a.status),
    attempts: accounts.reduce((sum, a) => sum + a.attempts, 0),
    slowestEndMs: Math.max(...accounts.map((a) => a.endedAfterMs)),
    jobsLost: accounts.filter((a) => a.status === "lost").length,
    jobsCompletedTwice: completedTwice(accounts).length,
  };
  reportFigures("langgraph-faults-random", figures);

  expect(Object.values(figures.faultsInjected).reduce((a, b) => a + b, 0), "faults were injected").toBeGreaterThan(0);
  for (const account of accounts) {
    expect(account.endedAfterMs, `ended within ${JOB_BOUND_MS} ms: ${explain(account)}`).toBeLessThan(JOB_BOUND_MS);
    if (account.status === "completed") expect(account.nodeRuns, account.jobId).toEqual({ research: 1, draft: 1 });
    // A job that failed says why, in terms of LangGraph.
    else expect(account.error, explain(account)).toMatch(/LangGraph|stream/);
  }
  expect(figures.jobsLost).toBe(0);
  expect(figures.jobsCompletedTwice).toBe(0);
});

/**
 * A LangGraph call that never answers (held 60 s, twice the lease): the attempt must give up on
 * it in bounded time and be retried, and no other job may wait behind it. Last in this file: a
 * call still held would hold up the Queue deliveries of the tests after it.
 */
it("retries a job whose run creation is never answered, holding other jobs back no longer than its request timeout", async () => {
  const queue = new QueueClient(worker.url, HANG);
  const hungJob = researchJob("hang-create", 100);
  const hung = awaitJobs(queue, [hungJob], await enqueueJobs(queue, [hungJob]));
  await queue.waitForJob(jobIds.get("hang-create")!, (j) => j.status === "running");
  const [neighbour] = await runJobs(queue, [researchJob("hang-neighbour", 100)]);
  const [job] = await hung;
  reportFigures("langgraph-faults-hang", {
    faultsInjected: countBy(proxy.injected.filter((f) => f.jobId === job!.jobId), (f) => f.fault),
    hung: `${job!.status}, ${job!.attempts} attempts, ${job!.endedAfterMs} ms; first attempt ended by: ${firstError(job!.events)}`,
    neighbour: `${neighbour!.status} after ${neighbour!.endedAfterMs} ms`,
  });

  expect(neighbour!.status, explain(neighbour!)).toBe("completed");
  // Held at most as long as the hung call's request timeout (10 s): Miniflare's Queue broker
  // delivers one batch at a time, so the neighbour's delivery waits for the hung consumer. (On
  // Cloudflare, consumer concurrency scales with the backlog.)
  expect(neighbour!.endedAfterMs, explain(neighbour!)).toBeLessThan(15_000);
  expect(job!.endedAfterMs, explain(job!)).toBeLessThan(JOB_BOUND_MS);
  expect(job!.status, explain(job!)).toBe("completed");
  expect(job!.nodeRuns).toEqual({ research: 1, draft: 1 });
  // The first attempt ended because LangGraph did not answer, and its error says so.
  expect(firstError(job!.events), explain(job!)).toMatch(/LangGraph/);
});
