// Runs the example graphs on a real `langgraphjs dev` server and pins down the server and
// SDK behaviour that src/langgraph.ts relies on. Run with `npm test` in langgraph/.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Client } from "@langchain/langgraph-sdk";
import { startLangGraphServer } from "../../scripts/langgraph-dev.mjs";

let server;
let client;

before(async () => {
  server = await startLangGraphServer({ stdio: "ignore" });
  client = new Client({ apiUrl: server.url });
});

after(() => server?.stop());

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

const graphs = [
  ["research_workflow", { itemName: "Widget", itemId: "w-1", projectId: "p-1" }, ["research", "draft"], ["researchData", "draftContent"]],
  ["content_generation", { topic: "queues", sectionCount: 2 }, ["outline", "generating_content", "review"], ["contentOutline", "generatedContent", "reviewResult"]],
  ["batch_processing", { items: ["a", "b", "c"] }, ["process_items", "summarize"], ["results", "summary"]],
  ["data_sync", { source: "crm", destination: "warehouse", recordCount: 4 }, ["fetch_source", "transform", "write"], ["fetched", "transformed", "syncResult"]],
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

      const { values, status } = await client.threads.get(threadId);
      assert.equal(status, "idle");
      for (const key of outputs) assert.ok(values[key] !== undefined, `${key} in final values`);
      assert.deepEqual(values.nodeRuns, Object.fromEntries(nodes.map((node) => [node, 1])));
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
    const input = { itemName: "Widget", failTimes: { node: "draft", times: 1 } };

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

  test("runs.join reports a run that fails while joined as a 200 body with __error__", async () => {
    const threadId = await newThread();
    const run = await client.runs.create(threadId, "data_sync", {
      input: { delayMs: 200, failTimes: { node: "transform", times: 1 } },
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

  test("a second run on a busy thread is a 422", async () => {
    const threadId = await newThread();
    const run = await client.runs.create(threadId, "data_sync", { input: { delayMs: 300 } });
    await assert.rejects(client.runs.create(threadId, "data_sync", { input: {} }), { status: 422 });
    await client.runs.join(threadId, run.run_id);
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
