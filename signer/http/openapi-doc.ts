/**
 * What a route declaration adds to the OpenAPI document (hono-openapi reads it from the route's chain
 * when openapi.ts generates the document from app.routes): `doc` gives the operation its tag, summary,
 * security and responses, and `valid` validates a request part with a zod schema and documents it.
 * A validation failure is thrown as the signer's ApiError, so the wire keeps the envelope and its code.
 */
import type { MiddlewareHandler, ValidationTargets } from 'hono';
import { describeRoute, resolver, validator, type DescribeRouteOptions } from 'hono-openapi';
import { z } from 'zod';
import { envelope } from '../../protocol/index.js';
import { ApiError } from '../errors.js';
import { describeIssues } from './respond.js';

/** The tags of the document, in the order the interactive docs list them. */
export const TAGS = {
  health: 'Liveness of the signer',
  nodes: 'Node registration, heartbeats and task pulls (signed by the node key)',
  tasks: 'Results from nodes, and task status and results for requesters',
  inputs: 'Content-addressed input blobs',
  models: 'Model artifacts (.onnx) by sha256',
  inference: 'Direct inference for API-token holders',
  oip: 'Open Inference Protocol (KServe v2): its own shapes, errors as {error}',
  accounts: 'Prepaid accounts: requests, quotes, due receipts and spend authorizations',
  periods: 'Settlement periods, receipt proofs and payee vouchers',
  admin: "The operator console's JSON API (admin session)",
  console: "The operator console's HTML pages",
  stats: 'Queue and settlement statistics, and Prometheus metrics',
  docs: 'This document and its interactive page',
} as const;
export type Tag = keyof typeof TAGS;

/** A JSON content object whose schema is generated from `schema` (its input form). */
export const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema: resolver(schema) } } });

/** The envelope of a refusal: `error` says what to fix, `code` is the stable reason (signer/errors.ts). */
export const errorEnvelope = z.object({
  success: z.literal(false),
  data: z.unknown(),
  error: z.string(),
  code: z.string(),
});

/** A response with the envelope `{success, data, error, code}` around `data`. */
export const reply = (description: string, data: z.ZodType = z.unknown()) => ({ description, ...json(envelope(data)) });

/** The 400 every validated route may answer (plain JSON Schema: the generator copies it into each operation). */
export const invalidInput = {
  description: 'Invalid input: `error` names the field and the fix, `code` the reason',
  content: { 'application/json': { schema: z.toJSONSchema(errorEnvelope) } },
};

const OIP_ERROR = {
  description: "An error, in the protocol's shape {error}",
  ...json(z.object({ error: z.string() })),
};

/** A console page or form post: HTML, or a 303 redirect (to the login page, or back with a flash message). */
export const page = (summary: string): OperationDoc => ({
  summary,
  security: [{ adminSession: [] }],
  responses: {
    200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } },
    303: { description: 'Redirect' },
  },
});

/** An operation as the docs modules (openapi-*.ts) write it: OpenAPI fields, schemas as resolver() or JSON Schema. */
export type OperationDoc = Record<string, unknown> & { responses?: Record<string, unknown> };

/**
 * The operation's documentation, as the route's middleware: its tag, `spec` (summary, security,
 * responses...), and `body`, the schema of a JSON body the route parses itself (a validated body is
 * documented by `valid`). Every operation gets an error response in its family's shape.
 */
export function doc(tag: Tag, spec: OperationDoc = {}, body?: z.ZodType): MiddlewareHandler {
  const fallback =
    tag === 'oip' ? { default: OIP_ERROR } : { default: { description: 'A refusal', ...json(errorEnvelope) } };
  const responses = { ...fallback, ...(spec.responses ?? { 200: reply('Success') }) };
  const requestBody = body ? { required: true, ...json(body) } : spec.requestBody;
  return describeRoute({
    ...spec,
    tags: [tag],
    responses,
    ...(requestBody ? { requestBody } : {}),
  } as DescribeRouteOptions);
}

/** zod validation of one request part, documented in the OpenAPI document; a failure is a 400 ApiError naming the field. */
export function valid<T extends z.ZodType, Target extends keyof ValidationTargets>(target: Target, schema: T) {
  return validator(target, schema, (result) => {
    if (!result.success)
      throw new ApiError('bad_request', describeIssues(new z.ZodError(result.error as z.core.$ZodIssue[]), target));
  });
}
