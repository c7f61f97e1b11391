/**
 * What the Worker answers: each action's `data`, the success and error envelopes, the health
 * routes. Plain zod, importing nothing of the Worker, so that a client (Node, browsers, Deno)
 * takes its response types from here and its request types from api-schema.ts. response-checks.ts
 * ties the coordinator's views to these schemas at compile time; openapi.ts documents them.
 *
 * Objects are z.object: a client parsing an answer keeps working when a field is added, while the
 * OpenAPI document (output schemas, `additionalProperties: false`) states exactly what is sent today.
 */
import { z } from "zod";
import { jobId, jobStatus, jsonValue, priority, retryableStatus } from "./api-schema";
import { ERROR_STATUS, type ErrorCode } from "./errors";

/** A job's run options as stored: a JSON object. */
const jsonObject = z.record(z.string(), z.unknown());
const isoTime = z.iso.datetime().meta({ description: "ISO-8601 UTC, to the millisecond" });
const maybeTime = isoTime.nullable();
const count = z.int().min(0);
const seconds = z.number().min(0);

export const enqueueData = z.object({
  jobId,
  status: jobStatus.meta({ description: "queued for a new job; an existing job's own status when the same job was enqueued again" }),
  priority,
  estimatedWaitTime: seconds.meta({ description: "seconds until it starts, estimated" }),
  queuePosition: count.meta({ description: "1 for the next job to run; 0 once it holds a slot (dispatched) or is no longer queued" }),
});

export const enqueueBatchData = z.object({
  jobs: z.array(enqueueData.extend({ created: z.boolean().meta({ description: "false for a job that already existed with the same body" }) }))
    .meta({ description: "one answer per job, in the order sent" }),
});

/** One pending `interrupt()` of the graph: the id a resume map names, what the graph asked, the node that asked. */
export const pendingInterrupt = z.object({ id: z.string(), value: jsonValue, node: z.string().nullable() });

export const statusData = z.object({
  jobId,
  type: z.string(),
  status: jobStatus,
  priority,
  payload: jsonObject.meta({ description: "the job's input, as enqueued" }),
  progress: z.number().min(0).max(100),
  currentStep: z.string().nullable(),
  queuePosition: count.optional().meta({ description: "while queued" }),
  estimatedWaitTime: seconds.optional().meta({ description: "while queued" }),
  waitingForThread: z.literal(true).optional().meta({ description: "queued behind an earlier job on its thread" }),
  enqueuedAt: isoTime,
  startedAt: maybeTime,
  estimatedCompletion: maybeTime,
  completedAt: maybeTime,
  retryCount: count,
  maxRetries: count,
  nextRetryAt: maybeTime,
  result: jsonValue,
  error: z.string().nullable(),
  threadId: z.string().nullable(),
  assistantId: z.string(),
  config: jsonObject.optional(),
  context: jsonObject.optional(),
  metadata: jsonObject.optional(),
  timeoutSeconds: z.number().positive().nullable(),
  interrupts: z.array(pendingInterrupt).optional().meta({ description: "while interrupted" }),
  interruptExpiresAt: maybeTime.optional().meta({ description: "while interrupted: when it fails unless resumed" }),
  resultLocation: z.object({ threadId: z.string().nullable(), reason: z.string() }).optional()
    .meta({ description: "a result the queue did not keep (over 25 MiB): where it is" }),
});

export const circuitData = z.object({ circuit: z.enum(["closed", "open", "half_open"]), openedAt: maybeTime, nextProbeAt: maybeTime });

export const statsData = z.object({
  queueName: z.string(),
  totalJobs: count,
  queuedJobs: count,
  runningJobs: count,
  interruptedJobs: count,
  completedJobs: count,
  failedJobs: count,
  cancelledJobs: count,
  averageProcessTime: seconds,
  successRate: z.number().min(0).max(1).nullable(),
  capacity: count,
  concurrency: count,
  paused: z.boolean().meta({ description: "paused by an operator: nothing is dispatched until unpause (running jobs finish, enqueues are accepted)" }),
  langgraph: circuitData,
});

export const cancelData = z.object({ jobId, status: z.literal("cancelled"), previousStatus: jobStatus });

export const jobSummary = z.object({
  jobId,
  type: z.string(),
  status: jobStatus,
  priority,
  progress: z.number().min(0).max(100),
  currentStep: z.string().nullable(),
  retryCount: count,
  enqueuedAt: isoTime,
  startedAt: maybeTime,
  completedAt: maybeTime,
  nextRetryAt: maybeTime,
  error: z.string().nullable(),
  threadId: z.string().nullable(),
});

export const listData = z.object({
  jobs: z.array(jobSummary),
  nextCursor: z.string().nullable().meta({ description: "the next page's `cursor`; null on the last page" }),
});

export const historyEvent = z.object({
  at: isoTime,
  event: z.string().meta({ description: "queued, dispatched, started, progress, completed, failed, cancelled, … (README, Job lifecycle)" }),
  attempt: count,
  detail: jsonValue,
});
export const historyData = z.object({ jobId, events: z.array(historyEvent) });

export const resumeData = z.object({ jobId, status: z.literal("queued") });

export const retryData = z.union([
  z.object({ jobId, status: z.literal("queued"), previousStatus: retryableStatus }).meta({ description: "one job retried" }),
  z.object({
    jobIds: z.array(jobId).meta({ description: "the jobs queued again, oldest first; fewer than the page when capacity ran out" }),
    nextCursor: z.string().nullable().meta({ description: "the next call's `cursor`; null when no job of that status is left" }),
  }).meta({ description: "a page of jobs retried (a request with `status`)" }),
]);

export const pauseData = z.object({ queueName: z.string(), paused: z.boolean() });

const milliseconds = z.int().min(0);
export const throughputMinute = z.object({
  at: isoTime.meta({ description: "the minute's start" }),
  completed: count,
  failed: count.meta({ description: "jobs that failed for good in the minute (a retried attempt is not a failure)" }),
  averageWaitMs: milliseconds.nullable().meta({ description: "mean wait from ready (enqueued or requeued) to run start of the runs that started in the minute; null when none did" }),
  averageProcessMs: milliseconds.nullable().meta({ description: "mean run time of the jobs that completed in the minute; null when none did" }),
});
export const throughputData = z.object({
  queueName: z.string(),
  minutes: z.array(throughputMinute).meta({ description: "the last 60 minutes, oldest first, the minute under way last; every minute present" }),
});

/** `{success: true, data}`. */
export const success = <Data extends z.ZodType>(data: Data) => z.object({ success: z.literal(true), data });

/** Each action's `data`, by action name. */
export const actionData = {
  enqueue: enqueueData,
  enqueueBatch: enqueueBatchData,
  status: statusData,
  stats: statsData,
  cancel: cancelData,
  list: listData,
  history: historyData,
  resume: resumeData,
  retry: retryData,
  pause: pauseData,
  unpause: pauseData,
  throughput: throughputData,
};
export type ActionName = keyof typeof actionData;
/** Each action's whole answer, `{success: true, data}`, by action name. */
export const actionResponses = {
  enqueue: success(enqueueData),
  enqueueBatch: success(enqueueBatchData),
  status: success(statusData),
  stats: success(statsData),
  cancel: success(cancelData),
  list: success(listData),
  history: success(historyData),
  resume: success(resumeData),
  retry: success(retryData),
  pause: success(pauseData),
  unpause: success(pauseData),
  throughput: success(throughputData),
} satisfies { [A in ActionName]: z.ZodType<{ success: true; data: z.infer<(typeof actionData)[A]> }> };

/** Every error code; `x-error-status` gives each one's HTTP status (errors.ts, the one place that maps them). */
export const errorCode = z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]).meta({ "x-error-status": ERROR_STATUS });
/** `{success: false, error, code, details}`: every non-2xx answer. `details` is left out when there are none. */
export const errorResponse = z.object({
  success: z.literal(false),
  error: z.string().meta({ description: "what went wrong, for people; never a stack trace" }),
  code: errorCode,
  details: z.unknown().optional().meta({
    description: "INVALID_REQUEST, INVALID_JOB_TYPE: [{path, message}] (INVALID_JOB_TYPE's last issue adds acceptedTypes); " +
      "UNKNOWN_QUEUE: {queueNames}; PAYLOAD_TOO_LARGE: {limitBytes, path?}; NOT_READY: the readiness report",
  }),
});

export const healthData = z.object({ status: z.literal("ok") });

export const langgraphHealth = z.object({
  ok: z.boolean(),
  url: z.string(),
  flavor: z.string(),
  latencyMs: z.number().min(0),
  error: z.string().optional(),
});
const readiness = { langgraph: langgraphHealth, queues: z.record(z.string(), circuitData) };
export const readyData = z.object({ status: z.literal("ready"), ...readiness });
/** GET /health/ready's report when not ready: the 503 NOT_READY envelope's `details`. */
export const notReadyDetails = z.object({ status: z.literal("not_ready"), ...readiness });

export type EnqueueData = z.infer<typeof enqueueData>;
export type EnqueueBatchData = z.infer<typeof enqueueBatchData>;
export type PendingInterruptData = z.infer<typeof pendingInterrupt>;
export type StatusData = z.infer<typeof statusData>;
export type CircuitData = z.infer<typeof circuitData>;
export type StatsData = z.infer<typeof statsData>;
export type CancelData = z.infer<typeof cancelData>;
export type JobSummary = z.infer<typeof jobSummary>;
export type ListData = z.infer<typeof listData>;
export type HistoryEvent = z.infer<typeof historyEvent>;
export type HistoryData = z.infer<typeof historyData>;
export type ResumeData = z.infer<typeof resumeData>;
export type RetryData = z.infer<typeof retryData>;
export type PauseData = z.infer<typeof pauseData>;
export type ThroughputMinuteData = z.infer<typeof throughputMinute>;
export type ThroughputData = z.infer<typeof throughputData>;
export type ActionData<A extends ActionName> = z.infer<(typeof actionData)[A]>;
export type ActionResponse<A extends ActionName> = z.infer<(typeof actionResponses)[A]>;
export type ErrorResponse = z.infer<typeof errorResponse>;
export type HealthData = z.infer<typeof healthData>;
export type LangGraphHealthData = z.infer<typeof langgraphHealth>;
export type ReadyData = z.infer<typeof readyData>;
export type NotReadyDetails = z.infer<typeof notReadyDetails>;
