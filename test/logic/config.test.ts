/** The settings a LangGraph user changes first: JOB_TYPES and NON_RETRYABLE_ERRORS, as parsed from the Worker's vars. */
import { describe, expect, it } from "vitest";
import { jobTypes, nonRetryableErrors, type AppEnv } from "../../src/config";

const env = (vars: Partial<Record<"JOB_TYPES" | "NON_RETRYABLE_ERRORS", string>>) => vars as unknown as AppEnv;

describe("JOB_TYPES", () => {
  it("takes types that are their graph's id, and types mapped to another graph or assistant", () => {
    const types = jobTypes(env({ JOB_TYPES: " my_agent, triage = data_sync ,,research_workflow" }));
    expect(types.any).toBe(false);
    expect([...types.assistants]).toEqual([["my_agent", "my_agent"], ["triage", "data_sync"], ["research_workflow", "research_workflow"]]);
  });

  it("is the seed's four types when unset or empty", () => {
    for (const value of [undefined, "", " , "]) {
      expect([...jobTypes(env({ JOB_TYPES: value })).assistants.keys()]).toEqual(["research_workflow", "content_generation", "batch_processing", "data_sync"]);
    }
  });

  it("accepts any type with *, keeping the types it also lists", () => {
    const types = jobTypes(env({ JOB_TYPES: "*,triage=data_sync" }));
    expect(types.any).toBe(true);
    expect([...types.assistants]).toEqual([["triage", "data_sync"]]);
  });
});

describe("NON_RETRYABLE_ERRORS", () => {
  it("is NonRetryableError by default, or the names listed", () => {
    expect([...nonRetryableErrors(env({}))]).toEqual(["NonRetryableError"]);
    expect([...nonRetryableErrors(env({ NON_RETRYABLE_ERRORS: "ValidationError, PermanentError" }))]).toEqual(["ValidationError", "PermanentError"]);
  });
});
