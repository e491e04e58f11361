/** The seed service's envelope `{success, data, error}` and zod validation that fails with actionable 400s. */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { zValidator } from '@hono/zod-validator';
import type { ValidationTargets } from 'hono';
import type { z } from 'zod';
import { ApiError, ERROR_STATUS } from '../errors.js';

/** A success body. */
export function ok<T>(c: Context, data: T, status: ContentfulStatusCode = 200) {
  return c.json({ success: true as const, data, error: null }, status);
}

/** A failure body; `code` is the stable reason (signer/errors.ts `ErrorCode`), beside the seed's fields. */
export function fail(c: Context, status: ContentfulStatusCode, error: string, code: string = codeOf(status)) {
  return c.json({ success: false as const, data: null, error, code }, status);
}

/** The generic code of an HTTP status (the first code mapped to it), for refusals that are not ApiErrors. */
function codeOf(status: number): string {
  for (const [code, s] of Object.entries(ERROR_STATUS)) if (s === status) return code;
  return status >= 500 ? 'internal' : 'bad_request';
}

const WHERE: Partial<Record<keyof ValidationTargets, string>> = { json: 'body', query: 'query parameter', param: 'path parameter', header: 'header' };

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

/** zod validation of one request part; failures become 400 ApiErrors naming the field. */
export function valid<T extends z.ZodType, Target extends keyof ValidationTargets>(target: Target, schema: T) {
  return zValidator(target, schema, (result) => {
    if (!result.success) throw new ApiError('bad_request', describeIssues(result.error, target));
  });
}
