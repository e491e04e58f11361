/** The signer's one error type: a machine code, the HTTP status it maps to, and a message a user can act on. */
import { ERROR_STATUS, type ErrorCode } from '../protocol/index.js';

export { ERROR_STATUS, type ErrorCode };

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
