import { Client } from "@langchain/langgraph-sdk";
import { randomUUID } from "node:crypto";
const client = new Client({ apiUrl: "http://127.0.0.1:8123" });
const j = (x) => JSON.stringify(x);
const newThread = async () => { const id = randomUUID(); await client.threads.create({ threadId: id, ifExists: "do_nothing" }); return id; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// cancel during 2nd node of data_sync
{
  const th = await newThread();
  const run = await client.runs.create(th, "data_sync", { input: { delayMs: 500 } });
  await sleep(800);
  let t = performance.now();
  await client.runs.cancel(th, run.run_id);
  console.log("cancel call took", Math.round(performance.now() - t), "ms");
  t = performance.now();
  const r = await client.runs.get(th, run.run_id);
  console.log("status right after cancel", r.status);
  await sleep(1500);
  const st = await client.threads.get(th);
  console.log("after cancel: run", (await client.runs.get(th, run.run_id)).status, "thread", st.status, "nodeRuns", j(st.values?.nodeRuns));
  const s = await client.threads.getState(th);
  console.log("state.next", j(s.next));
  // resume after cancel with input null
  const res = await client.runs.wait(th, "data_sync", { input: null });
  console.log("resume after cancel nodeRuns", j(res.nodeRuns), "written", res.syncResult?.written);
}
// cancel with wait: true
{
  const th = await newThread();
  const run = await client.runs.create(th, "data_sync", { input: { delayMs: 500 } });
  await sleep(300);
  const t = performance.now();
  const out = await client.runs.cancel(th, run.run_id, true);
  console.log("cancel(wait=true) took", Math.round(performance.now() - t), "ms ->", j(out), "status", (await client.runs.get(th, run.run_id)).status);
}
// first node fails, resume with input null
{
  const th = await newThread();
  const r1 = await client.runs.wait(th, "research_workflow", { input: { itemName: "X", failTimes: { node: "research", times: 1 } }, raiseError: false });
  console.log("first-node failure wait ->", j(r1).slice(0, 200));
  const s = await client.threads.getState(th);
  console.log("state after first-node failure: next", j(s.next), "values", j(s.values));
  const r2 = await client.runs.wait(th, "research_workflow", { input: null });
  console.log("resume ->", j(r2.nodeRuns), r2.researchData?.itemName);
}
// input null on a fresh thread
{
  const th = await newThread();
  const r = await client.runs.wait(th, "research_workflow", { input: null });
  const runs = await client.runs.list(th);
  console.log("input null on fresh thread ->", j(r), "run status", runs[0].status);
}
// unknown assistant
{
  const th = await newThread();
  for (const [name, fn] of [
    ["runs.create", () => client.runs.create(th, "no_such_graph", { input: {} })],
    ["runs.wait", () => client.runs.wait(th, "no_such_graph", { input: {} })],
    ["runs.stream", async () => { for await (const c of client.runs.stream(th, "no_such_graph", { input: {} })) console.log("  stream chunk", j(c)); }],
    ["threads.get unknown", () => client.threads.get(randomUUID())],
    ["runs.get unknown", () => client.runs.get(th, randomUUID())],
  ]) {
    try { const out = await fn(); console.log(name, "-> no throw", j(out)); }
    catch (e) { console.log(name, "->", e.constructor.name, e.name, "status", e.status, "msg", e.message, "text", e.text); }
  }
}
// network error
try { await new Client({ apiUrl: "http://127.0.0.1:8999", defaultHeaders: {}, callerOptions: { maxRetries: 0 } }).threads.get(randomUUID()); }
catch (e) { console.log("conn refused ->", e.constructor.name, e.name, e.message, e.cause?.code, "status", e.status); }
