/**
 * Telling LangGraph's trouble apart, for the platform flavour: LangGraph refusing a request (an
 * HTTP status), one call that failed on the way (a reset or a timeout of a request, while
 * LangGraph answers), an outage (nothing answers), and an error of our own (a bug, not LangGraph's).
 *
 * The class of an error cannot tell: workerd reports network failures as `TypeError: Network
 * connection lost.` and the like, as our own bugs are TypeErrors too. So every fetch the SDK makes
 * goes through `networkFetch`, which marks what fetch and the answer's body throw as network
 * failures; for one of those, LangGraph's `GET /ok` decides whether it was an outage.
 */
import { errorMessage, isRetryableStatus, probe, type AttemptFailed } from "./client";

/** How long `GET /ok` has to answer when a call failed on the way: no answer means an outage. */
export const OUTAGE_PROBE_MS = 2000;

/** Errors fetch threw, or the body of an answer threw while being read: the network's, not ours. */
const networkErrors = new WeakSet<object>();
/** The network failures the SDK raises itself (it wraps a refused connection in a new `ConnectionError`). */
const SDK_NETWORK_ERRORS = new Set(["ConnectionError", "StreamIdleTimeoutError", "MaxReconnectAttemptsError", "TimeoutError", "AbortError"]);

const marked = (error: unknown): unknown => {
  if (typeof error === "object" && error !== null) networkErrors.add(error);
  return error;
};

/** fetch, with what it and the answer's body throw marked as network failures. */
export const networkFetch = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
  let response: Response;
  try {
    response = await fetch(input, init);
  } catch (error) {
    throw marked(error);
  }
  if (!response.body) return response;
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await reader.read().catch((error: unknown) => {
        throw marked(error);
      });
      if (chunk.done) controller.close();
      else controller.enqueue(chunk.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
};

export function isNetworkError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { name, cause } = error as { name?: unknown; cause?: unknown };
  return networkErrors.has(error) || (typeof cause === "object" && cause !== null && networkErrors.has(cause)) || SDK_NETWORK_ERRORS.has(String(name));
}

/** An error already classified (by `classify`), carrying the attempt's failure. */
export class ClassifiedError extends Error {
  constructor(readonly failure: AttemptFailed, readonly callFailed: boolean) {
    super(failure.error);
  }
}

export interface Endpoint {
  baseUrl: string;
  apiKey: string | undefined;
}

/** The SDK throws its HTTP errors with a numeric `status`; connection errors have none. */
const httpStatus = (error: unknown): number | undefined =>
  typeof (error as { status?: unknown })?.status === "number" ? (error as { status: number }).status : undefined;

/** Does LangGraph answer `GET /ok` at all (any HTTP status is an answer)? */
export async function answers({ baseUrl, apiKey }: Endpoint, timeoutMs = OUTAGE_PROBE_MS): Promise<boolean> {
  const health = await probe(`${baseUrl}/ok`, apiKey, "platform", timeoutMs);
  return health.ok || /^HTTP \d+/.test(health.error ?? "");
}

/**
 * What an error from a LangGraph call means for the attempt. Only an outage is `unreachable`
 * (the queue's circuit opens, no retry is spent); `callFailed` says it was one call that failed
 * while LangGraph answers, which is worth trying again at once.
 */
export async function classify(error: unknown, endpoint: Endpoint, jobType: string): Promise<ClassifiedError> {
  if (error instanceof ClassifiedError) return error;
  const status = httpStatus(error);
  const message = errorMessage(error).slice(0, 500);
  const failed = (failure: Omit<AttemptFailed, "status">, callFailed = false) => new ClassifiedError({ status: "failed", ...failure }, callFailed);
  if (status !== undefined) {
    const hint =
      status === 404 ? ` (is there a graph or assistant named "${jobType}"?)`
      : status === 401 || status === 403 ? " (check LANGGRAPH_API_KEY)"
      : "";
    // The thread still busy with a run the queue did not start or could not see (a 409 or 422
    // that says so): not the job's fault, waited out without spending a retry.
    const threadBusy = (status === 409 || status === 422) && /already running|busy/i.test(message);
    // Not the job's fault either, so worth retrying: LangGraph refusing our key.
    const notTheJobsFault = status === 401 || status === 403;
    return failed({
      error: `LangGraph answered ${status}${hint}: ${message}`, retryable: threadBusy || notTheJobsFault || isRetryableStatus(status), ...(threadBusy && { threadBusy }),
    });
  }
  if (error instanceof SyntaxError) {
    // An answer, but not one we can read: LangGraph (or something in between) is broken, not away.
    return failed({ error: `LangGraph answered with invalid JSON at ${endpoint.baseUrl}: ${message}`, retryable: true });
  }
  if (!isNetworkError(error)) {
    // Thrown by our own code, not by the network or LangGraph: no reason to stop the queue.
    return failed({ error: `unexpected error: ${message}`, retryable: true, ours: true });
  }
  if (await answers(endpoint)) {
    return failed({ error: `a call to LangGraph failed (LangGraph answers at ${endpoint.baseUrl}/ok): ${message}`, retryable: true }, true);
  }
  return failed({ error: `LangGraph unreachable at ${endpoint.baseUrl}: ${message}`, retryable: true, unreachable: true });
}

/** How many times one call that failed on the way is made in all, and the pause before each retry. */
const CALL_TRIES = 3;
const CALL_RETRY_MS = 300;

/**
 * A call worth making again at once when it failed on the way while LangGraph answers (a status
 * check, a read): a blip must not cost the attempt. Anything else is thrown classified.
 */
export async function retryingCall<T>(call: () => Promise<T>, endpoint: Endpoint, jobType: string, signal?: AbortSignal): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await call();
    } catch (error) {
      if (signal?.aborted) throw error;
      const classified = await classify(error, endpoint, jobType);
      if (!classified.callFailed || tries >= CALL_TRIES) throw classified;
      await new Promise((resolve) => setTimeout(resolve, CALL_RETRY_MS * tries));
    }
  }
}
