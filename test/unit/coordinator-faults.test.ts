/**
 * Faults this runtime cannot cause on its own, injected by replacing one binding of one object:
 * the Cloudflare Queue refusing a send, and the coordinator unreachable for a follower. Each
 * test says which binding it replaces. Everything else is the real coordinator.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { QueueConfig } from "../../src/config";
import { DISPATCH_LEASE_MS, type QueueCoordinator } from "../../src/queue-do";
import { recordOutcome } from "../../src/run-follower";
import { claimed, freshCoordinator, job, statusOf } from "../support/jobs";

type Stub = DurableObjectStub<QueueCoordinator>;

/** Replaces the object's Queue binding (and, if given, its limits and send timeout) until `restore` is called. */
async function withQueue(queue: Stub, sendBatch: (messages: MessageSendRequest[]) => Promise<unknown>, config: Partial<QueueConfig> = {}, sendTimeoutMs?: number) {
  await runInDurableObject(queue, (instance) => {
    const inner = instance as unknown as { env: Env; config: QueueConfig; dispatcher: { sendTimeoutMs: number }; realEnv?: Env; realConfig?: QueueConfig };
    inner.realEnv ??= inner.env;
    inner.realConfig ??= inner.config;
    inner.env = { ...inner.realEnv, JOB_QUEUE: { ...inner.realEnv.JOB_QUEUE, sendBatch } as unknown as Queue };
    inner.config = { ...inner.realConfig, ...config };
    if (sendTimeoutMs !== undefined) inner.dispatcher.sendTimeoutMs = sendTimeoutMs;
  });
}

/** A promise and the function that settles it. */
function deferred() {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

describe("the Queue refusing a send", () => {
  it("brings a job whose dispatch could not be sent back through its dispatch lease, without spending a retry", async () => {
    const queue = freshCoordinator();
    await withQueue(queue, () => Promise.reject(new Error("Queue send failed (injected)")));
    const now = Date.now();
    await queue.enqueue(job("unsent"), now);
    // Dispatched (the transaction committed), but no consumer will ever hear of it.
    expect(await statusOf(queue, "unsent")).toMatchObject({ status: "queued", queuePosition: 0 });

    await withQueue(queue, (messages) => env.JOB_QUEUE.sendBatch(messages));
    await queue.runTimers(now + DISPATCH_LEASE_MS);
    expect(await statusOf(queue, "unsent")).toMatchObject({ status: "queued", queuePosition: 0, retryCount: 0 });
    expect(await queue.claim("unsent", 2, now + DISPATCH_LEASE_MS)).toMatchObject({ ok: true });
    const history = await queue.history("unsent");
    expect(history.ok && history.data.events.map((e) => e.event)).toEqual(["queued", "dispatched", "dispatch_expired", "dispatched", "started"]);
  });

  it("sends a dispatch of more than 100 jobs in batches of at most 100, the Queues limit", async () => {
    const queue = freshCoordinator();
    const batches: number[] = [];
    // No slots while the 250 jobs arrive, then 250 slots: one dispatch of all of them.
    await withQueue(queue, async (messages) => void batches.push(messages.length), { concurrency: 0, capacity: 300 });
    const now = Date.now();
    for (let i = 0; i < 250; i++) await queue.enqueue(job(`bulk-${i}`), now);
    expect(batches).toEqual([]);
    await withQueue(queue, async (messages) => void batches.push(messages.length), { concurrency: 250, capacity: 300 });
    await queue.runTimers(now);
    expect(batches).toEqual([100, 100, 50]);
  });

  it("sends the jobs dispatched while a send is in flight together, in the next send", async () => {
    const queue = freshCoordinator();
    const batches: string[][] = [];
    const firstSend = deferred();
    await withQueue(queue, async (messages) => {
      batches.push(messages.map((message) => (message.body as { jobId: string }).jobId));
      if (batches.length === 1) await firstSend.promise;
    }, { concurrency: 5 });
    // The first enqueue's send hangs; the two after it commit their dispatches meanwhile.
    const answers = [queue.enqueue(job("first")), queue.enqueue(job("second")), queue.enqueue(job("third"))];
    await expect.poll(async () => (await queue.stats()).queuedJobs).toBe(3);
    expect(batches).toEqual([["first"]]);
    firstSend.release();
    expect((await Promise.all(answers)).every((answer) => answer.ok)).toBe(true);
    expect(batches).toEqual([["first"], ["second", "third"]]);
  });

  it("gives up on a send that never settles, so that the sends behind it go, and its job comes back through its lease", async () => {
    const queue = freshCoordinator();
    const sent: string[] = [];
    let hung = false;
    await withQueue(queue, async (messages) => {
      const ids = messages.map((message) => (message.body as { jobId: string }).jobId);
      if (ids.includes("stuck") && !hung) {
        hung = true;
        return new Promise(() => {});
      }
      sent.push(...ids);
    }, { concurrency: 5 }, 200);
    const now = Date.now();
    const stuck = queue.enqueue(job("stuck"), now);
    const next = queue.enqueue(job("next"), now);
    expect((await Promise.all([stuck, next])).every((answer) => answer.ok)).toBe(true);
    expect(sent).toEqual(["next"]);
    // Its dispatch lease runs out and it goes again, as attempt 2, without spending a retry.
    await queue.runTimers(now + DISPATCH_LEASE_MS);
    expect(sent).toContain("stuck");
    expect(await statusOf(queue, "stuck")).toMatchObject({ status: "queued", queuePosition: 0, retryCount: 0 });
    expect(await queue.claim("stuck", 2, now + DISPATCH_LEASE_MS)).toMatchObject({ ok: true });
  });
});

describe("a follower's final report", () => {
  it("is retried when the coordinator cannot be reached, and recorded once", async () => {
    const { queue, task } = await claimed(`report-${crypto.randomUUID()}`);
    let failures = 0;
    // The coordinator namespace as a follower sees it: its first complete() call fails.
    const flaky = {
      ...env,
      QUEUE_COORDINATOR: {
        getByName: (name: string) => {
          const stub = env.QUEUE_COORDINATOR.getByName(name);
          return new Proxy(stub, {
            get: (target, key) =>
              key === "complete" && failures++ === 0
                ? () => Promise.reject(new Error("Network connection lost (injected)"))
                : Reflect.get(target, key),
          });
        },
      } as unknown as Env["QUEUE_COORDINATOR"],
    };
    expect(await recordOutcome(task, flaky, { status: "completed", result: { ok: true } })).toBe("recorded");
    expect(failures).toBe(2);
    expect(await statusOf(queue, task.jobId)).toMatchObject({ status: "completed", result: { ok: true } });
    const history = await queue.history(task.jobId);
    expect(history.ok && history.data.events.filter((e) => e.event === "completed")).toHaveLength(1);
  });
});
