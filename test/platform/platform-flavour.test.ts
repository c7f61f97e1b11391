/**
 * The platform flavour (LangGraph Server API) inside workerd: the real consumer, the RunFollower
 * object's alarm and the cron sweep, against the fake LangGraph (test/support/langgraph-fake.ts),
 * which the tests drive as the graph would (stream events, checkpoints, the run's end) over its
 * /__control/ routes. Messages are delivered by hand with createMessageBatch, as in
 * test/unit/consumer.test.ts; the project's bindings set LANGGRAPH_LOST_RUN_SECONDS to 1.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runJobMessage } from "../../src/consumer";
import worker from "../../src/index";
import type { JobMessage } from "../../src/queue-do";
import { sweepAll } from "../../src/sweep";
import { dispatched, statusOf, waitForStatus } from "../support/jobs";
import { callsWith, checkpoint, emit, runsOfJob, runsOfThread, setRunStatus, succeed, type ControlRun } from "../support/langgraph-fake-control";

type Coordinator = Awaited<ReturnType<typeof dispatched>>["queue"];

async function deliver(bodies: JobMessage[]) {
  const batch = createMessageBatch<JobMessage>(
    "queue-worker-jobs",
    bodies.map((body, i) => ({ id: `msg-${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  await worker.queue(batch, env);
  return getQueueResult(batch, createExecutionContext());
}

/** Polls until `find` returns a run (the fake's view of it). */
async function waitForRun(what: string, find: () => Promise<ControlRun | undefined>, timeout = 5000): Promise<ControlRun> {
  let found: ControlRun | undefined;
  await expect.poll(async () => (found = await find()) !== undefined, { timeout, interval: 50, message: `waiting for ${what}` }).toBe(true);
  return found!;
}

/** The thread's one run, once a follower has joined its stream. */
const joinedRun = (threadId: string) =>
  waitForRun(`a follower joined to the run of thread ${threadId}`, async () => (await runsOfThread(threadId)).find((run) => run.listeners > 0));

const eventsOf = async (queue: Coordinator, id: string) => {
  const history = await queue.history(id);
  if (!history.ok) throw new Error(history.message);
  return history.data.events;
};

/** The job's status, with its LangGraph thread (every platform job has one from its enqueue). */
async function statusWithThread(queue: Coordinator, id: string) {
  const status = await statusOf(queue, id);
  if (!status.threadId) throw new Error(`job ${id} has no thread`);
  return { ...status, threadId: status.threadId };
}

/** The thread's run creations, as LangGraph saw them. */
const runCreations = async (threadId: string) => (await callsWith(threadId)).filter((call) => call === `POST /threads/${threadId}/runs`);

describe("a job on the platform flavour", () => {
  it("runs end to end: claim, runs.create, the follower streams progress into status, and the thread's values are the result", async () => {
    const id = `lifecycle-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id);
    expect((await deliver([message])).explicitAcks).toEqual(["msg-0"]);
    const { threadId } = await statusWithThread(queue, id);
    const run = await joinedRun(threadId);
    expect(run).toMatchObject({ assistant_id: "research_workflow", status: "running", input: { itemName: id }, metadata: { jobId: id, attempt: 1 } });

    // The graph reports progress (a custom event) and finishes a node (its update and checkpoint).
    await emit(run.run_id, "custom", { progress: 40, step: "research" });
    await expect
      .poll(async () => {
        const { status, progress, currentStep } = await statusOf(queue, id);
        return { status, progress, currentStep };
      }, { timeout: 3000, interval: 50 })
      .toEqual({ status: "running", progress: 40, currentStep: "research" });
    await checkpoint(threadId, { notes: ["a", "b"] });
    await succeed(run, { report: `report on ${id}` });

    expect(await waitForStatus(queue, id, "completed")).toMatchObject({
      retryCount: 0, progress: 100, error: null, result: { notes: ["a", "b"], report: `report on ${id}` },
    });
    expect((await eventsOf(queue, id)).map((e) => e.event)).toEqual(["queued", "dispatched", "started", "run_created", "progress", "progress", "completed"]);
    expect(await runCreations(threadId)).toHaveLength(1);
    expect((await callsWith(threadId)).filter((call) => call.endsWith("/cancel"))).toEqual([]);
  });

  it("after a hand-over that failed once the run was created, the Queue's redelivery rejoins that run: one runs.create, no retry spent", async () => {
    const id = `handover-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id, {}, 0);
    // Injected fault: the follower cannot be reached (this runtime cannot make a Durable Object unreachable by itself).
    const unreachableFollower = { getByName: () => ({ follow: () => Promise.reject(new Error("follower unreachable (injected)")) }) };
    await expect(runJobMessage(message, { ...env, RUN_FOLLOWER: unreachableFollower as unknown as typeof env.RUN_FOLLOWER })).rejects.toThrow(/injected/);
    const { threadId, status } = await statusWithThread(queue, id);
    expect(status).toBe("running");
    const [created] = await runsOfThread(threadId);
    expect(created).toMatchObject({ status: "running", listeners: 0 });

    // The Queue delivers the same attempt again: it finds the run already created and hands it over.
    expect((await deliver([message])).explicitAcks).toEqual(["msg-0"]);
    const run = await joinedRun(threadId);
    expect(run.run_id).toBe(created!.run_id);
    await succeed(run, { report: "done" });

    expect(await waitForStatus(queue, id, "completed")).toMatchObject({ retryCount: 0, result: { report: "done" } });
    expect(await runCreations(threadId)).toHaveLength(1);
    expect((await eventsOf(queue, id)).map((e) => e.event)).toEqual(["queued", "dispatched", "started", "run_created", "redelivered", "rejoined", "progress", "completed"]);
  });
});

describe("cancelling a running platform job", () => {
  it("reaches the job's follower at once, which stops the LangGraph run and lets go of its stream", async () => {
    const id = `cancel-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id);
    await deliver([message]);
    const { threadId } = await statusWithThread(queue, id);
    const run = await joinedRun(threadId);
    expect(await queue.cancel(id)).toMatchObject({ ok: true, data: { previousStatus: "running" } });
    // Well before the follower's next heartbeat (10 s), whose refusal would stop it otherwise.
    const cancel = `POST /threads/${threadId}/runs/${run.run_id}/cancel`;
    await expect.poll(() => callsWith(run.run_id), { timeout: 5000, interval: 50 }).toContain(cancel);
    await expect.poll(async () => (await runsOfThread(threadId))[0]!.listeners, { timeout: 5000, interval: 50 }).toBe(0);
    // This fake's running runs ignore cancels (as the JS dev server's do): the run ends anyway, unrecorded.
    await succeed(run, { report: "too late" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await statusOf(queue, id)).toMatchObject({ status: "cancelled", result: null });
  });

  it("still reaches the follower after the job moved to a copy of its thread (a lost run after an outage), and stops the new run", async () => {
    const id = `moved-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id);
    await deliver([message]);
    const { threadId } = await statusWithThread(queue, id);
    await joinedRun(threadId);
    await checkpoint(threadId, { notes: ["a"] }); // its first node finished

    // Attempt 1 meets an outage, as its follower reports when nothing answers (injected through
    // the coordinator: the fake is shared with other tests, so it is not taken down). Its run stays
    // "running" and silent from now on, as a run LangGraph lost does.
    expect(await queue.fail(id, 1, { error: "LangGraph unreachable (injected)", retryable: true, unreachable: true })).toMatchObject({ ok: true });
    // The circuit's probe dispatches attempt 2 after 1 s.
    await expect.poll(async () => (await eventsOf(queue, id)).filter((e) => e.event === "dispatched").length, { timeout: 5000, interval: 100 }).toBe(2);
    expect((await deliver([{ ...message, attempt: 2 }])).explicitAcks).toEqual(["msg-0"]);

    // Attempt 2 rejoins the silent run; after 1 s of silence it is proven lost, and the job goes
    // on in a copy of its thread, from its checkpoint.
    const moved = await waitForRun("the job's run in a copy of its thread", async () =>
      (await runsOfJob(id)).find((run) => run.thread_id !== threadId && run.listeners > 0));
    expect(moved).toMatchObject({ input: null, metadata: { jobId: id, attempt: 2 } });
    await expect.poll(async () => (await statusOf(queue, id)).threadId, { timeout: 3000, interval: 50 }).toBe(moved.thread_id);
    expect((await eventsOf(queue, id)).map((e) => e.event)).toEqual(expect.arrayContaining(["outage", "thread_replaced"]));

    // The follower is named by the job's queue and seq, not by its thread: the cancel reaches it.
    expect(await queue.cancel(id)).toMatchObject({ ok: true, data: { previousStatus: "running" } });
    const cancel = `POST /threads/${moved.thread_id}/runs/${moved.run_id}/cancel`;
    await expect.poll(() => callsWith(moved.run_id), { timeout: 5000, interval: 50 }).toContain(cancel);
    await expect.poll(async () => (await runsOfThread(moved.thread_id))[0]!.listeners, { timeout: 5000, interval: 50 }).toBe(0);
    expect(await runCreations(threadId)).toHaveLength(1);
    expect(await runCreations(moved.thread_id)).toHaveLength(1);
    expect(await statusOf(queue, id)).toMatchObject({ status: "cancelled", retryCount: 0 });
  });
});

describe("the cron sweep on the platform flavour", () => {
  /** Injected fault: a follower that takes the hand-over and never follows (it died before its first alarm). */
  const deafFollower = { getByName: () => ({ follow: async () => {} }) } as unknown as typeof env.RUN_FOLLOWER;

  it("records a running job whose run succeeded while no follower listened, with the thread's values", async () => {
    const id = `sweep-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id);
    await runJobMessage(message, { ...env, RUN_FOLLOWER: deafFollower });
    const { threadId, status } = await statusWithThread(queue, id);
    expect(status).toBe("running");
    const [run] = await runsOfThread(threadId);
    expect(run).toMatchObject({ status: "running", listeners: 0 });
    await checkpoint(threadId, { report: "finished unheard" });
    await setRunStatus(run!.run_id, "success");

    const queueName = message.queueName;
    expect(await sweepAll({ ...env, QUEUE_NAMES: queueName })).toMatchObject([{ queue: queueName, runsChecked: 1, recovered: 1, stoppedEarly: null }]);
    expect(await statusOf(queue, id)).toMatchObject({ status: "completed", retryCount: 0, progress: 100, result: { report: "finished unheard" } });
    expect((await eventsOf(queue, id)).at(-1)).toMatchObject({ event: "completed", detail: { reconciled: true } });
  });

  it("stops the run, still going, of a job cancelled while no follower listened", async () => {
    const id = `sweep-stop-${crypto.randomUUID()}`;
    const { queue, message } = await dispatched(id);
    await runJobMessage(message, { ...env, RUN_FOLLOWER: deafFollower });
    const { threadId } = await statusWithThread(queue, id);
    const [run] = await runsOfThread(threadId);
    await queue.cancel(id);
    expect(await callsWith(run!.run_id)).not.toContain(`POST /threads/${threadId}/runs/${run!.run_id}/cancel`);

    const queueName = message.queueName;
    expect(await sweepAll({ ...env, QUEUE_NAMES: queueName })).toMatchObject([{ queue: queueName, runsChecked: 1, cancelled: 1, recovered: 0 }]);
    expect(await callsWith(run!.run_id)).toContain(`POST /threads/${threadId}/runs/${run!.run_id}/cancel`);
    expect(await statusOf(queue, id)).toMatchObject({ status: "cancelled", result: null });
  });
});
