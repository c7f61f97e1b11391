/** What the integration tests share: calling the Worker's endpoint as a client would. */
import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";

export const ENDPOINT = "https://queue.test/functions/v1/queue-worker";
export const AUTH = { authorization: "Bearer test-key-1" };

export interface Envelope {
  success: boolean;
  data?: any;
  error?: string;
  code?: string;
  details?: any;
}

/** POSTs `body` (JSON-encoded unless it is already a string) to the endpoint. */
export async function call(body: unknown, headers: Record<string, string> = AUTH) {
  const response = await exports.default.fetch(ENDPOINT, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Envelope };
}

export const uniqueId = (prefix: string) => `${prefix}_${crypto.randomUUID().slice(0, 8)}`;

export async function waitForStatus(jobId: string, statuses: string[], queueName?: string) {
  let last: Envelope | undefined;
  await expect
    .poll(async () => {
      last = (await call({ action: "status", jobId, queueName })).body;
      return statuses.includes(last.data?.status);
    }, { timeout: 10_000, interval: 50 })
    .toBe(true);
  return last!.data;
}

/**
 * `env` with `overrides`, and its Durable Object and Queue bindings wrapped to record every use
 * of them in `touched`: for tests that check a request reached no storage.
 */
export function recordingEnv(overrides: Partial<Env> = {}): { env: Env; touched: string[] } {
  const touched: string[] = [];
  const record = <T extends object>(name: string, binding: T): T =>
    new Proxy(binding, {
      get(target, property) {
        touched.push(`${name}.${String(property)}`);
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  const wrapped: Env = {
    ...env,
    ...overrides,
    QUEUE_COORDINATOR: record("QUEUE_COORDINATOR", env.QUEUE_COORDINATOR),
    RUN_FOLLOWER: record("RUN_FOLLOWER", env.RUN_FOLLOWER),
    JOB_QUEUE: record("JOB_QUEUE", env.JOB_QUEUE),
  };
  return { env: wrapped, touched };
}
