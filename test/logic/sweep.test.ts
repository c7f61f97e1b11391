/**
 * The sweep's LangGraph part with a fake coordinator and a fake LangGraph client, in plain
 * Node: how many runs it checks, in which turn, how many at once, and when it stops.
 */
import { describe, expect, it } from "vitest";
import type { AppEnv } from "../../src/config";
import type { LangGraphClient, RunCheck } from "../../src/langgraph/client";
import { SweepSession, sweepQueue } from "../../src/sweep";
import { SWEEP_LIMITS, type SweepLimits } from "../../src/sweep-plan";

const run = (i: number) => ({ jobId: `job-${i}`, attempt: 1, threadId: `thread-${i}`, runId: `run-${i}` });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** A coordinator with these runs to check, recording what the sweep tells it. */
function fakeEnv(unfinished: number[], stopped: number[] = []) {
  const recorded: string[] = [];
  const coordinator = {
    sweep: async () => ({ timedOut: 0 }),
    runsToCheck: async () => ({ unfinished: unfinished.map(run), stopped: stopped.map(run) }),
    recordFinishedRun: async (jobId: string) => (recorded.push(jobId), true),
  };
  const env = { QUEUE_COORDINATOR: { getByName: () => coordinator } } as unknown as AppEnv;
  return { env, recorded };
}

/** A platform-flavour client whose checks answer `answer(runId)` after `delayMs`. */
function fakeLangGraph(answer: (runId: string) => RunCheck, { delayMs = 1, healthy = true } = {}) {
  const calls = { checks: [] as string[], cancels: [] as string[], probes: 0, running: 0, most: 0 };
  const client: LangGraphClient = {
    flavor: "platform",
    start: async () => { throw new Error("not in a sweep"); },
    follow: async () => { throw new Error("not in a sweep"); },
    async checkRun(_threadId, runId) {
      calls.checks.push(runId);
      calls.running++;
      calls.most = Math.max(calls.most, calls.running);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      calls.running--;
      return answer(runId);
    },
    async cancelRun(_threadId, runId) {
      calls.cancels.push(runId);
    },
    async health() {
      calls.probes++;
      return { ok: healthy, url: "http://langgraph.test/ok", flavor: "platform", latencyMs: 1, ...(healthy ? {} : { error: "refused" }) };
    },
  };
  return { client, calls };
}

const MINUTE = Date.UTC(2026, 0, 1, 12, 0);
const session = (client: LangGraphClient, scheduled = MINUTE, limits: Partial<SweepLimits> = {}) =>
  new SweepSession(client, { ...SWEEP_LIMITS, ...limits }, scheduled);

describe("the sweep's LangGraph part", () => {
  it("checks at most 100 runs of 1,000, 6 at a time, and the next sweep checks the next 100", async () => {
    const { env } = fakeEnv(range(1000));
    const { client, calls } = fakeLangGraph(() => ({ status: "active" }));
    const first = await sweepQueue(env, "q", session(client, MINUTE));
    expect(first).toMatchObject({ runsListed: 1000, runsChecked: 100, unanswered: 0, stoppedEarly: null });
    expect(calls.checks).toHaveLength(100);
    expect(calls.most).toBe(6);
    const firstChecked = new Set(calls.checks);
    calls.checks.length = 0;
    await sweepQueue(env, "q", session(client, MINUTE + 60_000));
    expect(calls.checks).toHaveLength(100);
    expect(calls.checks.filter((id) => firstChecked.has(id))).toEqual([]);
    // Ten sweeps, one a minute, check every run once.
    const seen = new Set<string>();
    for (let minute = 0; minute < 10; minute++) {
      calls.checks.length = 0;
      await sweepQueue(env, "q", session(client, MINUTE + minute * 60_000));
      for (const id of calls.checks) seen.add(id);
    }
    expect(seen.size).toBe(1000);
  });

  it("records runs that succeeded and stops stopped jobs' runs that are still going", async () => {
    const { env, recorded } = fakeEnv([1, 2, 3], [4, 5]);
    const { client, calls } = fakeLangGraph((runId) =>
      runId === "run-2" ? { status: "completed", result: { ok: 1 }, runMs: 5 } : runId === "run-4" ? { status: "active" } : { status: "ended" });
    const report = await sweepQueue(env, "q", session(client));
    expect(report).toMatchObject({ runsChecked: 5, recovered: 1, cancelled: 1, stoppedEarly: null });
    expect(recorded).toEqual(["job-2"]);
    expect(calls.cancels).toEqual(["run-4"]);
  });

  it("stops once a check gets no answer and LangGraph's health probe gets none either", async () => {
    const { env } = fakeEnv(range(1000));
    const { client, calls } = fakeLangGraph(() => ({ status: "unknown", error: "fetch failed" }), { delayMs: 20, healthy: false });
    const report = await sweepQueue(env, "q", session(client));
    // The first wave (6 at once) was under way when the first failed; nothing started after.
    expect(calls.checks).toHaveLength(6);
    expect(calls.probes).toBe(1);
    expect(report).toMatchObject({ runsChecked: 6, unanswered: 6, stoppedEarly: "langgraph_unreachable" });
  });

  it("goes on when a check gets no answer but LangGraph's health answers (that run's own trouble)", async () => {
    const { env } = fakeEnv(range(20));
    const { client, calls } = fakeLangGraph((runId) => (runId === "run-3" ? { status: "unknown", error: "HTTP 404" } : { status: "active" }));
    const report = await sweepQueue(env, "q", session(client));
    expect(report).toMatchObject({ runsChecked: 20, unanswered: 1, stoppedEarly: null });
    expect(calls.probes).toBe(1);
  });

  it("starts no check once the start budget is spent", async () => {
    const { env } = fakeEnv(range(100));
    const { client, calls } = fakeLangGraph(() => ({ status: "active" }), { delayMs: 30 });
    const report = await sweepQueue(env, "q", session(client, MINUTE, { startBudgetMs: 50 }));
    expect(report.stoppedEarly).toBe("start_budget");
    expect(calls.checks.length).toBeGreaterThanOrEqual(6);
    expect(calls.checks.length).toBeLessThan(30);
  });

  it("returns at the hard budget whatever is still under way", async () => {
    const { env } = fakeEnv(range(10));
    const { client } = fakeLangGraph(() => ({ status: "active" }), { delayMs: 5_000 });
    const started = Date.now();
    const report = await sweepQueue(env, "q", session(client, MINUTE, { hardBudgetMs: 100 }));
    expect(report.stoppedEarly).toBe("hard_budget");
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("shares its 6 slots over every queue of the sweep", async () => {
    const { client, calls } = fakeLangGraph(() => ({ status: "active" }), { delayMs: 5 });
    const shared = session(client);
    await Promise.all(["a", "b", "c"].map((name) => sweepQueue(fakeEnv(range(30)).env, name, shared)));
    expect(calls.checks).toHaveLength(90);
    expect(calls.most).toBe(6);
  });
});
