import { Client } from "@langchain/langgraph-sdk";
import { randomUUID } from "node:crypto";
const client = new Client({ apiUrl: "http://127.0.0.1:8123" });
const j = (x) => JSON.stringify(x);
const newThread = async () => { const id = randomUUID(); await client.threads.create({ threadId: id, ifExists: "do_nothing" }); return id; };
{
  const th = await newThread();
  const r = await client.runs.wait(th, "research_workflow", { input: null, raiseError: false });
  const runs = await client.runs.list(th);
  console.log("input null on fresh thread ->", j(r), "run status", runs[0].status);
}
{
  const th = await newThread();
  for (const [name, fn] of [
    ["runs.create unknown assistant", () => client.runs.create(th, "no_such_graph", { input: {} })],
    ["runs.wait unknown assistant", () => client.runs.wait(th, "no_such_graph", { input: {} })],
    ["runs.stream unknown assistant", async () => { for await (const c of client.runs.stream(th, "no_such_graph", { input: {} })) console.log("  stream chunk", j(c)); }],
    ["runs.create unknown thread", () => client.runs.create(randomUUID(), "data_sync", { input: {} })],
    ["threads.get unknown", () => client.threads.get(randomUUID())],
    ["runs.get unknown", () => client.runs.get(th, randomUUID())],
    ["runs.cancel unknown", () => client.runs.cancel(th, randomUUID())],
    ["threads.create bad id", () => client.threads.create({ threadId: "job-123", ifExists: "do_nothing" })],
  ]) {
    try { const out = await fn(); console.log(name, "-> no throw", j(out)?.slice(0, 300)); }
    catch (e) { console.log(name, "->", e.constructor.name, "name", e.name, "status", e.status, "msg", e.message, "| text", e.text); }
  }
}
try { await new Client({ apiUrl: "http://127.0.0.1:8999", callerOptions: { maxRetries: 0 } }).threads.get(randomUUID()); }
catch (e) { console.log("conn refused ->", e.constructor.name, e.name, e.message, e.cause?.code, "status", e.status); }
