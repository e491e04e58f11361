/** The signer's one error type: a machine code, the HTTP status it maps to, and a message a user can act on. */

/** Error codes and their HTTP statuses. */
export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  too_many_requests: 429,
  unavailable: 503,
  internal: 500,
  gateway_timeout: 504,
  /** The node key has no active bond in the escrow contract (none, unbonding or slashed): bond a stake, then register. */
  node_not_bonded: 403,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

/** Thrown anywhere in the signer; the HTTP layer turns it into `{success: false, error}` with its status. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The HTTP status of this error. */
  get status(): (typeof ERROR_STATUS)[ErrorCode] {
    return ERROR_STATUS[this.code];
  }
}
