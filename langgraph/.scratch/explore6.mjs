import { Client } from "@langchain/langgraph-sdk";
import { randomUUID } from "node:crypto";
const client = new Client({ apiUrl: "http://127.0.0.1:8123" });
const j = (x) => JSON.stringify(x);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const th = randomUUID();
await client.threads.create({ threadId: th, ifExists: "do_nothing" });
let created;
const run = await client.runs.create(th, "data_sync", { input: { delayMs: 400 } });
await sleep(700);
await client.runs.cancel(th, run.run_id);
const t = await client.threads.get(th);
console.log("thread after cancel:", j(t));
// stream with onRunCreated
const th2 = randomUUID();
for await (const c of client.runs.stream(th2, "content_generation", { input: { topic: "queues", sectionCount: 2 }, streamMode: ["updates", "custom"], ifNotExists: "create", onRunCreated: (p) => (created = p) }))
  console.log(c.event, j(c.data).slice(0, 160));
console.log("onRunCreated ->", j(created));
const final = await client.threads.get(th2);
console.log("content_generation values keys", Object.keys(final.values), j(final.values.reviewResult));
