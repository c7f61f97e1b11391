/**
 * What the dashboard asks of the Worker, through the typed client (src/client/): every action is
 * the API's own, with the key the operator entered as `Authorization: Bearer`. The key is kept in
 * sessionStorage (this tab, until it closes), never in a URL.
 */
import { createClient, isQueueWorkerError, type QueueWorkerClient } from "../../src/client/index";
import { errorFromResponse } from "../../src/client/errors";
import type { ThroughputMinuteData } from "../../src/http/responses";

const KEY_ITEM = "queue-worker-dashboard:api-key";

export const savedKey = (): string | null => sessionStorage.getItem(KEY_ITEM);
export const saveKey = (key: string): void => sessionStorage.setItem(KEY_ITEM, key);
export const forgetKey = (): void => sessionStorage.removeItem(KEY_ITEM);

/** A client of the Worker that served this page. */
export const clientFor = (apiKey: string): QueueWorkerClient => createClient({ url: location.origin, apiKey });

export interface Readiness {
  queueNames: string[];
  /** LangGraph answering, and each queue's circuit: what GET /health/ready reports. */
  langgraph: { ok: boolean; url: string; latencyMs: number; error?: string };
  circuits: Record<string, { circuit: string }>;
}

/**
 * The configured queues, and whether LangGraph answers, from GET /health/ready: it takes the
 * same keys as the API (so a wrong key is found here, before anything else) and names every
 * queue of QUEUE_NAMES, in order, whether ready (200) or not (503, the same report in `details`).
 */
export async function readiness(client: QueueWorkerClient): Promise<Readiness> {
  const response = await client.request(new URL("/health/ready", location.origin).toString(), { headers: { accept: "application/json" } });
  if (response.status !== 200 && response.status !== 503) throw await errorFromResponse(response, "GET /health/ready");
  const body = (await response.json()) as { data?: ReadyReport; details?: ReadyReport };
  const report = body.data ?? body.details;
  if (!report) throw new Error("GET /health/ready answered without a report");
  return { queueNames: Object.keys(report.queues), langgraph: report.langgraph, circuits: report.queues };
}

interface ReadyReport {
  langgraph: Readiness["langgraph"];
  queues: Record<string, { circuit: string }>;
}

/** One minute of a queue's throughput series: jobs completed and failed, their average wait and processing time. */
export type ThroughputMinute = ThroughputMinuteData;

/** The last hour of a queue, minute by minute, oldest first (the `throughput` action). */
export async function throughput(client: QueueWorkerClient, queueName: string): Promise<ThroughputMinute[]> {
  return (await client.call({ action: "throughput", queueName })).minutes;
}

/** The message to show for a failed call: the API's own words, with its code. */
export function describeError(error: unknown): string {
  if (isQueueWorkerError(error)) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}
