/** The request bodies of POST /functions/v1/queue-worker, validated once at the edge. */
import { z } from "zod";
import { JOB_TYPES, PRIORITY_SCORES, type JobState, type JsonObject } from "../jobs";

/** Largest request body accepted; the job payload is most of it. */
export const MAX_BODY_BYTES = 64 * 1024;
/**
 * Largest payload stored, as JSON text. The body limit alone does not bound it: `1e20` in a
 * body is stored as 21 digits.
 */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Most jobs one `enqueueBatch` request may carry. */
export const MAX_BATCH_JOBS = 100;
/** Deepest nesting accepted in a payload: far deeper and serialising it would overflow the stack. */
export const MAX_PAYLOAD_DEPTH = 64;

/** How deeply `value` nests objects and arrays, counted without recursion. */
function depthOf(value: unknown): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [next, depth] = pending.pop()!;
    if (next === null || typeof next !== "object") continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_PAYLOAD_DEPTH) break;
    for (const child of Object.values(next)) pending.push([child, depth + 1]);
  }
  return deepest;
}

const queueName = z.string().min(1, "must be 1-64 characters").max(64, "must be 1-64 characters").optional();
const jobId = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, "must be 1-128 characters of A-Z a-z 0-9 _ . : -");

export const jobInput = z.object({
  id: jobId.optional(),
  type: z.enum(JOB_TYPES),
  // Not z.record: it copies the payload key by key, and assigning a `__proto__` key drops it.
  // The payload is stored and sent to LangGraph exactly as parsed.
  payload: z
    .custom<JsonObject>((value) => typeof value === "object" && value !== null && !Array.isArray(value), "must be a JSON object")
    .refine((payload) => depthOf(payload) <= MAX_PAYLOAD_DEPTH, `must not nest deeper than ${MAX_PAYLOAD_DEPTH} levels`),
  priority: z.enum(Object.keys(PRIORITY_SCORES) as [keyof typeof PRIORITY_SCORES]).default("medium"),
  maxRetries: z.int().min(0).max(10).default(3),
});
export type JobInput = z.infer<typeof jobInput>;

const listableStatus = z.enum(["queued", "running", "completed", "failed", "cancelled"] satisfies JobState[]);

export const actionRequest = z.discriminatedUnion("action", [
  z.object({ action: z.literal("enqueue"), queueName, job: jobInput }),
  z.object({
    action: z.literal("enqueueBatch"),
    queueName,
    jobs: z.array(jobInput).min(1, `must hold 1-${MAX_BATCH_JOBS} jobs`).max(MAX_BATCH_JOBS, `must hold 1-${MAX_BATCH_JOBS} jobs`),
  }),
  z.object({ action: z.literal("status"), queueName, jobId }),
  z.object({ action: z.literal("stats"), queueName }),
  z.object({ action: z.literal("cancel"), queueName, jobId }),
  z.object({
    action: z.literal("list"),
    queueName,
    status: listableStatus.optional(),
    limit: z.int().min(1).max(100).default(20),
    cursor: z.string().regex(/^\d{1,15}(:\d{1,15})?$/, "must be a nextCursor from an earlier list (digits and ':', at most 31 characters)").optional(),
  }),
  z.object({ action: z.literal("history"), queueName, jobId }),
]);
export type ActionRequest = z.infer<typeof actionRequest>;
export type ListRequest = Extract<ActionRequest, { action: "list" }>;

/** The payload's size as stored: UTF-8 bytes of its JSON text. */
export const payloadBytes = (payload: JsonObject): number => new TextEncoder().encode(JSON.stringify(payload)).byteLength;
