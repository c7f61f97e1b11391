/**
 * The Worker: HTTP API (Hono), Queue consumers and the cron sweep.
 * POST /functions/v1/queue-worker takes the seed's `{action, …}` bodies; GET /health (liveness) is
 * open, GET /health/ready (readiness) takes the same keys as the endpoint.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import type { z } from "zod";
import { actionRequest, jsonBytes, MAX_BODY_BYTES, MAX_RETRY_PAGE, MAX_RUN_OPTION_BYTES, type ActionRequest } from "./http/api-schema";
import { authenticate } from "./http/auth";
import { corsOrigins, queueNames, type AppEnv } from "./config";
import { consumeDeadLetters, consumeJobs, isDeadLetterQueue } from "./consumer";
import { ApiError, ERROR_STATUS } from "./http/errors";
import { invalidJobType, toNewJob } from "./http/job-input";
import { jobEvents, queueEvents } from "./http/events";
import { metricsRoute } from "./http/metrics";
import { openApiDocument } from "./http/openapi";
import { statusBody } from "./http/status-body";
import { langGraphClient } from "./langgraph";
import { log } from "./log";
import type { Failure, JobMessage, NewJob } from "./coordinator/protocol";
import type { QueueCoordinator } from "./queue-do";
import { coordinatorFor } from "./rpc";
import { sweepAll } from "./sweep";

export { QueueCoordinator } from "./queue-do";
export { RunFollower } from "./run-follower";

// Not exported: workerd treats every export of the main module as a handler and refuses others.
const ENDPOINT = "/functions/v1/queue-worker";

type AppContext = Context<{ Bindings: AppEnv }>;

const app = new Hono<{ Bindings: AppEnv }>();

/**
 * Liveness, for anyone (a load balancer, an uptime monitor): the Worker answers. It reaches no
 * Durable Object and no LangGraph and says nothing about them, so a stranger can neither wake
 * every coordinator nor learn an internal address with it.
 */
app.get("/health", (c) => c.json({ success: true, data: { status: "ok" } }));

/**
 * Readiness, for callers with a key: LangGraph answering (with its URL, flavour and latency) and
 * each queue's circuit. 200 when ready; 503 NOT_READY, with the same report in `details`, when
 * LangGraph does not answer or a queue's circuit is not closed (its jobs are held back).
 */
app.get("/health/ready", async (c) => {
  await authenticate(c.req.raw.headers, c.env);
  const names = queueNames(c.env);
  const [langgraph, circuits] = await Promise.all([
    langGraphClient(c.env).health(),
    Promise.all(names.map((name) => coordinatorFor(c.env, name).circuit())),
  ]);
  const queues = Object.fromEntries(names.map((name, i) => [name, circuits[i]]));
  // half_open: the queue is trying LangGraph again with one job, still holding the others back.
  const open = names.filter((_, i) => circuits[i]!.circuit !== "closed");
  if (langgraph.ok && open.length === 0) return c.json({ success: true, data: { status: "ready", langgraph, queues } });
  const reasons = [
    ...(langgraph.ok ? [] : [`LangGraph is not answering (${langgraph.error ?? "no answer"})`]),
    ...(open.length === 0 ? [] : [`the LangGraph circuit is open for ${open.join(", ")}`]),
  ];
  return c.json(
    { success: false, error: `not ready: ${reasons.join("; ")}`, code: "NOT_READY", details: { status: "not_ready", langgraph, queues } },
    ERROR_STATUS.NOT_READY,
  );
});

/**
 * The OpenAPI 3.1 document, generated from the request and response schemas (http/openapi.ts).
 * For anyone, without a key, and readable from any origin (API explorers): it holds no secrets,
 * only the API's shape, which the README publishes too. Built on first use, once per isolate.
 */
app.get("/openapi.json", (c) => {
  c.header("Access-Control-Allow-Origin", "*");
  return c.json(openApiDocument());
});

/** Every queue's figures for a Prometheus scrape (http/metrics.ts), with the endpoint's keys. */
app.get("/metrics", metricsRoute);

app.use(ENDPOINT, (c, next) => endpointCors(c.env, c.req.header("origin"), "POST")(c, next));
app.use(`${ENDPOINT}/*`, (c, next) => endpointCors(c.env, c.req.header("origin"), "GET")(c, next));

/** Live status as Server-Sent Events (http/events.ts): one job's, and a whole queue's. */
app.get(`${ENDPOINT}/jobs/:jobId/events`, jobEvents);
app.get(`${ENDPOINT}/queues/:name/events`, queueEvents);

/**
 * Browsers (supabase-js) may call the endpoint from the origins CORS_ORIGINS allows: any, by
 * default, without credentials; with a list, only a listed origin is reflected and only it is
 * allowed credentials. Built per request, as the options depend on both.
 */
function endpointCors(env: AppEnv, origin: string | undefined, method: "POST" | "GET") {
  const allowed = corsOrigins(env);
  return cors({
    origin: allowed,
    credentials: allowed !== "*" && origin !== undefined && allowed.includes(origin),
    allowMethods: [method],
    allowHeaders: ["authorization", "apikey", "content-type", "x-client-info", "x-region", "last-event-id"],
    // Not a CORS-safelisted response header: without this a browser cannot read QUEUE_FULL's.
    exposeHeaders: ["Retry-After"],
    maxAge: 86_400,
  });
}

app.post(
  ENDPOINT,
  bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new ApiError("PAYLOAD_TOO_LARGE", `request body is over the ${MAX_BODY_BYTES} byte limit`, { limitBytes: MAX_BODY_BYTES });
    },
  }),
  async (c) => {
    await authenticate(c.req.raw.headers, c.env);
    const request = await parseRequest(c);
    const queueName = request.queueName ?? queueNames(c.env)[0]!;
    if (!queueNames(c.env).includes(queueName)) {
      throw new ApiError("UNKNOWN_QUEUE", `queue ${queueName} is not configured`, { queueNames: queueNames(c.env) });
    }
    return handle(c, request, coordinatorFor(c.env, queueName));
  },
);

/** A parsed request, its jobs checked against configuration and limits (http/job-input.ts). */
type CheckedRequest =
  | Exclude<ActionRequest, { action: "enqueue" | "enqueueBatch" }>
  | { action: "enqueue"; queueName?: string; job: NewJob }
  | { action: "enqueueBatch"; queueName?: string; jobs: NewJob[] };

async function handle(c: AppContext, request: CheckedRequest, coordinator: DurableObjectStub<QueueCoordinator>) {
  switch (request.action) {
    case "enqueue": {
      const result = await coordinator.enqueue(request.job);
      if (!result.ok) refuse(result);
      return c.json({ success: true, data: result.data }, result.created ? 201 : 200);
    }
    case "enqueueBatch": {
      const result = await coordinator.enqueueBatch(request.jobs);
      if (!result.ok) refuse(result);
      const jobs = result.data.map(({ created, data }) => ({ ...data, created }));
      return c.json({ success: true, data: { jobs } }, jobs.some((job) => job.created) ? 201 : 200);
    }
    case "status": {
      const { body, length } = await statusBody(c.env, unwrap(await coordinator.status(request.jobId)));
      return c.body(body, 200, { "content-type": "application/json", ...(length === undefined ? {} : { "content-length": String(length) }) });
    }
    case "stats":
      return ok(c, await coordinator.stats());
    case "cancel":
      return ok(c, unwrap(await coordinator.cancel(request.jobId)));
    case "list":
      return ok(c, await coordinator.list(request));
    case "history":
      return ok(c, unwrap(await coordinator.history(request.jobId)));
    case "resume":
      return ok(c, unwrap(await coordinator.resume(request.jobId, request.value)));
    case "retry":
      return ok(c, request.jobId !== undefined
        ? unwrap(await coordinator.retry(request.jobId))
        : unwrap(await coordinator.retryMany(request.status!, request.limit ?? MAX_RETRY_PAGE, request.cursor)));
    case "pause":
    case "unpause":
      return ok(c, unwrap(await coordinator.setPaused(request.action === "pause")));
    case "throughput":
      return ok(c, await coordinator.throughput());
  }
}

const ok = (c: AppContext, data: unknown) => c.json({ success: true, data });

/** A refusal as the API's error; a full queue says when to try again (Retry-After). */
function refuse(refusal: Failure<keyof typeof ERROR_STATUS> & { retryAfterSeconds?: number }): never {
  const headers = refusal.retryAfterSeconds === undefined ? undefined : { "Retry-After": String(refusal.retryAfterSeconds) };
  throw new ApiError(refusal.code, refusal.message, undefined, headers);
}

function unwrap<T, Code extends keyof typeof ERROR_STATUS>(result: { ok: true; data: T } | Failure<Code>): T {
  if (!result.ok) refuse(result);
  return result.data;
}

/**
 * The body is parsed as JSON whatever its Content-Type: the seed's curl examples post JSON
 * without one (curl -d says form-urlencoded). Hono's zValidator would reject those, so
 * validation is done here; the bytes are decoded here too, as the runtime warns about text()
 * on a body whose Content-Type is not text.
 */
async function parseRequest(c: AppContext): Promise<CheckedRequest> {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(await c.req.arrayBuffer()));
  } catch {
    throw new ApiError("INVALID_REQUEST", "request body is not valid JSON");
  }
  const parsed = actionRequest.safeParse(body);
  if (!parsed.success) throw validationError(parsed.error, c.env);
  const request = parsed.data;
  switch (request.action) {
    case "enqueue":
      return { ...request, job: toNewJob(request.job, "job", c.env) };
    case "enqueueBatch":
      return { ...request, jobs: request.jobs.map((job, i) => toNewJob(job, `jobs.${i}`, c.env)) };
    case "resume": {
      const bytes = jsonBytes(request.value);
      if (bytes > MAX_RUN_OPTION_BYTES) {
        throw new ApiError("PAYLOAD_TOO_LARGE", `value is ${bytes} bytes as JSON, over the ${MAX_RUN_OPTION_BYTES} byte limit`, { path: "value", limitBytes: MAX_RUN_OPTION_BYTES });
      }
      return request;
    }
    default:
      return request;
  }
}

function validationError(error: z.ZodError, env: AppEnv): ApiError {
  // An unknown field is named in the path itself, so that `job.threadid` reads as the typo it is.
  const issues = error.issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ path: [...issue.path, key].join("."), message: "unknown field" }))
      : [{ path: issue.path.join("."), message: issue.message }],
  );
  // A type that is there but not one of ours; a missing one (or not a string) is an invalid request.
  const badType = error.issues.find((issue) => /^(job|jobs\.\d+)\.type$/.test(issue.path.join(".")) && issue.code !== "invalid_type");
  if (badType) return invalidJobType(badType.path.join("."), badType.message, env, issues);
  return new ApiError("INVALID_REQUEST", `invalid request: ${issues.map((i) => `${i.path || "(body)"}: ${i.message}`).join("; ")}`, issues);
}

app.notFound(() => {
  throw new ApiError("NOT_FOUND", `no such route; use POST ${ENDPOINT}, GET ${ENDPOINT}/jobs/{jobId}/events, GET ${ENDPOINT}/queues/{name}/events, GET /health, GET /health/ready, GET /metrics, GET /openapi.json or GET /dashboard`);
});

app.onError((error, c) => {
  if (error instanceof ApiError) {
    log({ event: "request_refused", code: error.code, status: error.status, message: error.message }, "warn");
    for (const [name, value] of Object.entries(error.headers ?? {})) c.header(name, value);
    return c.json({ success: false, error: error.message, code: error.code, details: error.details }, error.status);
  }
  log({ event: "internal_error", error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, "error");
  return c.json({ success: false, error: "internal error", code: "INTERNAL_ERROR" }, 500);
});

export default {
  fetch: app.fetch,

  async queue(batch, env) {
    if (isDeadLetterQueue(batch.queue)) await consumeDeadLetters(batch, env);
    else await consumeJobs(batch, env);
  },

  async scheduled(controller, env) {
    await sweepAll(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<AppEnv, JobMessage>;
