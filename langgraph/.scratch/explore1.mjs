import { Client } from "@langchain/langgraph-sdk";
import { randomUUID } from "node:crypto";
const client = new Client({ apiUrl: "http://127.0.0.1:8123" });
const threadId = randomUUID();
const t = await client.threads.create({ threadId, ifExists: "do_nothing" });
console.log("thread create:", JSON.stringify(t));
const t2 = await client.threads.create({ threadId, ifExists: "do_nothing" });
console.log("thread create again same id:", t2.thread_id === threadId, JSON.stringify(t2).slice(0,200));
const stream = client.runs.stream(threadId, "research_workflow", {
  input: { itemName: "Widget", itemId: "w-1", projectId: "p-9" },
  streamMode: ["updates", "custom"],
});
for await (const chunk of stream) console.log("EVENT", JSON.stringify(chunk));
const st = await client.threads.get(threadId);
console.log("threads.get:", JSON.stringify(st, null, 1));
