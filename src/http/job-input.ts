/**
 * What the router checks of a job beyond its schema, where the answer depends on configuration
 * or on sizes zod does not measure: that JOB_TYPES accepts its type (and which graph or assistant
 * runs it), and that its payload and run options are within their limits as JSON.
 */
import { jobTypes, type AppEnv } from "../config";
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
  return { ...job, id: job.id ?? crypto.randomUUID(), assistantId: job.assistantId ?? assistant };
}

/** INVALID_JOB_TYPE, naming the types JOB_TYPES accepts (in the message and in `details`). */
export function invalidJobType(path: string, reason: string, env: AppEnv, issues: { path: string; message: string }[] = []): ApiError {
  const acceptedTypes = [...jobTypes(env).assistants.keys()];
  const accepts = jobTypes(env).any ? "any type" : acceptedTypes.join(", ");
  return new ApiError("INVALID_JOB_TYPE", `invalid job type at ${path}: ${reason}; accepted: ${accepts}`, [
    ...issues.filter((issue) => issue.path !== path), { path, message: reason, acceptedTypes },
  ]);
}
