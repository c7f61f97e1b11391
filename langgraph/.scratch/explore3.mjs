import { Client } from "@langchain/langgraph-sdk";
import { randomUUID } from "node:crypto";
const client = new Client({ apiUrl: "http://127.0.0.1:8123" });
const j = (x) => JSON.stringify(x);
const newThread = async () => { const id = randomUUID(); await client.threads.create({ threadId: id, ifExists: "do_nothing" }); return id; };

// join while running; run fails later
{
  const th = await newThread();
  const run = await client.runs.create(th, "data_sync", { input: { delayMs: 300, failTimes: { node: "transform", times: 1 } } });
  console.log("runs.create ->", j({ run_id: run.run_id, status: run.status, keys: Object.keys(run) }));
  const joined = await client.runs.join(th, run.run_id);
  console.log("join (while running, then fails):", j(joined));
  console.log("runs.get after:", (await client.runs.get(th, run.run_id)).status);
  // a busy-thread second run -> 422?
}
// second run on busy thread
{
  const th = await newThread();
  const r1 = await client.runs.create(th, "data_sync", { input: { delayMs: 500 } });
  try { await client.runs.create(th, "data_sync", { input: {} }); console.log("second run accepted?!"); }
  catch (e) { console.log("busy thread second run:", e.constructor.name, "status", e.status, "message", e.message, "keys", Object.keys(e)); }
  await client.runs.join(th, r1.run_id);
}
// cancel mid-run
{
  const th = await newThread();
  const events = [];
  const t0 = Date.now();
  let runId;
  const streaming = (async () => {
    for await (const c of client.runs.stream(th, "batch_processing", { input: { items: [1, 2, 3, 4, 5, 6], delayMs: 400 }, streamMode: ["updates", "custom"] })) {
      if (c.event === "metadata") runId = c.data.run_id;
      events.push(`${Date.now() - t0}ms ${c.event} ${j(c.data)}`);
    }
  })();
  await new Promise((r) => setTimeout(r, 1100));
  const cres = await client.runs.cancel(th, runId);
  console.log("cancel returned:", j(cres), "at", Date.now() - t0, "ms");
  await streaming.catch((e) => console.log("stream threw", e.constructor.name, e.message));
  console.log(events.join("\n"));
  const r = await client.runs.get(th, runId);
  console.log("status after cancel:", r.status, "stream done at", Date.now() - t0);
  const t = await client.threads.get(th);
  console.log("thread status", t.status, "values", j(t.values));
  const joined = await client.runs.join(th, runId);
  console.log("join cancelled run:", j(joined));
  // wait to see if it keeps running
  await new Promise((r) => setTimeout(r, 2000));
  const t2 = await client.threads.get(th);
  console.log("2s later thread values.results", j(t2.values.results), "nodeRuns", j(t2.values.nodeRuns));
}
