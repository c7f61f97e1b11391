import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { defineSteps, fingerprint, testHookFields } from "./steps.js";

interface ItemResult {
  index: number;
  item: unknown;
  fingerprint: string;
}

const State = Annotation.Root({
  ...testHookFields,
  items: Annotation<unknown[] | undefined>,
  results: Annotation<ItemResult[]>,
  summary: Annotation<{ processed: number; fingerprint: string }>,
});

const step = defineSteps(State, ["process_items", "summarize"]);

// Sleeps `delayMs` before each item rather than once, so a test can cancel mid-batch.
const processItems = step(
  "process_items",
  async ({ items = [] }, ctx) => {
    const results: ItemResult[] = [];
    for (const [index, item] of items.entries()) {
      await ctx.delay();
      results.push({ index, item, fingerprint: fingerprint(item) });
      ctx.report((index + 1) / items.length, `item ${index + 1}/${items.length}`);
    }
    return { results };
  },
  { manualDelay: true },
);

const summarize = step("summarize", ({ results }) => ({
  summary: { processed: results.length, fingerprint: fingerprint(results.map((r) => r.fingerprint)) },
}));

export const graph = new StateGraph(State)
  .addNode("process_items", processItems)
  .addNode("summarize", summarize)
  .addEdge(START, "process_items")
  .addEdge("process_items", "summarize")
  .addEdge("summarize", END)
  .compile();
