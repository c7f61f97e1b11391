/** Configuration read from the Worker's vars and secrets, with the defaults the README's Configuration table gives. */
import { DEFAULT_JOB_TYPES } from "./jobs";

/** Secrets are not in wrangler.jsonc, so `wrangler types` cannot know them; both are optional. */
export interface Secrets {
  API_KEYS?: string;
  LANGGRAPH_API_KEY?: string;
}
export type AppEnv = Env & Secrets;

export interface QueueConfig {
  capacity: number;
  concurrency: number;
  resultTtlMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  jobTimeoutMs: number;
  /** How long an interrupted job waits for its resume before it fails. */
  interruptTimeoutMs: number;
}

function positiveInt(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return Number.isInteger(parsed) && parsed > 0 ? parsed : fallback;
}

export function queueConfig(env: AppEnv): QueueConfig {
  return {
    capacity: positiveInt(env.QUEUE_CAPACITY, 1000),
    concurrency: positiveInt(env.MAX_CONCURRENCY, 5),
    resultTtlMs: positiveInt(env.RESULT_TTL_SECONDS, 86_400) * 1000,
    retryBaseMs: positiveInt(env.RETRY_BASE_MS, 5000),
    retryMaxMs: positiveInt(env.RETRY_MAX_MS, 300_000),
    jobTimeoutMs: positiveInt(env.JOB_TIMEOUT_SECONDS, 3600) * 1000,
    interruptTimeoutMs: positiveInt(env.INTERRUPT_TIMEOUT_SECONDS, 7 * 86_400) * 1000,
  };
}

/**
 * The job types JOB_TYPES accepts, each with the graph or assistant that runs it. Entries are
 * comma-separated: `my_agent` (a type that is also the graph's or assistant's id) or
 * `triage=data_sync` (a type and the id it runs). `*` accepts any type, run by the graph or
 * assistant of the same name: a type LangGraph does not know fails its job at the first attempt.
 * Unset or empty: the seed's four types.
 */
export interface JobTypes {
  any: boolean;
  /** type → graph or assistant id. */
  assistants: Map<string, string>;
}

export function jobTypes(env: AppEnv): JobTypes {
  const entries = (env.JOB_TYPES ?? "").split(",").map((entry) => entry.trim()).filter(Boolean);
  const assistants = new Map<string, string>();
  for (const entry of entries.length > 0 ? entries : DEFAULT_JOB_TYPES) {
    if (entry === "*") continue;
    const [type, assistant] = entry.split("=", 2).map((part) => part.trim());
    if (type) assistants.set(type, assistant || type);
  }
  return { any: entries.includes("*"), assistants };
}

/**
 * NON_RETRYABLE_ERRORS: names of errors a graph throws to say retrying cannot help (bad input,
 * a refusal), comma-separated. A run that fails with one fails its job at once.
 */
export function nonRetryableErrors(env: AppEnv): Set<string> {
  const names = (env.NON_RETRYABLE_ERRORS ?? "NonRetryableError").split(",").map((name) => name.trim()).filter(Boolean);
  return new Set(names);
}

/**
 * How long one alarm invocation of a RunFollower follows a LangGraph run before the next one
 * rejoins it. Cloudflare allows an alarm handler 15 minutes of wall time.
 */
export const runBudgetMs = (env: AppEnv): number => positiveInt(env.RUN_BUDGET_SECONDS, 720) * 1000;

/**
 * LANGGRAPH_LOST_RUN_SECONDS: after an outage, how long a run LangGraph still calls going must
 * show no sign of life, LangGraph answering, before it is taken for lost and the job moves to a
 * copy of its thread. 0 (the default): never, right for LangGraph Platform, which re-queues the
 * runs of its dead workers itself. The JS dev server keeps a run it lost "running" for ever.
 */
export function lostRunMs(env: AppEnv): number {
  const seconds = Number(env.LANGGRAPH_LOST_RUN_SECONDS);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}

export function queueNames(env: AppEnv): string[] {
  const names = (env.QUEUE_NAMES ?? "").split(",").map((name) => name.trim()).filter(Boolean);
  return names.length > 0 ? names : ["langgraph-queue"];
}

const DEFAULT_QUEUE = "langgraph-queue";

export function apiKeys(env: AppEnv): string[] {
  return (env.API_KEYS ?? "").split(",").map((key) => key.trim()).filter(Boolean);
}

/**
 * The browser origins CORS_ORIGINS allows: "*" (any; the default) or a list, written as a
 * browser sends the Origin header (scheme://host[:port], lower case, no trailing slash).
 */
export function corsOrigins(env: AppEnv): "*" | string[] {
  const origins = (env.CORS_ORIGINS ?? "").split(",").map((origin) => origin.trim().toLowerCase().replace(/\/+$/, "")).filter(Boolean);
  return origins.length === 0 || origins.includes("*") ? "*" : origins;
}

export const isDevelopment = (env: AppEnv): boolean => env.ENVIRONMENT === "development";
