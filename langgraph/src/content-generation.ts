import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { defineSteps, fingerprint, testHookFields } from "./steps.js";

const State = Annotation.Root({
  ...testHookFields,
  topic: Annotation<string | undefined>,
  sectionCount: Annotation<number | undefined>,
  // Not named after the nodes: a channel and a node cannot share a name.
  contentOutline: Annotation<{ title: string; headings: string[] }>,
  generatedContent: Annotation<{ title: string; sections: { heading: string; body: string }[]; wordCount: number }>,
  reviewResult: Annotation<{ approved: boolean; score: number; notes: string[] }>,
});

const step = defineSteps(State, ["outline", "generating_content", "review"]);

const outline = step("outline", (state) => {
  const topic = state.topic ?? "untitled";
  const count = Math.min(Math.max(Math.trunc(state.sectionCount ?? 3), 1), 20);
  const headings = Array.from({ length: count }, (_, i) => `${topic}, part ${i + 1}`);
  return { contentOutline: { title: `About ${topic}`, headings } };
});

const generatingContent = step("generating_content", ({ contentOutline }) => {
  const sections = contentOutline.headings.map((heading) => ({
    heading,
    body: `Generated text for "${heading}" [${fingerprint(heading)}].`,
  }));
  const wordCount = sections.reduce((n, s) => n + s.body.split(/\s+/).length, 0);
  return { generatedContent: { title: contentOutline.title, sections, wordCount } };
});

const review = step("review", ({ generatedContent }) => {
  const notes = generatedContent.sections.filter((s) => s.body.length < 20).map((s) => `"${s.heading}" is short`);
  return { reviewResult: { approved: notes.length === 0, score: 100 - 10 * notes.length, notes } };
});

export const graph = new StateGraph(State)
  .addNode("outline", outline)
  .addNode("generating_content", generatingContent)
  .addNode("review", review)
  .addEdge(START, "outline")
  .addEdge("outline", "generating_content")
  .addEdge("generating_content", "review")
  .addEdge("review", END)
  .compile();
