// A chat stand-in for a conversation spread over several jobs on one LangGraph thread: each
// run brings one `message`, and the thread's state carries the earlier turns into the next run.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { defineSteps, testHookFields } from "./steps.js";

export interface ChatMessage {
  role: "user" | "assistant";
  content: string;
}

const State = Annotation.Root({
  ...testHookFields,
  /** This turn's user message (input); the next run's input replaces it. */
  message: Annotation<string | undefined>,
  messages: Annotation<ChatMessage[]>({ reducer: (left, right) => left.concat(right), default: () => [] }),
  turns: Annotation<number>({ reducer: (_, right) => right, default: () => 0 }),
});

const step = defineSteps(State, ["reply"]);

const reply = step("reply", ({ message = "", messages, turns }) => {
  const turn = turns + 1;
  const earlier = messages.filter((m) => m.role === "user").map((m) => JSON.stringify(m.content));
  const content = `turn ${turn}: you said ${JSON.stringify(message)}` + (earlier.length ? `; earlier you said ${earlier.join(", ")}` : "");
  return {
    messages: [{ role: "user", content: message }, { role: "assistant", content }] satisfies ChatMessage[],
    turns: turn,
  };
});

export const graph = new StateGraph(State)
  .addNode("reply", reply)
  .addEdge(START, "reply")
  .addEdge("reply", END)
  .compile();
