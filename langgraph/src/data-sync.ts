import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { defineSteps, fingerprint, testHookFields } from "./steps.js";

interface SourceRecord {
  id: string;
  value: number;
}

const State = Annotation.Root({
  ...testHookFields,
  source: Annotation<string | undefined>,
  destination: Annotation<string | undefined>,
  recordCount: Annotation<number | undefined>,
  fetched: Annotation<SourceRecord[]>,
  transformed: Annotation<(SourceRecord & { doubled: number })[]>,
  syncResult: Annotation<{ source: string; destination: string; written: number; fingerprint: string }>,
});

const step = defineSteps(State, ["fetch_source", "transform", "write"]);

const fetchSource = step("fetch_source", (state) => {
  const source = state.source ?? "source";
  const count = Math.min(Math.max(Math.trunc(state.recordCount ?? 5), 0), 1000);
  const fetched = Array.from({ length: count }, (_, i) => ({ id: `${source}-${i + 1}`, value: i + 1 }));
  return { fetched };
});

const transform = step("transform", ({ fetched }) => ({
  transformed: fetched.map((record) => ({ ...record, doubled: record.value * 2 })),
}));

const write = step("write", (state) => ({
  syncResult: {
    source: state.source ?? "source",
    destination: state.destination ?? "destination",
    written: state.transformed.length,
    fingerprint: fingerprint(state.transformed),
  },
}));

export const graph = new StateGraph(State)
  .addNode("fetch_source", fetchSource)
  .addNode("transform", transform)
  .addNode("write", write)
  .addEdge(START, "fetch_source")
  .addEdge("fetch_source", "transform")
  .addEdge("transform", "write")
  .addEdge("write", END)
  .compile();
