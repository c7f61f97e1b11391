import { describe, expect, it } from "vitest";
import { threadIdFor } from "../../src/langgraph-platform";

describe("threadIdFor", () => {
  it("gives every attempt of a job the same thread, as a version-5 UUID", async () => {
    const id = await threadIdFor("langgraph-queue", "job_12345");
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await threadIdFor("langgraph-queue", "job_12345")).toBe(id);
  });

  it("gives different jobs, and the same id in another queue, different threads", async () => {
    const ids = new Set(await Promise.all([
      threadIdFor("langgraph-queue", "a"), threadIdFor("langgraph-queue", "b"), threadIdFor("reports", "a"),
      // The separator keeps ("ab","c") and ("a","bc") apart.
      threadIdFor("ab", "c"), threadIdFor("a", "bc"),
    ]));
    expect(ids.size).toBe(5);
  });
});
