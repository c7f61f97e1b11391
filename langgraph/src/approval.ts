// Human in the loop: a draft waits for one or two reviewers' answers (LangGraph `interrupt`),
// then is published if every reviewer approved. With `reviewers: 2` the two reviews run in
// parallel, so two interrupts are pending at once and a resume must name each by its id.
import { Annotation, END, interrupt, START, StateGraph } from "@langchain/langgraph";
import { defineSteps, fingerprint, testHookFields } from "./steps.js";

/** What each review asks the human (the interrupt's value). */
export interface ReviewQuestion {
  question: "Publish this draft?";
  draft: string;
  reviewer: "review" | "legal_review";
}

/** A review's outcome. A human answers `{approved, note?}`, or any other value: approved if truthy. */
export interface Decision {
  approved: boolean;
  note?: string;
}

const State = Annotation.Root({
  ...testHookFields,
  topic: Annotation<string | undefined>,
  reviewers: Annotation<1 | 2 | undefined>,
  draftText: Annotation<string>,
  /** Each reviewer's answer, as resumed (raw), by reviewer node. */
  answers: Annotation<Record<string, unknown>>({ reducer: (left, right) => ({ ...left, ...right }), default: () => ({}) }),
  decision: Annotation<Decision>,
  published: Annotation<boolean>,
});

const step = defineSteps(State, ["draft", "review", "legal_review", "publish"]);

const draft = step("draft", ({ topic = "topic" }) => ({
  draftText: `Draft on ${topic}: three short paragraphs (${fingerprint(topic)}).`,
}));

// On resume LangGraph runs the interrupted node again from its start, and `interrupt` then
// returns the answer instead of throwing: nothing before it may have effects worth repeating.
const reviewBy = (reviewer: ReviewQuestion["reviewer"]) =>
  step(reviewer, ({ draftText }) => {
    const answer: unknown = interrupt<ReviewQuestion>({ question: "Publish this draft?", draft: draftText, reviewer });
    return { answers: { [reviewer]: answer } };
  });

function toDecision(answer: unknown): Decision {
  if (answer !== null && typeof answer === "object" && "approved" in answer) {
    const { approved, note } = answer as { approved: unknown; note?: unknown };
    return { approved: approved === true, ...(typeof note === "string" ? { note } : {}) };
  }
  return { approved: Boolean(answer) };
}

const publish = step("publish", ({ answers }) => {
  // In graph order, not in the order the parallel reviews' writes happened to land.
  const decisions = (["review", "legal_review"] as const).filter((r) => r in answers).map((r) => toDecision(answers[r]));
  const notes = decisions.flatMap((d) => (d.note === undefined ? [] : [d.note]));
  const decision: Decision = { approved: decisions.length > 0 && decisions.every((d) => d.approved), ...(notes.length ? { note: notes.join("; ") } : {}) };
  return { decision, published: decision.approved };
});

export const graph = new StateGraph(State)
  .addNode("draft", draft)
  .addNode("review", reviewBy("review"))
  .addNode("legal_review", reviewBy("legal_review"))
  .addNode("publish", publish)
  .addEdge(START, "draft")
  .addConditionalEdges("draft", ({ reviewers }) => (reviewers === 2 ? ["review", "legal_review"] : ["review"]), ["review", "legal_review"])
  // Both reviews end in the same step, so `publish` runs once, after both.
  .addEdge("review", "publish")
  .addEdge("legal_review", "publish")
  .addEdge("publish", END)
  .compile();
