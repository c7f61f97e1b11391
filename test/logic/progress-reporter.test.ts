/**
 * The ProgressReporter's reports to the coordinator, with a coordinator of its own that fails
 * on purpose: a Durable Object call that throws once is a fault workerd cannot be made to cause.
 */
import { describe, expect, it } from "vitest";
import type { ProgressReport } from "../../src/coordinator/protocol";
import { ProgressReporter } from "../../src/progress-reporter";

/** Answers reports, throwing the first `failures` times, and keeps what it was sent. */
function flakyCoordinator(failures: number) {
  const calls: { update: ProgressReport; atMs: number }[] = [];
  return {
    calls,
    async report(_jobId: string, _attempt: number, update: ProgressReport) {
      calls.push({ update, atMs: Date.now() });
      if (calls.length <= failures) throw new Error("Network connection lost. (injected)");
      return { ok: true as const, data: null };
    },
  };
}

describe("progress reports", () => {
  it("are tried again when the coordinator cannot be reached, so a blip does not cost a heartbeat", async () => {
    const coordinator = flakyCoordinator(2);
    const stop = new AbortController();
    const reporter = new ProgressReporter(coordinator as never, { queueName: "q", jobId: "j", attempt: 1 }, stop, 60_000);
    reporter.update({ progress: 40, currentStep: "draft" });
    await reporter.close();
    // Two failures, then the same report gets through; the attempt goes on.
    expect(coordinator.calls.map((call) => call.update)).toEqual(Array(3).fill({ progress: 40, currentStep: "draft" }));
    expect(stop.signal.aborted).toBe(false);
  });

  it("give a report up after three tries, without stopping the attempt", async () => {
    const coordinator = flakyCoordinator(5);
    const stop = new AbortController();
    const reporter = new ProgressReporter(coordinator as never, { queueName: "q", jobId: "j", attempt: 1 }, stop, 60_000);
    reporter.update({ progress: 10 });
    await reporter.close();
    expect(coordinator.calls).toHaveLength(3);
    expect(stop.signal.aborted).toBe(false);
  });

  it("carry a new run or thread the coordinator did not hear of in the next report, rather than lose it", async () => {
    const coordinator = flakyCoordinator(3);
    const stop = new AbortController();
    const reporter = new ProgressReporter(coordinator as never, { queueName: "q", jobId: "j", attempt: 1 }, stop, 100);
    reporter.update({ threadId: "copy-thread" });
    // All three tries of that report fail; a later heartbeat carries the thread.
    await expect.poll(() => coordinator.calls.slice(3).some((call) => call.update.threadId === "copy-thread"), { timeout: 5000 }).toBe(true);
    await reporter.close();
  });
});
