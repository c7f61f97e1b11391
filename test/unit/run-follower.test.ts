/**
 * The RunFollower against the real workflows test server (test/support/workflows-server.ts),
 * whose flavour makes the whole run one blocking call: the follower makes it, then records the
 * outcome with the coordinator. `followRun` is called directly where a test needs another env
 * (LangGraph down, a short budget, an API key); the object itself where its alarm matters.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { followRun } from "../../src/run-follower";
import { claimed, statusOf, waitForStatus } from "../support/jobs";
import { apiKeyUses, workflowCalls } from "../support/workflows-calls";

describe("following a run", () => {
  it("records the result, with the process time from the claim", async () => {
    const { queue, task } = await claimed(`done-${crypto.randomUUID()}`);
    expect(await followRun(task, env)).toBe("recorded");
    expect(await statusOf(queue, task.jobId)).toMatchObject({ status: "completed", progress: 100, result: { call: 1 } });
  });

  it("schedules a retry when LangGraph answers 503", async () => {
    const { queue, task } = await claimed(`flaky-${crypto.randomUUID()}`, { failTimes: 1 });
    await followRun(task, env);
    const status = await statusOf(queue, task.jobId);
    expect(status).toMatchObject({ status: "queued", retryCount: 1 });
    expect(status.error).toMatch(/LangGraph answered 503/);
    expect(status.nextRetryAt).not.toBeNull();
  });

  it("fails at once when LangGraph rejects the job with a 4xx", async () => {
    const { queue, task } = await claimed(`rejected-${crypto.randomUUID()}`, { failStatus: 422 });
    await followRun(task, env);
    const status = await statusOf(queue, task.jobId);
    expect(status).toMatchObject({ status: "failed", retryCount: 0 });
    expect(status.error).toMatch(/LangGraph answered 422/);
  });

  it("puts the job back without spending a retry when LangGraph is unreachable, and opens the circuit", async () => {
    const { queue, task } = await claimed(`down-${crypto.randomUUID()}`, {}, 1);
    await followRun(task, { ...env, LANGGRAPH_API_URL: "http://127.0.0.1:9" });
    const status = await statusOf(queue, task.jobId);
    expect(status).toMatchObject({ status: "queued", retryCount: 0, nextRetryAt: null });
    expect(status.error).toMatch(/LangGraph unreachable/);
    expect((await queue.stats()).langgraph).toMatchObject({ circuit: "open" });
    const history = await queue.history(task.jobId);
    expect(history.ok && history.data.events.map((e) => e.event).at(-1)).toBe("outage");
  });

  it("fails a workflows-flavour job that outlives RUN_BUDGET_SECONDS, as its call cannot be rejoined", async () => {
    const { queue, task } = await claimed(`slow-${crypto.randomUUID()}`, { delayMs: 2500 });
    await followRun(task, { ...env, RUN_BUDGET_SECONDS: "1" });
    const status = await statusOf(queue, task.jobId);
    expect(status).toMatchObject({ status: "failed", retryCount: 0 });
    expect(status.error).toMatch(/longer than RUN_BUDGET_SECONDS/);
  });

  it("sends LANGGRAPH_API_KEY as x-api-key (workflows flavour)", async () => {
    const { queue, task } = await claimed(`keyed-${crypto.randomUUID()}`);
    const key = `lg-${crypto.randomUUID()}`;
    await followRun(task, { ...env, LANGGRAPH_API_KEY: key });
    expect((await statusOf(queue, task.jobId)).status).toBe("completed");
    expect(await apiKeyUses(key)).toBe(1);
  });

  it("stops when its report is refused (the job was cancelled), and records nothing after", async () => {
    const { queue, task } = await claimed(`cancel-${crypto.randomUUID()}`, { delayMs: 1500 });
    // A short heartbeat, so the follower hears of the cancel quickly.
    const following = followRun(task, env, { heartbeatMs: 50 });
    expect(await queue.cancel(task.jobId)).toMatchObject({ ok: true, data: { previousStatus: "running" } });
    expect(await following).toBe("stopped");
    expect(await statusOf(queue, task.jobId)).toMatchObject({ status: "cancelled", result: null });
    const history = await queue.history(task.jobId);
    expect(history.ok && history.data.events.map((e) => e.event)).not.toContain("completed");
  });
});

describe("the RunFollower object", () => {
  it("follows a handed-over run in its alarm, once however often it is handed over", async () => {
    const { queue, task, followerName } = await claimed(`handed-${crypto.randomUUID()}`, { delayMs: 200 });
    const follower = env.RUN_FOLLOWER.getByName(followerName);
    await follower.follow(task);
    await follower.follow(task);
    await waitForStatus(queue, task.jobId, "completed");
    expect(await workflowCalls(task.jobId)).toBe(1);
  });

  it("stops at once when the coordinator cancels the job it follows", async () => {
    const { queue, task, followerName } = await claimed(`stopped-${crypto.randomUUID()}`, { delayMs: 5000 });
    const follower = env.RUN_FOLLOWER.getByName(followerName);
    await follower.follow(task);
    await expect.poll(() => workflowCalls(task.jobId)).toBe(1);
    // Cancel tells the follower directly: it lets go of the run well before its next heartbeat
    // (10 s) or the end of the run (5 s), and forgets the task.
    await queue.cancel(task.jobId);
    await expect
      .poll(() => runInDurableObject(follower, (_, state) => state.storage.kv.get("task") ?? null), { timeout: 2000 })
      .toBeNull();
    expect(await statusOf(queue, task.jobId)).toMatchObject({ status: "cancelled", result: null });
  });

  it("keeps a cancel that comes before its follow began, and never follows (or runs) that attempt", async () => {
    const { queue, task, followerName } = await claimed(`early-stop-${crypto.randomUUID()}`, { delayMs: 2000 });
    const follower = env.RUN_FOLLOWER.getByName(followerName);
    // The coordinator's stop reaches the follower before the consumer's hand-over does.
    expect(await queue.cancel(task.jobId)).toMatchObject({ ok: true });
    expect(await runInDurableObject(follower, (_, state) => state.storage.kv.get("stop"))).toEqual({ attempt: task.attempt, reason: { code: "JOB_CANCELLED", jobOver: true } });
    // Should the hand-over never come, an alarm clears the stop.
    expect(await runInDurableObject(follower, (_, state) => state.storage.getAlarm())).toBeGreaterThan(Date.now() + 60_000);
    await follower.follow(task);
    await runDurableObjectAlarm(follower);
    // Without the kept stop, the alarm would make the 2 s call and only its first report would be refused.
    expect(await workflowCalls(task.jobId)).toBe(0);
    expect(await runInDurableObject(follower, (_, state) => [state.storage.kv.get("task") ?? null, state.storage.kv.get("stop") ?? null])).toEqual([null, null]);
    expect(await statusOf(queue, task.jobId)).toMatchObject({ status: "cancelled", result: null });
  });

  /** Leaves `task` in the follower's storage as an earlier alarm invocation would have, due now. */
  async function leftBehind(threadId: string, stored: Record<string, unknown>) {
    const follower = env.RUN_FOLLOWER.getByName(threadId);
    await runInDurableObject(follower, async (_, state) => {
      state.storage.kv.put("task", stored);
      await state.storage.setAlarm(Date.now());
    });
    return follower;
  }

  it("reports an outcome it kept, after an alarm that could not report it, without running the job again", async () => {
    const { queue, task } = await claimed(`kept-${crypto.randomUUID()}`);
    const follower = await leftBehind(task.threadId, { ...task, follows: 1, outcome: { status: "completed", result: { kept: true } } });
    expect(await runDurableObjectAlarm(follower)).toBe(true);
    expect(await statusOf(queue, task.jobId)).toMatchObject({ status: "completed", result: { kept: true } });
    expect(await workflowCalls(task.jobId)).toBe(0);
  });

  it("does not call /workflows/execute again when it died during the call: the attempt is retried instead", async () => {
    const { queue, task } = await claimed(`died-${crypto.randomUUID()}`);
    const follower = await leftBehind(task.threadId, { ...task, follows: 1 });
    expect(await runDurableObjectAlarm(follower)).toBe(true);
    const status = await statusOf(queue, task.jobId);
    expect(status).toMatchObject({ status: "queued", retryCount: 1 });
    expect(status.error).toMatch(/cannot be rejoined/);
    expect(await workflowCalls(task.jobId)).toBe(0);
  });
});
