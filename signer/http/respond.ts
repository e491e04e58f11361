/** The seed service's envelope `{success, data, error}`, and zod issues as messages that name the field. */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ValidationTargets } from 'hono';
import type { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from '../errors.js';

/** A success body. */
export function ok<T>(c: Context, data: T, status: ContentfulStatusCode = 200) {
  return c.json({ success: true as const, data, error: null }, status);
}

/** A failure body: `code` is the stable reason (protocol/errors `ErrorCode`) beside the seed's fields. */
export function fail(c: Context, code: ErrorCode, error: string, status: ContentfulStatusCode = ERROR_STATUS[code]) {
  return c.json({ success: false as const, data: null, error, code }, status);
}

// The code of a status for refusals that come with a status only (hono's HTTPException): the generic one,
// never a specific code that happens to share the status (410 is not always result_withheld).
const GENERIC: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable',
  429: 'too_many_requests',
  503: 'unavailable',
  504: 'gateway_timeout',
};

/** The generic code of an HTTP status. */
export function codeOfStatus(status: number): ErrorCode {
  return GENERIC[status] ?? (status >= 500 ? 'internal' : 'bad_request');
}

const WHERE: Partial<Record<keyof ValidationTargets, string>> = {
  json: 'body',
  query: 'query parameter',
  param: 'path parameter',
  header: 'header',
};

/** "body.field: what is wrong" for each zod issue, joined. */
export function describeIssues(error: z.core.$ZodError, target: keyof ValidationTargets): string {
  return error.issues
    .slice(0, 5)
    .map((i) => {
      const path = i.path.map(String).join('.');
      return `${WHERE[target] ?? target}${path ? ` ${path}` : ''}: ${i.message}`;
    })
    .join('; ');
}
