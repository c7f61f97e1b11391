import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { defineSteps, fingerprint, testHookFields } from "./steps.js";

const State = Annotation.Root({
  ...testHookFields,
  itemId: Annotation<string | undefined>,
  itemName: Annotation<string | undefined>,
  projectId: Annotation<string | undefined>,
  researchData: Annotation<ResearchData>,
  draftContent: Annotation<DraftContent>,
});

interface ResearchData {
  itemId: string;
  itemName: string;
  projectId: string;
  keyFindings: string[];
  sourceCount: number;
  fingerprint: string;
}

interface DraftContent {
  title: string;
  sections: { heading: string; body: string }[];
  wordCount: number;
}

const step = defineSteps(State, ["research", "draft"]);

const research = step("research", (state) => {
  const itemId = state.itemId ?? "item";
  const itemName = state.itemName ?? itemId;
  const projectId = state.projectId ?? "project";
  const id = fingerprint([itemId, itemName, projectId]);
  const researchData: ResearchData = {
    itemId,
    itemName,
    projectId,
    keyFindings: ["background", "current state", "open questions"].map((topic) => `${itemName}: ${topic}`),
    sourceCount: 3 + (parseInt(id.slice(0, 2), 16) % 5),
    fingerprint: id,
  };
  return { researchData };
});

const draft = step("draft", ({ researchData }) => {
  const sections = researchData.keyFindings.map((finding, i) => ({
    heading: `Section ${i + 1}`,
    body: `${finding} (project ${researchData.projectId}, ${researchData.sourceCount} sources).`,
  }));
  const draftContent: DraftContent = {
    title: `Research draft: ${researchData.itemName}`,
    sections,
    wordCount: sections.reduce((n, s) => n + s.body.split(/\s+/).length, 0),
  };
  return { draftContent };
});

export const graph = new StateGraph(State)
  .addNode("research", research)
  .addNode("draft", draft)
  .addEdge(START, "research")
  .addEdge("research", "draft")
  .addEdge("draft", END)
  .compile();
