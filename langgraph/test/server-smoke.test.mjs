// Runs the example graphs on a real `langgraphjs dev` server and pins down the server and
// SDK behaviour that src/langgraph.ts relies on. Run with `npm test` in langgraph/.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@langchain/langgraph-sdk";
import { startLangGraphServer } from "../../scripts/langgraph-dev.mjs";

// A port and a data folder of its own, so that it runs beside `npm start` (8123) and the
// queue's tests, and neither sees nor wipes their threads.
const PORT = Number(process.env.LANGGRAPH_SMOKE_PORT ?? 8131);

let server;
let client;
let dataDir;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "langgraph-smoke-"));
  server = await startLangGraphServer({ port: PORT, dataDir, stdio: "ignore" });
  client = new Client({ apiUrl: server.url });
});

after(async () => {
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function newThread() {
  const threadId = randomUUID();
  await client.threads.create({ threadId, ifExists: "do_nothing" });
  return threadId;
}

async function streamRun(threadId, assistantId, input) {
  const chunks = [];
  for await (const chunk of client.runs.stream(threadId, assistantId, { input, streamMode: ["updates", "custom"] })) {
    chunks.push(chunk);
  }
  return chunks;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The queue's way: create the run (streaming updates and custom events), then join its stream. */
const STREAM_MODES = ["updates", "custom"];
async function createAndJoin(threadId, assistantId, payload) {
  const run = await client.runs.create(threadId, assistantId, { ifNotExists: "create", multitaskStrategy: "reject", streamMode: STREAM_MODES, ...payload });
  const chunks = [];
  for await (const chunk of client.runs.joinStream(threadId, run.run_id, { streamMode: STREAM_MODES })) chunks.push(chunk);
  return { runId: run.run_id, chunks, status: (await client.runs.get(threadId, run.run_id)).status };
}

/** The `updates` chunks as the keys of their data: a node's name, or "__interrupt__". */
const updateKeys = (chunks) => chunks.filter((c) => c.event === "updates").map((c) => Object.keys(c.data));

const graphs = [
  ["research_workflow", { itemName: "Widget", itemId: "w-1", projectId: "p-1" }, ["research", "draft"], ["researchData", "draftContent"]],
  ["content_generation", { topic: "queues", sectionCount: 2 }, ["outline", "generating_content", "review"], ["contentOutline", "generatedContent", "reviewResult"]],
  ["batch_processing", { items: ["a", "b", "c"] }, ["process_items", "summarize"], ["results", "summary"]],
  ["data_sync", { source: "crm", destination: "warehouse", recordCount: 4 }, ["fetch_source", "transform", "write"], ["fetched", "transformed", "syncResult"]],
  ["conversation", { message: "hello" }, ["reply"], ["messages", "turns"]],
];

describe("each example graph", () => {
  for (const [assistantId, input, nodes, outputs] of graphs) {
    test(`${assistantId} streams progress and updates, and ends with its outputs`, async () => {
      const threadId = await newThread();
      const chunks = await streamRun(threadId, assistantId, input);

      assert.equal(chunks[0].event, "metadata");
      const progress = chunks.filter((c) => c.event === "custom").map((c) => c.data);
      for (const event of progress) {
        assert.ok(Number.isInteger(event.progress) && event.progress >= 0 && event.progress <= 100);
        assert.ok(nodes.includes(event.step));
      }
      assert.deepEqual(progress.map((e) => e.progress), progress.map((e) => e.progress).toSorted((a, b) => a - b));
      assert.deepEqual(progress.at(-1), { progress: 100, step: nodes.at(-1) });

      // `updates` carry {<node name>: <that node's partial state>}, one per node, in order.
      const updates = chunks.filter((c) => c.event === "updates").map((c) => Object.keys(c.data));
      assert.deepEqual(updates, nodes.map((node) => [node]));

      // The final state (a queue job's result) is the input and the graph's outputs, nothing else:
      // no test instrumentation unless the input asks for it.
      const { values, status } = await client.threads.get(threadId);
      assert.equal(status, "idle");
      assert.deepEqual(Object.keys(values).toSorted(), [...Object.keys(input), ...outputs].toSorted());
      for (const key of outputs) assert.ok(values[key] !== undefined, `${key} in final values`);
    });

    test(`${assistantId} with instrument: true counts and times each node in its final state`, async () => {
      const before = Date.now();
      const values = await client.runs.wait(await newThread(), assistantId, { input: { ...input, instrument: true } });
      assert.deepEqual(Object.keys(values).toSorted(), [...Object.keys(input), "instrument", ...outputs, "nodeRuns", "stepTimes"].toSorted());
      assert.deepEqual(values.nodeRuns, Object.fromEntries(nodes.map((node) => [node, 1])));
      assert.deepEqual(Object.keys(values.stepTimes), nodes);
      for (const { startedAtMs, endedAtMs } of Object.values(values.stepTimes)) assert.ok(before <= startedAtMs && startedAtMs <= endedAtMs && endedAtMs <= Date.now());
    });
  }

  test("research_workflow derives its output from the input alone", async () => {
    const input = { itemName: "Gadget", itemId: "g-7", projectId: "p-2" };
    const first = await client.runs.wait(await newThread(), "research_workflow", { input });
    const second = await client.runs.wait(await newThread(), "research_workflow", { input });
    assert.deepEqual(first.researchData, second.researchData);
    assert.deepEqual(first.draftContent, second.draftContent);
    assert.equal(first.researchData.itemName, "Gadget");
  });
});

describe("server and SDK behaviour", () => {
  test("GET /ok answers {ok: true}", async () => {
    const response = await fetch(`${server.url}/ok`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { ok: true });
  });

  test("threads.create with a caller-chosen UUID is idempotent with ifExists: do_nothing", async () => {
    const threadId = randomUUID();
    const created = await client.threads.create({ threadId, ifExists: "do_nothing" });
    const again = await client.threads.create({ threadId, ifExists: "do_nothing" });
    assert.equal(created.thread_id, threadId);
    assert.equal(again.created_at, created.created_at);
  });

  test("thread ids must be UUIDs (400)", async () => {
    await assert.rejects(client.threads.create({ threadId: "job-123" }), { status: 400 });
  });

  test("a retry with input null resumes from the checkpoint: finished nodes do not run again", async () => {
    const threadId = await newThread();
    const input = { itemName: "Widget", failTimes: { node: "draft", times: 1 }, instrument: true };

    const failed = await streamRun(threadId, "research_workflow", input);
    const error = failed.find((c) => c.event === "error");
    assert.match(error.data.message, /draft failed on purpose/);
    const [firstRun] = await client.runs.list(threadId);
    assert.equal((await client.runs.get(threadId, firstRun.run_id)).status, "error");
    // The thread keeps what research wrote; draft's failed execution left nothing.
    const afterFailure = await client.threads.get(threadId);
    assert.equal(afterFailure.status, "error");
    assert.deepEqual(afterFailure.values.nodeRuns, { research: 1 });

    const resumed = await streamRun(threadId, "research_workflow", null);
    assert.deepEqual(resumed.filter((c) => c.event === "updates").map((c) => Object.keys(c.data)), [["draft"]]);
    const { values, status } = await client.threads.get(threadId);
    assert.equal(status, "idle");
    assert.deepEqual(values.nodeRuns, { research: 1, draft: 1 });
    assert.equal(values.draftContent.title, "Research draft: Widget");
  });

  test("an error a node marks as final: the stream's error event carries the error's name", async () => {
    const threadId = randomUUID();
    const { chunks, status } = await createAndJoin(threadId, "data_sync", { input: { delayMs: 100, finalError: { node: "transform" }, instrument: true } });
    assert.deepEqual(chunks.at(-1), { id: chunks.at(-1).id, event: "error", data: { error: "NonRetryableError", message: "transform failed for good (finalError)" } });
    assert.equal(status, "error");
    const thread = await client.threads.get(threadId);
    assert.equal(thread.status, "error");
    assert.deepEqual(thread.values.nodeRuns, { fetch_source: 1 });

    // Any name comes through, also on runs.join's __error__ (as JSON inside the message).
    const run = await client.runs.create(threadId, "data_sync", { input: { delayMs: 200, finalError: { node: "write", name: "PermanentError", message: "bad record 7" } } });
    const joined = await client.runs.join(threadId, run.run_id);
    assert.deepEqual(joined.__error__, { error: "Error", message: JSON.stringify({ error: "PermanentError", message: "bad record 7" }) });
  });

  test("runs.join reports a run that fails while joined as a 200 body with __error__", async () => {
    const threadId = await newThread();
    const run = await client.runs.create(threadId, "data_sync", {
      input: { delayMs: 200, failTimes: { node: "transform", times: 1 }, instrument: true },
    });
    const joined = await client.runs.join(threadId, run.run_id);
    assert.equal(joined.__error__.error, "Error");
    // The message is itself JSON: {"error": "<class>", "message": "<text>"}.
    assert.match(JSON.parse(joined.__error__.message).message, /transform failed on purpose/);

    // Joining it again after it ended returns the thread's values instead, without __error__.
    const rejoined = await client.runs.join(threadId, run.run_id);
    assert.equal(rejoined.__error__, undefined);
    assert.deepEqual(rejoined.nodeRuns, { fetch_source: 1 });
  });

  test("runs.cancel interrupts a running run; the stream ends without an error event", async () => {
    const threadId = await newThread();
    const chunks = [];
    let runId;
    const streaming = (async () => {
      const input = { items: [1, 2, 3, 4, 5, 6], delayMs: 300 };
      for await (const chunk of client.runs.stream(threadId, "batch_processing", { input, streamMode: ["updates", "custom"] })) {
        if (chunk.event === "metadata") runId = chunk.data.run_id;
        chunks.push(chunk);
      }
    })();
    await sleep(800);
    await client.runs.cancel(threadId, runId);
    await streaming;

    assert.equal((await client.runs.get(threadId, runId)).status, "interrupted");
    assert.equal(chunks.some((c) => c.event === "error"), false);
    const processed = chunks.filter((c) => c.event === "custom" && c.data.message).length;
    assert.ok(processed >= 1 && processed < 6, `processed ${processed} of 6 items before the cancel`);
    await sleep(700);
    const state = await client.threads.getState(threadId);
    assert.deepEqual(state.next, ["process_items"], "the cancelled node did not finish later");
  });

  test("a second run on a busy thread is a 422, with multitaskStrategy reject or none, input or command", async () => {
    const threadId = await newThread();
    const run = await client.runs.create(threadId, "data_sync", { input: { delayMs: 400 }, multitaskStrategy: "reject" });
    const busy = "Thread is already running a task. Wait for it to finish or choose a different multitask strategy.";
    for (const payload of [{ input: {}, multitaskStrategy: "reject" }, { command: { resume: true }, multitaskStrategy: "reject" }, { input: {} }]) {
      await assert.rejects(client.runs.create(threadId, "data_sync", payload), (error) => {
        assert.equal(error.status, 422);
        assert.equal(error.text, busy);
        assert.equal(error.message, `HTTP 422: ${busy}`);
        return true;
      });
    }
    await client.runs.join(threadId, run.run_id);
  });

  test("the run's metadata is in runs.list and in the metadata of every checkpoint the run writes", async () => {
    const threadId = randomUUID();
    const metadata = { queueName: "q", jobId: "j1", attempt: 1 };
    const { runId } = await createAndJoin(threadId, "data_sync", { input: { recordCount: 1 }, metadata });
    const state = await client.threads.getState(threadId);
    assert.deepEqual(pick(state.metadata, ["queueName", "jobId", "attempt", "run_id", "thread_id"]), { ...metadata, run_id: runId, thread_id: threadId });
    const [run] = await client.runs.list(threadId);
    assert.deepEqual(pick(run.metadata, ["queueName", "jobId", "attempt"]), metadata);
    // A thread that the run created (ifNotExists: "create") takes the run's metadata too; later runs do not change it.
    assert.deepEqual(pick((await client.threads.get(threadId)).metadata, ["jobId", "attempt"]), { jobId: "j1", attempt: 1 });

    await createAndJoin(threadId, "data_sync", { input: { recordCount: 1 }, metadata: { ...metadata, jobId: "j2" } });
    assert.equal((await client.threads.getState(threadId)).metadata.jobId, "j2", "the latest checkpoint's is the latest run's");
    assert.equal((await client.threads.get(threadId)).metadata.jobId, "j1");
    // runs.list is oldest first.
    assert.deepEqual((await client.runs.list(threadId)).map((r) => r.metadata.jobId), ["j1", "j2"]);
  });

  test("context reaches a node as config.context; config's configurable, tags and recursion_limit reach it too", async () => {
    const threadId = randomUUID();
    const { seenConfig } = await client.runs.wait(threadId, "data_sync", {
      input: { echoConfig: true, recordCount: 1 },
      context: { userId: "u1" },
      config: { configurable: { foo: 1, thread_id: randomUUID() }, tags: ["t"], recursion_limit: 5 },
      metadata: { jobId: "j1" },
      ifNotExists: "create",
    });
    assert.deepEqual(seenConfig.context, { userId: "u1" });
    // A thread_id of the caller's is overridden by the run's thread.
    assert.deepEqual(seenConfig.configurable, { foo: 1, thread_id: threadId });
    assert.deepEqual(seenConfig.tags, ["t"]);
    assert.equal(seenConfig.recursionLimit, 5);
    assert.equal(seenConfig.metadata.jobId, "j1");

    const plain = await client.runs.wait(randomUUID(), "data_sync", { input: { echoConfig: true, recordCount: 1 }, ifNotExists: "create" });
    assert.deepEqual(plain.seenConfig.context, {}, "no context: an empty object");
    assert.equal(plain.seenConfig.recursionLimit, 25);
  });

  test("an unknown assistant id is a 404 HTTPError on run create", async () => {
    const threadId = await newThread();
    await assert.rejects(client.runs.create(threadId, "no_such_graph", { input: {} }), (error) => {
      assert.equal(error.constructor.name, "HTTPError");
      assert.equal(error.status, 404);
      assert.match(error.text, /No assistant found for "no_such_graph"/);
      return true;
    });
  });

  test("input null on a thread without a checkpoint fails the run (EmptyInputError)", async () => {
    const threadId = await newThread();
    const result = await client.runs.wait(threadId, "research_workflow", { input: null, raiseError: false });
    assert.equal(JSON.parse(result.__error__.message).error, "EmptyInputError");
  });
});

function pick(object, keys) {
  return Object.fromEntries(keys.filter((key) => key in object).map((key) => [key, object[key]]));
}

const QUESTION = "Publish this draft?";

/** Runs approval until it stops at its interrupt(s); returns the pending ones by reviewer node: {taskId, id, value}. */
async function interruptedApproval(input) {
  const threadId = randomUUID();
  const { chunks, status } = await createAndJoin(threadId, "approval", { input });
  assert.equal(status, "success", "a run that stops at an interrupt ends as success");
  assert.equal(chunks.some((c) => c.event === "error"), false);
  const state = await client.threads.getState(threadId);
  const pending = Object.fromEntries(state.tasks.map((task) => [task.name, { taskId: task.id, ...task.interrupts[0] }]));
  return { threadId, chunks, state, pending };
}

describe("human in the loop (approval)", () => {
  test("interrupt: the thread is interrupted, with the question under its task; a resume command answers it", async () => {
    const { threadId, chunks, state, pending } = await interruptedApproval({ topic: "queues", instrument: true });
    const { taskId, id } = pending.review;
    const expected = { id, value: { question: QUESTION, draft: state.values.draftText, reviewer: "review" } };
    assert.match(id, /^[0-9a-f]{32}$/);
    // On the stream: an `updates` chunk {__interrupt__: [{id, value}]}.
    assert.deepEqual(updateKeys(chunks), [["draft"], ["__interrupt__"]]);
    assert.deepEqual(chunks.find((c) => c.event === "updates" && c.data.__interrupt__).data, { __interrupt__: [expected] });

    const thread = await client.threads.get(threadId);
    assert.equal(thread.status, "interrupted");
    assert.deepEqual(thread.interrupts, { [taskId]: [expected] });
    assert.deepEqual(state.next, ["review"]);
    assert.deepEqual(state.tasks.map((t) => pick(t, ["id", "name", "interrupts", "error", "result"])), [
      { id: taskId, name: "review", interrupts: [expected], error: null, result: null },
    ]);

    const resumed = await createAndJoin(threadId, "approval", { command: { resume: { approved: true, note: "ok" } } });
    assert.equal(resumed.status, "success");
    assert.deepEqual(updateKeys(resumed.chunks), [["review"], ["publish"]]);
    const done = await client.threads.get(threadId);
    assert.equal(done.status, "idle");
    assert.deepEqual(done.interrupts, {});
    assert.deepEqual(done.values.answers, { review: { approved: true, note: "ok" } });
    assert.deepEqual(done.values.decision, { approved: true, note: "ok" });
    assert.equal(done.values.published, true);
    assert.deepEqual(done.values.nodeRuns, { draft: 1, review: 1, publish: 1 }, "draft did not run again");
  });

  test("two parallel reviews: two interrupts pending; a map {interruptId: answer} answers both", async () => {
    const { threadId, chunks, state, pending } = await interruptedApproval({ topic: "queues", reviewers: 2, instrument: true });
    assert.deepEqual(state.next.toSorted(), ["legal_review", "review"]);
    assert.deepEqual(updateKeys(chunks), [["draft"], ["__interrupt__"], ["__interrupt__"]], "one chunk per interrupt");
    const thread = await client.threads.get(threadId);
    assert.equal(thread.status, "interrupted");
    assert.deepEqual(thread.interrupts, Object.fromEntries(Object.values(pending).map(({ taskId, id, value }) => [taskId, [{ id, value }]])));

    const resume = { [pending.review.id]: { approved: true, note: "fine" }, [pending.legal_review.id]: { approved: false, note: "needs a disclaimer" } };
    const resumed = await createAndJoin(threadId, "approval", { command: { resume } });
    assert.equal(resumed.status, "success");
    const { values, status, interrupts } = await client.threads.get(threadId);
    assert.equal(status, "idle");
    assert.deepEqual(interrupts, {});
    assert.deepEqual(values.decision, { approved: false, note: "fine; needs a disclaimer" });
    assert.equal(values.published, false);
    assert.deepEqual(values.nodeRuns, { draft: 1, review: 1, legal_review: 1, publish: 1 });
  });

  test("two pending: a map naming one leaves the other pending (same id); a plain value answers every pending one", async () => {
    const { threadId, pending } = await interruptedApproval({ topic: "queues", reviewers: 2, instrument: true });
    const partial = await createAndJoin(threadId, "approval", { command: { resume: { [pending.review.id]: true } } });
    assert.equal(partial.status, "success");
    const thread = await client.threads.get(threadId);
    assert.equal(thread.status, "interrupted");
    // The answered task stays in the map, with no interrupts; getState still lists it, with its result.
    assert.deepEqual(thread.interrupts[pending.review.taskId], []);
    assert.deepEqual(thread.interrupts[pending.legal_review.taskId].map((i) => i.id), [pending.legal_review.id]);
    const state = await client.threads.getState(threadId);
    assert.deepEqual(state.next, ["legal_review"]);
    assert.deepEqual(state.tasks.find((t) => t.name === "review").result.answers, { review: true });

    await createAndJoin(threadId, "approval", { command: { resume: "yes" } });
    const { values } = await client.threads.get(threadId);
    assert.deepEqual(values.answers, { review: true, legal_review: "yes" });
    assert.deepEqual(values.nodeRuns, { draft: 1, review: 1, legal_review: 1, publish: 1 }, "answered across two runs, still one step");

    // Without a map, one value answers both of two pending interrupts (no error).
    const both = await interruptedApproval({ topic: "queues", reviewers: 2 });
    await createAndJoin(both.threadId, "approval", { command: { resume: true } });
    const after = await client.threads.get(both.threadId);
    assert.equal(after.status, "idle");
    assert.deepEqual(after.values.answers, { review: true, legal_review: true });
  });

  test("a resume command on a thread that is not interrupted succeeds and runs nothing", async () => {
    const threadId = randomUUID();
    await createAndJoin(threadId, "conversation", { input: { message: "hi" } });
    const { chunks, status } = await createAndJoin(threadId, "conversation", { command: { resume: "x" } });
    assert.equal(status, "success");
    assert.deepEqual(chunks.map((c) => c.event), ["metadata"]);
    assert.equal((await client.threads.get(threadId)).values.turns, 1);

    // On a thread without a checkpoint it leaves one, with the state's defaults only.
    const fresh = randomUUID();
    assert.equal((await createAndJoin(fresh, "approval", { command: { resume: "x" } })).status, "success");
    const state = await client.threads.getState(fresh);
    assert.deepEqual(state.values, { answers: {} });
    assert.deepEqual(state.next, []);
  });

  test("a new input on an interrupted thread drops the pending interrupt and starts over", async () => {
    const { threadId, pending } = await interruptedApproval({ topic: "first", instrument: true });
    const { chunks, status } = await createAndJoin(threadId, "approval", { input: { topic: "second", instrument: true } });
    assert.equal(status, "success");
    assert.deepEqual(updateKeys(chunks), [["draft"], ["__interrupt__"]]);
    const thread = await client.threads.get(threadId);
    assert.equal(thread.status, "interrupted");
    const [[interrupt]] = Object.values(thread.interrupts);
    assert.notEqual(interrupt.id, pending.review.id);
    assert.match(interrupt.value.draft, /^Draft on second/);
    assert.deepEqual(thread.values.nodeRuns, { draft: 2 });
  });
});

describe("conversation over several runs on one thread", () => {
  test("each run adds a turn to the state the previous run left", async () => {
    const threadId = randomUUID();
    await createAndJoin(threadId, "conversation", { input: { message: "hello", instrument: true } });
    const { status } = await createAndJoin(threadId, "conversation", { input: { message: "how are you", instrument: true } });
    assert.equal(status, "success");
    const { values } = await client.threads.get(threadId);
    assert.equal(values.turns, 2);
    assert.deepEqual(values.messages, [
      { role: "user", content: "hello" },
      { role: "assistant", content: 'turn 1: you said "hello"' },
      { role: "user", content: "how are you" },
      { role: "assistant", content: 'turn 2: you said "how are you"; earlier you said "hello"' },
    ]);
    assert.deepEqual(values.nodeRuns, { reply: 2 });
  });
});
