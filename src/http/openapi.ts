/**
 * The OpenAPI 3.1 document of the Worker's HTTP API, generated from the zod schemas the Worker
 * validates with and answers by (api-schema.ts, responses.ts, event-schemas.ts): zod-openapi
 * renders them with zod's own z.toJSONSchema and adds what OpenAPI needs besides (components and
 * their $refs, the discriminator over `action`, parameters, headers, input and output shapes).
 * Fields are described in their schemas (`.meta()`), so that the document follows any change to
 * them; this file adds what belongs to the routes: statuses, each action's answers and error codes, auth.
 */
import { z } from "zod";
import { createDocument, type ZodOpenApiResponsesObject } from "zod-openapi";
import {
  actionRequest, cancelRequest, enqueueBatchRequest, enqueueRequest, historyRequest, jobInput, jobStatus, jsonValue, listRequest, MAX_BATCH_JOBS,
  MAX_BODY_BYTES, pauseRequest, priority, resumeRequest, retryRequest, statsRequest, statusRequest, throughputRequest, unpauseRequest,
} from "./api-schema";
import { ERROR_STATUS, type ErrorCode } from "./errors";
import { eventSchemas, eventsQuery, jobEventsPath, queueEventsPath } from "./event-schemas";
import {
  actionData, actionResponses, errorCode, errorResponse, healthData, notReadyDetails, readyData, success, type ActionName,
} from "./responses";

export const ENDPOINT_PATH = "/functions/v1/queue-worker";
/** package.json's version. */
const VERSION = "0.1.0";

/** Codes any request to the endpoint may get, whatever its action. */
const ANY_ACTION: ErrorCode[] = ["INVALID_REQUEST", "UNKNOWN_QUEUE", "UNAUTHORIZED", "PAYLOAD_TOO_LARGE", "INTERNAL_ERROR"];

/** Each action: its request, its success statuses, and the error codes it adds to ANY_ACTION's. */
const ACTIONS = {
  enqueue: { request: enqueueRequest, statuses: [201, 200], errors: ["INVALID_JOB_TYPE", "JOB_ID_CONFLICT", "QUEUE_FULL"] },
  enqueueBatch: { request: enqueueBatchRequest, statuses: [201, 200], errors: ["INVALID_JOB_TYPE", "JOB_ID_CONFLICT", "QUEUE_FULL"] },
  status: { request: statusRequest, statuses: [200], errors: ["JOB_NOT_FOUND"] },
  stats: { request: statsRequest, statuses: [200], errors: [] },
  cancel: { request: cancelRequest, statuses: [200], errors: ["JOB_NOT_FOUND", "JOB_NOT_CANCELLABLE"] },
  list: { request: listRequest, statuses: [200], errors: [] },
  history: { request: historyRequest, statuses: [200], errors: ["JOB_NOT_FOUND"] },
  resume: { request: resumeRequest, statuses: [200], errors: ["JOB_NOT_FOUND", "JOB_NOT_INTERRUPTED", "INVALID_RESUME"] },
  retry: { request: retryRequest, statuses: [200], errors: ["JOB_NOT_FOUND", "JOB_NOT_RETRYABLE", "QUEUE_FULL"] },
  pause: { request: pauseRequest, statuses: [200], errors: [] },
  unpause: { request: unpauseRequest, statuses: [200], errors: [] },
  throughput: { request: throughputRequest, statuses: [200], errors: [] },
} satisfies Record<ActionName, { request: z.ZodType; statuses: (200 | 201)[]; errors: ErrorCode[] }>;

const ACTION_NAMES = Object.keys(ACTIONS) as ActionName[];
const title = (action: string) => action[0]!.toUpperCase() + action.slice(1);
/**
 * Each action's answer component. `pause` and `unpause` answer alike, and share one: the 200
 * answer is a oneOf over the components, which two identical ones would make match twice.
 */
const responseName = (action: ActionName) => `${title(action === "unpause" ? "pause" : action)}Response`;
const RESPONSE_NAMES = [...new Set(ACTION_NAMES.map(responseName))];
const SCHEMAS = "#/components/schemas/";
const OUTPUT = "Output";
const ref = (component: string) => ({ $ref: `${SCHEMAS}${component}` });

const ENDPOINT_CODES = [...new Set([...ANY_ACTION, ...ACTION_NAMES.flatMap((action): ErrorCode[] => ACTIONS[action].errors)])];

const bearerOrApikey: Record<string, string[]>[] = [{ bearer: [] }, { apikey: [] }];
const open: Record<string, string[]>[] = [];

const json = (schema: z.ZodType | { $ref: string } | { oneOf: { $ref: string }[] }) => ({ content: { "application/json": { schema } } });

/** The error envelope (the ErrorResponse component) with some of its fields narrowed. */
const narrowed = (fields: z.ZodRawShape) => z.intersection(errorResponse, z.looseObject(fields));

/** The error envelope for each HTTP status that `codes` map to, its `code` narrowed to them. */
function errorResponses(codes: ErrorCode[]): ZodOpenApiResponsesObject {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  return Object.fromEntries(
    [...byStatus].map(([status, statusCodes]) => [
      String(status),
      {
        description: statusCodes.join(", "),
        ...(statusCodes.includes("QUEUE_FULL") && {
          headers: z.object({ "Retry-After": z.string().meta({ description: "seconds before a retry may find room" }) }),
        }),
        ...json(narrowed({ code: z.enum(statusCodes as [ErrorCode, ...ErrorCode[]]) })),
      },
    ]),
  );
}

/** One event stream: each event's name and data (the `event:` and `data:` lines of a server-sent event). */
function eventStream(events: Record<string, z.ZodType>, description: string) {
  const [first, ...rest] = Object.entries(events).map(([name, data]) => z.object({ event: z.literal(name), data }));
  return {
    description,
    content: { "text/event-stream": { schema: z.union([first!, ...rest]).meta({ description: "one event of the stream; `data` is sent as JSON text" }) } },
  };
}

const actionTable = [
  "| action | answer | error codes besides " + ANY_ACTION.join(", ") + " |",
  "|---|---|---|",
  ...ACTION_NAMES.map((action) => {
    const { statuses, errors } = ACTIONS[action];
    return `| \`${action}\` | ${statuses.join(" or ")} \`${responseName(action)}\` | ${errors.join(", ") || "none"} |`;
  }),
].join("\n");

/**
 * zod-openapi renders every component for requests (input: defaults optional) and for answers
 * (output: objects closed), naming the output one `<Name>Output` when the two differ. Keeps the
 * renderings something refers to, under the component's own name where only one is used.
 */
function keepUsedSchemas(document: ReturnType<typeof createDocument>): ReturnType<typeof createDocument> {
  const schemas = document.components?.schemas ?? {};
  const refsIn = (value: unknown) => [...JSON.stringify(value).matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map((match) => match[1]!);
  const used = new Set<string>();
  const pending = refsIn({ ...document, components: { ...document.components, schemas: {} } });
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (used.has(name)) continue;
    used.add(name);
    pending.push(...refsIn(schemas[name]));
  }
  const renamed = (name: string) => (name.endsWith(OUTPUT) && !used.has(name.slice(0, -OUTPUT.length)) ? name.slice(0, -OUTPUT.length) : name);
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)).map(([name, schema]) => [renamed(name), schema]));
  const text = JSON.stringify({ ...document, components: { ...document.components, schemas: kept } });
  return JSON.parse(text.replace(/"#\/components\/schemas\/([^"]+)"/g, (_, name: string) => `"${SCHEMAS}${renamed(name)}"`));
}

function buildDocument() {
  return keepUsedSchemas(createDocument({
    openapi: "3.1.0",
    info: {
      title: "queue-worker",
      version: VERSION,
      description:
        "A priority job queue for LangGraph graphs on Cloudflare Workers. Every answer is `{success: true, data}` or " +
        "`{success: false, error, code, details}`; any route not described here answers 404 `NOT_FOUND`. " +
        "`x-error-status` on the ErrorCode schema maps every code to its HTTP status. With ENVIRONMENT=development " +
        "and no API_KEYS, requests need no key.",
    },
    security: bearerOrApikey,
    paths: {
      [ENDPOINT_PATH]: {
        post: {
          operationId: "action",
          summary: "Run one action: `action` in the body picks it",
          description:
            `The body is read as JSON whatever its Content-Type, up to ${MAX_BODY_BYTES} bytes (an enqueueBatch carries 1-${MAX_BATCH_JOBS} jobs). ` +
            "Which answer comes back depends on the action; `x-actions` names each one's request, answers and error codes.\n\n" + actionTable,
          requestBody: { required: true, ...json(actionRequest) },
          responses: {
            "200": { description: "the action's answer (201 for enqueue and enqueueBatch when a job was created)", ...json({ oneOf: RESPONSE_NAMES.map(ref) }) },
            "201": { description: "a job was created", ...json({ oneOf: (["enqueue", "enqueueBatch"] as const).map((action) => ref(responseName(action))) }) },
            ...errorResponses(ENDPOINT_CODES),
          },
          "x-actions": Object.fromEntries(
            ACTION_NAMES.map((action) => [
              action,
              {
                request: ref(`${title(action)}Request`),
                responses: Object.fromEntries(ACTIONS[action].statuses.map((status) => [String(status), ref(responseName(action))])),
                errorCodes: [...ANY_ACTION, ...ACTIONS[action].errors],
              },
            ]),
          ),
        },
      },
      [`${ENDPOINT_PATH}/jobs/{jobId}/events`]: {
        get: {
          operationId: "jobEvents",
          summary: "A job's status as it changes, as server-sent events",
          security: [...bearerOrApikey, { apikeyQuery: [] }],
          requestParams: { path: jobEventsPath, query: eventsQuery },
          responses: {
            "200": eventStream(eventSchemas.job, "`status` events carry the job's status data, as the `status` action answers it, at once and after every change (the terminal one last, then the stream ends); `transition` events each history entry since the last (`id:` numbers them: send `Last-Event-ID` on a reconnect)"),
            ...errorResponses(["INVALID_REQUEST", "UNKNOWN_QUEUE", "UNAUTHORIZED", "JOB_NOT_FOUND", "INTERNAL_ERROR"]),
          },
        },
      },
      [`${ENDPOINT_PATH}/queues/{name}/events`]: {
        get: {
          operationId: "queueEvents",
          summary: "A queue's job transitions and counts, as server-sent events",
          security: [...bearerOrApikey, { apikeyQuery: [] }],
          requestParams: { path: queueEventsPath },
          responses: {
            "200": eventStream(eventSchemas.queue, "`job` events for each job's transitions, `counts` events for the queue's counts"),
            ...errorResponses(["INVALID_REQUEST", "UNKNOWN_QUEUE", "UNAUTHORIZED", "INTERNAL_ERROR"]),
          },
        },
      },
      "/health": {
        get: {
          operationId: "health",
          summary: "Liveness: the Worker answers; reaches no Durable Object and no LangGraph",
          security: open,
          responses: { "200": { description: "the Worker answers", ...json(success(healthData)) } },
        },
      },
      "/health/ready": {
        get: {
          operationId: "ready",
          summary: "Readiness: LangGraph answers and every queue's circuit is closed",
          responses: {
            "200": { description: "ready", ...json(success(readyData)) },
            ...errorResponses(["UNAUTHORIZED", "INTERNAL_ERROR"]),
            "503": {
              description: "NOT_READY: `error` says why, `details` holds the report",
              ...json(narrowed({ code: z.literal("NOT_READY"), details: notReadyDetails })),
            },
          },
        },
      },
      "/metrics": {
        get: {
          operationId: "metrics",
          summary: "Every queue's figures in the Prometheus text format, for a scrape: jobs by status, totals, histograms, the LangGraph circuit",
          description: "Metric names and what each means: README, Metrics. Each sample has a `queue` label.",
          responses: {
            "200": {
              description: "Prometheus text exposition format 0.0.4",
              content: { "text/plain": { schema: z.string().meta({ example: "# TYPE queue_worker_jobs gauge\nqueue_worker_jobs{queue=\"langgraph-queue\",state=\"queued\"} 3" }) } },
            },
            ...errorResponses(["UNAUTHORIZED", "INTERNAL_ERROR"]),
          },
        },
      },
      "/openapi.json": {
        get: {
          operationId: "openapi",
          summary: "This document",
          security: open,
          responses: {
            "200": {
              description: "the OpenAPI 3.1 document",
              ...json(z.looseObject({ openapi: z.string(), info: z.looseObject({ title: z.string(), version: z.string() }), paths: z.record(z.string(), z.unknown()) })),
            },
          },
        },
      },
    },
    components: {
      schemas: {
        ActionRequest: actionRequest,
        ...Object.fromEntries(ACTION_NAMES.map((action) => [`${title(action)}Request`, ACTIONS[action].request])),
        JobInput: jobInput,
        ...Object.fromEntries(ACTION_NAMES.map((action) => [responseName(action), actionResponses[action]])),
        ...Object.fromEntries(ACTION_NAMES.map((action) => [`${title(action)}Data`, actionData[action]])),
        ErrorResponse: errorResponse,
        ErrorCode: errorCode,
        JobStatus: jobStatus,
        Priority: priority,
        JsonValue: jsonValue,
      },
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "`Authorization: Bearer <key>`, a key of API_KEYS" },
        apikey: { type: "apiKey", in: "header", name: "apikey", description: "a key of API_KEYS in the `apikey` header, as supabase-js sends it" },
        apikeyQuery: { type: "apiKey", in: "query", name: "apikey", description: "a key of API_KEYS as `?apikey=`: for EventSource, which cannot send headers" },
      },
    },
  }, { outputIdSuffix: OUTPUT }));
}

let built: ReturnType<typeof buildDocument> | undefined;

/** The document, built on first use and kept for the isolate's life: it depends on nothing but the code. */
export function openApiDocument(): ReturnType<typeof buildDocument> {
  built ??= buildDocument();
  return built;
}
