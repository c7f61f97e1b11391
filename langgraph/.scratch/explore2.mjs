import { Client } from "@langchain/langgraph-sdk";
import { randomUUID } from "node:crypto";
const client = new Client({ apiUrl: "http://127.0.0.1:8123" });
const j = (x) => JSON.stringify(x);

// 1. failure then resume
const threadId = randomUUID();
await client.threads.create({ threadId, ifExists: "do_nothing" });
const input = { itemName: "Widget", itemId: "w-1", projectId: "p-9", failTimes: { node: "draft", times: 1 } };
for await (const c of client.runs.stream(threadId, "research_workflow", { input, streamMode: ["updates", "custom"] }))
  console.log("RUN1", j(c));
const runs1 = await client.runs.list(threadId);
console.log("runs after run1:", j(runs1.map((r) => ({ run_id: r.run_id, status: r.status }))));
const failedRunId = runs1[0].run_id;
const joined = await client.runs.join(threadId, failedRunId);
console.log("join failed run:", j(joined));
const tAfterFail = await client.threads.get(threadId);
console.log("thread after fail: status", tAfterFail.status, "values", j(tAfterFail.values));
const state = await client.threads.getState(threadId);
console.log("state.next", j(state.next), "tasks", j(state.tasks?.map(t=>({name:t.name,error:t.error}))));

for await (const c of client.runs.stream(threadId, "research_workflow", { input: null, streamMode: ["updates", "custom"] }))
  console.log("RUN2", j(c));
const t2 = await client.threads.get(threadId);
console.log("thread after resume: status", t2.status, "nodeRuns", j(t2.values.nodeRuns), "has draft", !!t2.values.draftContent);
const runs2 = await client.runs.list(threadId);
console.log("runs:", j(runs2.map((r) => ({ run_id: r.run_id, status: r.status }))));

// 2. runs.wait / POST /runs/wait on failing
const th3 = randomUUID();
await client.threads.create({ threadId: th3, ifExists: "do_nothing" });
const waited = await client.runs.wait(th3, "data_sync", { input: { failTimes: { node: "transform", times: 5 } } });
console.log("runs.wait failing:", j(waited));
