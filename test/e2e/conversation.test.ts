/**
 * A conversation over several jobs on one LangGraph thread the client chose (`threadId`): its
 * jobs run one at a time in enqueue order, the later one `queued` (waiting for the thread) while
 * the earlier runs, and each run continues the state the one before left. The e2e queues have
 * one slot, so "queued" alone could mean waiting for the slot: the history's `waitingForThread`
 * and `thread_free` show it waited for the thread.
 */
import { randomUUID } from "node:crypto";
import { Client } from "@langchain/langgraph-sdk";
import { expect, inject, it } from "vitest";
import { QueueClient, uniqueJobId } from "./api";

it("runs two jobs on one thread in order, the second continuing the first's conversation", async () => {
  const queue = new QueueClient(inject("workerUrl"), "e2e-conversation");
  const langgraph = new Client({ apiUrl: inject("langgraphUrl") });
  const threadId = randomUUID();
  const first = uniqueJobId("turn-1");
  const second = uniqueJobId("turn-2");
  // The first turn takes a moment (its one node sleeps), so the second is seen waiting for it.
  await queue.enqueue({ id: first, type: "conversation", threadId, payload: { message: "hello", delayMs: 1500 } });
  const enqueued = await queue.enqueue({ id: second, type: "conversation", threadId, payload: { message: "and again" } });
  expect(enqueued.status).toBe("queued");

  await queue.waitForJob(first, (j) => j.status === "running", { timeoutMs: 20_000 });
  const waiting = await queue.status(second);
  expect(waiting).toMatchObject({ status: "queued", startedAt: null, threadId });

  const one = await queue.waitForEnd(first, "completed", { timeoutMs: 30_000 });
  const two = await queue.waitForEnd(second, "completed", { timeoutMs: 30_000 });
  expect(one).toMatchObject({ type: "conversation", assistantId: "conversation", threadId });
  expect(two).toMatchObject({ type: "conversation", assistantId: "conversation", threadId });
  expect(Date.parse(two.startedAt!)).toBeGreaterThanOrEqual(Date.parse(one.completedAt!));

  expect(one.result).toMatchObject({
    turns: 1,
    messages: [{ role: "user", content: "hello" }, { role: "assistant", content: 'turn 1: you said "hello"' }],
  });
  // The second run started from the first's state: two turns, four messages, the first quoted.
  expect(two.result).toMatchObject({
    turns: 2,
    messages: [
      { role: "user", content: "hello" },
      { role: "assistant", content: 'turn 1: you said "hello"' },
      { role: "user", content: "and again" },
      { role: "assistant", content: 'turn 2: you said "and again"; earlier you said "hello"' },
    ],
  });

  // It waited for the thread, and went when the first job let go of it.
  const events = await queue.history(second);
  expect(events[0]).toMatchObject({ event: "queued", detail: { threadId, waitingForThread: true } });
  expect(events.find((e) => e.event === "thread_free")?.detail).toEqual({ after: first });
  expect(events.map((e) => e.event)).not.toContain("thread_busy");
  expect((await queue.history(first)).map((e) => e.event)).not.toContain("thread_replaced");

  // One thread on the server, holding both turns: the client's, never a copy.
  const thread = await langgraph.threads.get(threadId);
  expect((thread.values as { turns?: number }).turns).toBe(2);
  const runs = await langgraph.runs.list(threadId);
  expect(runs.map((run) => run.metadata?.jobId).sort()).toEqual([first, second].sort());
});
