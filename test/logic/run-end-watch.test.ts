/**
 * RunEndWatch: when a run's stream goes quiet after a node's update, it asks whether the run has
 * ended (the LangGraph JS dev server closes a joined stream only 500 ms after the run ends).
 * A fake `getRun` stands in for LangGraph here: the timing logic is what is under test.
 */
import type { Run } from "@langchain/langgraph-sdk";
import { describe, expect, it } from "vitest";
import { RunEndWatch } from "../../src/langgraph/run-end-watch";

const runWith = (status: Run["status"]) => ({ run_id: "r", status }) as Run;

function fakeRun(statuses: Run["status"][]) {
  let calls = 0;
  const getRun = async () => runWith(statuses[Math.min(calls++, statuses.length - 1)]!);
  return { getRun, calls: () => calls };
}

describe("RunEndWatch", () => {
  it("finds the end of a run that went quiet after a node's update, checking sooner first", async () => {
    const run = fakeRun(["running", "running", "success"]);
    const watch = new RunEndWatch(run.getRun);
    watch.after("updates");
    await new Promise((resolve) => watch.signal.addEventListener("abort", resolve));
    expect(run.calls()).toBe(3);
    expect(watch.endedRun?.status).toBe("success");
  });

  it("asks nothing after other events, and stops asking when an event comes", async () => {
    const run = fakeRun(["running"]);
    const watch = new RunEndWatch(run.getRun);
    watch.after("custom");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(run.calls()).toBe(0);
    watch.after("updates");
    await new Promise((resolve) => setTimeout(resolve, 15));
    watch.after("custom");
    const asked = run.calls();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(run.calls()).toBe(asked);
    expect(watch.signal.aborted).toBe(false);
  });

  it("gives up after a few checks of a run that goes on quietly, leaving the end to the stream", async () => {
    const run = fakeRun(["running"]);
    const watch = new RunEndWatch(run.getRun);
    watch.after("updates");
    await new Promise((resolve) => setTimeout(resolve, 900));
    // At 10, 30, 70, 150 and 310 ms after the update: then the server's own 500 ms end comes.
    expect(run.calls()).toBe(5);
    expect(watch.signal.aborted).toBe(false);
    watch.stop();
  });
});
