/** Every error code of the API, and the one place that maps each to its HTTP status. */
export const ERROR_STATUS = {
  INVALID_REQUEST: 400,
  INVALID_JOB_TYPE: 400,
  UNKNOWN_QUEUE: 400,
  UNAUTHORIZED: 401,
  JOB_NOT_FOUND: 404,
  NOT_FOUND: 404,
  JOB_ID_CONFLICT: 409,
  JOB_NOT_CANCELLABLE: 409,
  JOB_NOT_INTERRUPTED: 409,
  JOB_NOT_RETRYABLE: 409,
  INVALID_RESUME: 400,
  PAYLOAD_TOO_LARGE: 413,
  QUEUE_FULL: 429,
  INTERNAL_ERROR: 500,
  NOT_READY: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** An error the client caused or must hear about; app.onError turns it into the envelope. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "ApiError";
  }

  get status(): (typeof ERROR_STATUS)[ErrorCode] {
    return ERROR_STATUS[this.code];
  }
}
