/**
 * The request bodies of POST /functions/v1/queue-worker, validated once at the edge. Plain zod,
 * importing nothing of the Worker: a client (Node, browsers, Deno) takes its request types from
 * here, its response types from responses.ts, and openapi.ts documents both. `.meta()` carries
 * what JSON Schema can say that zod cannot (a JSON object's type, a field's meaning).
 */
import { z } from "zod";
import { PRIORITY_SCORES, type JobStatus, type JsonObject, type JsonValue } from "../jobs";

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
/** Largest `config`, `context` or `metadata` of a job, and `value` of a resume, as JSON text. */
export const MAX_RUN_OPTION_BYTES = 16 * 1024;
/** Longest a job's own time limit may be: a week, as a run is bounded by JOB_TIMEOUT_SECONDS besides. */
export const MAX_TIMEOUT_SECONDS = 7 * 86_400;
/** Keys of `config.configurable` LangGraph sets from the run's thread: a job chooses its thread with `threadId`. */
const RESERVED_CONFIGURABLE = ["thread_id", "checkpoint_id", "checkpoint_ns"];

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

/** A configured queue (QUEUE_NAMES); the first one when left out. */
export const queueName = z.string().min(1, "must be 1-64 characters").max(64, "must be 1-64 characters")
  .meta({ description: "A queue named in QUEUE_NAMES; the first one when left out (UNKNOWN_QUEUE otherwise)." });
const optionalQueueName = queueName.optional();
export const jobId = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, "must be 1-128 characters of A-Z a-z 0-9 _ . : -");
/** A graph's or assistant's id: a graph name, or an assistant's UUID. */
const assistantId = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, "must be 1-128 characters of A-Z a-z 0-9 _ . : -");

// Not z.record: it copies the object key by key, and assigning a `__proto__` key drops it.
// A payload (and each run option) is stored and sent to LangGraph exactly as parsed.
// Its JSON Schema (`meta`) goes on the custom schema itself: zod-openapi cannot render a refinement of a custom schema that has none.
const jsonObject = (meta: { description: string; propertyNames?: object }) =>
  z
    .custom<JsonObject>((value) => typeof value === "object" && value !== null && !Array.isArray(value), "must be a JSON object")
    .meta({ type: "object", ...meta })
    .refine((object) => depthOf(object) <= MAX_PAYLOAD_DEPTH, `must not nest deeper than ${MAX_PAYLOAD_DEPTH} levels`);

/** Any JSON value: a resume's answer, a job's result. Typed as the coordinator types parsed JSON (jobs.ts JsonValue). */
export const jsonValue: z.ZodType<JsonValue> = z.json();
export const priority = z.enum(Object.keys(PRIORITY_SCORES) as [keyof typeof PRIORITY_SCORES]);
/** What clients see of a job's state (jobs.ts JobStatus). */
export const jobStatus = z.enum(["queued", "running", "interrupted", "completed", "failed", "cancelled"] satisfies JobStatus[]);

/** The run's config, as LangGraph's RunnableConfig names its fields. */
const runConfig = z.strictObject({
  configurable: jsonObject({
    description: `The graph's configurable values (not ${RESERVED_CONFIGURABLE.join(", ")}: choose the thread with the job's threadId).`,
    propertyNames: { not: { enum: RESERVED_CONFIGURABLE } },
  })
    .refine((configurable) => !RESERVED_CONFIGURABLE.some((key) => key in configurable), `must not set ${RESERVED_CONFIGURABLE.join(", ")}: choose the thread with the job's threadId`)
    .optional(),
  tags: z.array(z.string().min(1).max(128)).max(32, "must hold at most 32 tags").optional(),
  recursion_limit: z.int().min(1).max(10_000).optional(),
});

// Strict: a field the API does not know is refused, not dropped, so that a typo cannot silently change what runs.
export const jobInput = z.strictObject({
  id: jobId.optional(),
  // Which types are accepted is configuration (JOB_TYPES): checked by job-input.ts.
  type: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, "must be 1-128 characters of A-Z a-z 0-9 _ . : -"),
  payload: jsonObject({ description: `The run's input: a JSON object, at most ${MAX_PAYLOAD_DEPTH} levels deep and ${MAX_PAYLOAD_BYTES} bytes as JSON; stored and returned exactly as sent.` }),
  priority: priority.default("medium"),
  maxRetries: z.int().min(0).max(10).default(3),
  threadId: z.uuid("must be a UUID").optional(),
  assistantId: assistantId.optional(),
  config: runConfig.optional(),
  context: jsonObject({ description: `LangGraph's runtime context (a node reads it as config.context); at most ${MAX_RUN_OPTION_BYTES} bytes as JSON.` }).optional(),
  metadata: jsonObject({ description: `The run's metadata, without the keys LangGraph and the queue set (graph_id, jobId, …: INVALID_REQUEST); at most ${MAX_RUN_OPTION_BYTES} bytes as JSON.` }).optional(),
  timeoutSeconds: z.int().min(1).max(MAX_TIMEOUT_SECONDS).meta({ description: "Bounds each of the job's runs, in seconds; at most JOB_TIMEOUT_SECONDS too." }).optional(),
});
export type JobInput = z.infer<typeof jobInput>;

export const enqueueRequest = z.object({ action: z.literal("enqueue"), queueName: optionalQueueName, job: jobInput });
export const enqueueBatchRequest = z.object({
  action: z.literal("enqueueBatch"),
  queueName: optionalQueueName,
  jobs: z.array(jobInput).min(1, `must hold 1-${MAX_BATCH_JOBS} jobs`).max(MAX_BATCH_JOBS, `must hold 1-${MAX_BATCH_JOBS} jobs`),
});
export const statusRequest = z.object({ action: z.literal("status"), queueName: optionalQueueName, jobId });
export const statsRequest = z.object({ action: z.literal("stats"), queueName: optionalQueueName });
export const cancelRequest = z.object({ action: z.literal("cancel"), queueName: optionalQueueName, jobId });
export const listRequest = z.object({
  action: z.literal("list"),
  queueName: optionalQueueName,
  status: jobStatus.optional(),
  limit: z.int().min(1).max(100).default(20),
  cursor: z.string().regex(/^\d{1,15}(:\d{1,15})?$/, "must be a nextCursor from an earlier list (digits and ':', at most 31 characters)").optional(),
});
export const historyRequest = z.object({ action: z.literal("history"), queueName: optionalQueueName, jobId });
// `value` answers the graph's interrupt: any JSON; with several pending, a map from interrupt id to answer.
/**
 * A resume's answer: any JSON but null (LangGraph takes a null resume for none, and would ask
 * again), nested no deeper than a payload, kept as parsed (z.json() drops `__proto__` keys, and
 * recurses without a bound).
 */
const resumeValue = z
  .custom<JsonValue>((value) => value !== null && value !== undefined, "must be a JSON value other than null: LangGraph takes a null resume for none")
  .meta({ description: "The answer to the graph's interrupt: any JSON value but null; with several interrupts pending, a map from interrupt id to answer, or one value that answers them all." })
  .refine((value) => depthOf(value) <= MAX_PAYLOAD_DEPTH, `must not nest deeper than ${MAX_PAYLOAD_DEPTH} levels`);

export const resumeRequest = z.object({ action: z.literal("resume"), queueName: optionalQueueName, jobId, value: resumeValue });

/** The ended states a retry takes a job out of. */
export const retryableStatus = z.enum(["failed", "cancelled"]);
/** Most jobs one bulk retry queues again. */
export const MAX_RETRY_PAGE = 100;
/**
 * An operator's retry: one job (`jobId`), or a page of the queue's jobs in an ended `status`,
 * oldest first (`limit`, and the `cursor` the last page answered).
 */
export const retryRequest = z.object({
  action: z.literal("retry"),
  queueName: optionalQueueName,
  jobId: jobId.optional().meta({ description: "The failed or cancelled job to retry. Leave it out and name a `status` to retry a page of jobs." }),
  status: retryableStatus.optional().meta({ description: "Retry the queue's jobs in this state, oldest first, a page at a time." }),
  limit: z.int().min(1).max(MAX_RETRY_PAGE).optional().meta({ description: `With status: at most this many jobs (default ${MAX_RETRY_PAGE}).` }),
  cursor: z.string().regex(/^\d{1,15}$/, "must be a nextCursor from an earlier bulk retry").optional().meta({ description: "With status: the last page's nextCursor." }),
}).refine((request) => (request.jobId === undefined) !== (request.status === undefined), "name either jobId (one job) or status (a page of jobs), not both")
  .refine((request) => request.status !== undefined || (request.limit === undefined && request.cursor === undefined), "limit and cursor go with status only");
/** Stops dispatching: running jobs finish, enqueues are accepted, nothing new starts until `unpause`. */
export const pauseRequest = z.object({ action: z.literal("pause"), queueName: optionalQueueName });
export const unpauseRequest = z.object({ action: z.literal("unpause"), queueName: optionalQueueName });
export const throughputRequest = z.object({ action: z.literal("throughput"), queueName: optionalQueueName });

export const actionRequest = z.discriminatedUnion("action", [
  enqueueRequest, enqueueBatchRequest, statusRequest, statsRequest, cancelRequest, listRequest, historyRequest, resumeRequest,
  retryRequest, pauseRequest, unpauseRequest, throughputRequest,
]);
/** A request as the Worker parsed it (defaults applied). */
export type ActionRequest = z.infer<typeof actionRequest>;
/** A request as a client sends it (`priority`, `maxRetries`, `limit` may be left out). */
export type ActionRequestInput = z.input<typeof actionRequest>;
export type ListRequest = Extract<ActionRequest, { action: "list" }>;

/** A value's size as stored: UTF-8 bytes of its JSON text. */
export const jsonBytes = (value: unknown): number => new TextEncoder().encode(JSON.stringify(value)).byteLength;
