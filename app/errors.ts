// The error catalogue: every error a client can see, with its status and whether retrying the same
// request later can succeed. Services throw ApiError; one HTTP middleware turns it into the body
// {"error","message","requestId"} (http/errors.ts).

export const ERRORS = {
  invalid_json: { status: 400, temporary: false },
  invalid_request: { status: 400, temporary: false },
  cursor_ahead: { status: 400, temporary: false },
  unauthorized: { status: 401, temporary: false },
  forbidden: { status: 403, temporary: false },
  not_found: { status: 404, temporary: false },
  method_not_allowed: { status: 405, temporary: false },
  dedup_conflict: { status: 409, temporary: false },
  cursor_expired: { status: 410, temporary: false },
  payload_too_large: { status: 413, temporary: false },
  unsupported_media_type: { status: 415, temporary: false },
  rate_limited: { status: 429, temporary: true },
  too_many_connections: { status: 429, temporary: true },
  internal: { status: 500, temporary: true },
  unavailable: { status: 503, temporary: true },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra fields merged into the body, e.g. {oldest} for cursor_expired. */
    readonly extra: Record<string, unknown> = {},
    /** Seconds for a Retry-After header. */
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.status = ERRORS[code].status;
  }
}

export const invalid = (message: string) => new ApiError('invalid_request', message);
