import { describe, expect, it } from "vitest";
import { threadIdFor } from "../../src/jobs";

describe("threadIdFor", () => {
  it("gives a job the same thread every time, as a version-5 UUID", async () => {
    const id = await threadIdFor("langgraph-queue", "job_12345", 1_700_000_000_000);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await threadIdFor("langgraph-queue", "job_12345", 1_700_000_000_000)).toBe(id);
  });

  it("gives other jobs, the same id in another queue, and a reused id, threads of their own", async () => {
    const ids = new Set(await Promise.all([
      threadIdFor("langgraph-queue", "a", 1), threadIdFor("langgraph-queue", "b", 1), threadIdFor("reports", "a", 1),
      // An id enqueued again after its old record expired: a new thread, not the old checkpoint.
      threadIdFor("langgraph-queue", "a", 2),
      // The separator keeps ("ab","c") and ("a","bc") apart.
      threadIdFor("ab", "c", 1), threadIdFor("a", "bc", 1),
    ]));
    expect(ids.size).toBe(6);
  });
});
