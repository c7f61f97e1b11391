/**
 * The client's one error class. The API's codes come from src/http/errors.ts (ERROR_STATUS, the
 * one list the Worker answers with); the client adds two of its own for answers that never
 * reached the API's envelope: NETWORK_ERROR (fetch itself failed) and INVALID_RESPONSE (an
 * answer that is not the API's JSON, such as a proxy's HTML 502).
 *
 * An abort is not a QueueWorkerError: the signal's reason (an AbortError or TimeoutError
 * DOMException) is thrown as it is, so `error.name === "AbortError"` keeps working.
 */
import { ERROR_STATUS, type ErrorCode } from "../http/errors";

/** Codes the client sets itself, for answers that did not come from the API. */
export type ClientErrorCode = "NETWORK_ERROR" | "INVALID_RESPONSE";
/** Every code a QueueWorkerError may carry: the API's (src/http/errors.ts) and the client's own. */
export type QueueWorkerErrorCode = ErrorCode | ClientErrorCode;
export type { ErrorCode };

/** The API's error codes, each with its HTTP status. */
export const API_ERROR_STATUS: Readonly<Record<ErrorCode, number>> = ERROR_STATUS;

export interface QueueWorkerErrorInit {
  /** The HTTP status; 0 when no answer came (NETWORK_ERROR). */
  status: number;
  /** The envelope's `details`: which fields were refused, the accepted types, the queue names, … */
  details?: unknown;
  /** QUEUE_FULL's Retry-After, in seconds. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class QueueWorkerError<Code extends QueueWorkerErrorCode = QueueWorkerErrorCode> extends Error {
  override readonly name = "QueueWorkerError";
  readonly status: number;
  readonly details: unknown;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly code: Code,
    message: string,
    init: QueueWorkerErrorInit,
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.details = init.details;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }

  /** Narrows the code: `if (error.is("JOB_NOT_FOUND")) …`. */
  is<C extends QueueWorkerErrorCode>(code: C): this is QueueWorkerError<C> {
    return (this.code as QueueWorkerErrorCode) === code;
  }
}

/** True for a QueueWorkerError, of one of `codes` when any are given. */
export function isQueueWorkerError<C extends QueueWorkerErrorCode = QueueWorkerErrorCode>(error: unknown, ...codes: C[]): error is QueueWorkerError<C> {
  return error instanceof QueueWorkerError && (codes.length === 0 || codes.includes(error.code as C));
}

/** The API's own codes: whether an envelope's `code` is one this client knows. */
export const isApiErrorCode = (code: unknown): code is ErrorCode => typeof code === "string" && Object.hasOwn(ERROR_STATUS, code);

/**
 * The error an answer that is not `{success: true}` stands for: the envelope's code, message and
 * details when it is the API's, else INVALID_RESPONSE saying what came.
 */
export async function errorFromResponse(response: Response, what: string): Promise<QueueWorkerError> {
  const text = await response.text().catch(() => "");
  const retryAfter = Number(response.headers.get("retry-after"));
  const retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter >= 0 && response.headers.has("retry-after") ? retryAfter : undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (isEnvelopeError(body)) {
    // A code this client does not know yet (a newer Worker) is kept as sent.
    return new QueueWorkerError(body.code as QueueWorkerErrorCode, body.error, { status: response.status, details: body.details, retryAfterSeconds });
  }
  const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return new QueueWorkerError("INVALID_RESPONSE", `${what} answered ${response.status} without the API's JSON envelope${excerpt ? `: ${excerpt}` : ""}`, {
    status: response.status,
    retryAfterSeconds,
  });
}

function isEnvelopeError(body: unknown): body is { success: false; error: string; code: string; details?: unknown } {
  if (typeof body !== "object" || body === null) return false;
  const envelope = body as Record<string, unknown>;
  return envelope.success === false && typeof envelope.code === "string" && typeof envelope.error === "string";
}

export function networkError(url: string, cause: unknown): QueueWorkerError<"NETWORK_ERROR"> {
  const reason = cause instanceof Error ? (cause.cause instanceof Error ? `${cause.message}: ${cause.cause.message}` : cause.message) : String(cause);
  return new QueueWorkerError("NETWORK_ERROR", `could not reach ${url}: ${reason}`, { status: 0, cause });
}
