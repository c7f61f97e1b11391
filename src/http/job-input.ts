/**
 * What the router checks of a job beyond its schema, where the answer depends on configuration
 * or on sizes zod does not measure: that JOB_TYPES accepts its type (and which graph or assistant
 * runs it), that its payload and run options are within their limits as JSON, that its metadata
 * leaves the keys LangGraph and the queue give meaning alone, and that its time limit is within
 * JOB_TIMEOUT_SECONDS.
 */
import { jobTypes, queueConfig, type AppEnv } from "../config";
import type { NewJob } from "../coordinator/protocol";
import { jsonBytes, MAX_PAYLOAD_BYTES, MAX_RUN_OPTION_BYTES, type JobInput } from "./api-schema";
import { ApiError } from "./errors";

/** The job as the coordinator takes it: its id chosen, its graph or assistant resolved. `path` names it in errors (`job`, `jobs.3`). */
export function toNewJob(job: JobInput, path: string, env: AppEnv): NewJob {
  const types = jobTypes(env);
  const assistant = types.assistants.get(job.type) ?? (types.any ? job.type : undefined);
  if (assistant === undefined) throw invalidJobType(`${path}.type`, `"${job.type}" is not a type JOB_TYPES accepts`, env);
  const limited = [["payload", job.payload, MAX_PAYLOAD_BYTES], ["config", job.config, MAX_RUN_OPTION_BYTES],
    ["context", job.context, MAX_RUN_OPTION_BYTES], ["metadata", job.metadata, MAX_RUN_OPTION_BYTES]] as const;
  for (const [field, value, limitBytes] of limited) {
    if (value === undefined) continue;
    const bytes = jsonBytes(value);
    if (bytes > limitBytes) {
      throw new ApiError("PAYLOAD_TOO_LARGE", `${path}.${field} is ${bytes} bytes as JSON, over the ${limitBytes} byte limit`, { path: `${path}.${field}`, limitBytes });
    }
  }
  const reserved = Object.keys(job.metadata ?? {}).filter((key) => RESERVED_METADATA.includes(key));
  if (reserved.length > 0) {
    const message = `must not set ${reserved.join(", ")}: LangGraph and the queue set them (a thread's graph, a run's job)`;
    throw new ApiError("INVALID_REQUEST", `invalid request: ${path}.metadata: ${message}`, [{ path: `${path}.metadata`, message }]);
  }
  const jobTimeoutSeconds = queueConfig(env).jobTimeoutMs / 1000;
  if (job.timeoutSeconds !== undefined && job.timeoutSeconds > jobTimeoutSeconds) {
    const message = `must be at most JOB_TIMEOUT_SECONDS (${jobTimeoutSeconds}), which bounds every run`;
    throw new ApiError("INVALID_REQUEST", `invalid request: ${path}.timeoutSeconds: ${message}`, [{ path: `${path}.timeoutSeconds`, message }]);
  }
  return {
    ...job,
    id: job.id ?? crypto.randomUUID(),
    assistantId: job.assistantId ?? assistant,
    // LangGraph's thread ids are lower case: one thread, however the client spells it.
    ...(job.threadId !== undefined && { threadId: job.threadId.toLowerCase() }),
  };
}

/**
 * Metadata keys a job may not set: LangGraph keeps a thread's graph and assistant under them (a
 * run's metadata goes on the thread it creates), and the queue names a run's job with its own.
 */
const RESERVED_METADATA = ["graph_id", "assistant_id", "thread_id", "run_id", "queueName", "jobId", "jobKey", "attempt", "resumeId"];

/** INVALID_JOB_TYPE, naming the types JOB_TYPES accepts (in the message and in `details`). */
export function invalidJobType(path: string, reason: string, env: AppEnv, issues: { path: string; message: string }[] = []): ApiError {
  const acceptedTypes = [...jobTypes(env).assistants.keys()];
  const accepts = jobTypes(env).any ? "any type" : acceptedTypes.join(", ");
  return new ApiError("INVALID_JOB_TYPE", `invalid job type at ${path}: ${reason}; accepted: ${accepts}`, [
    ...issues.filter((issue) => issue.path !== path), { path, message: reason, acceptedTypes },
  ]);
}
