/**
 * Direct inference for API-token holders (not escrowed on chain):
 *  - POST /api/v1/models/{model}/infer: one OIP request; waits for the node's signed result
 *    (200), or with `?async=1` answers 202 with the result URL at once;
 *  - GET /api/v1/inference/{task_id}: that result for the same token: 202 not ready, 200 done,
 *    422 failed, 504 timed out, 404 unknown.
 * The request is a task in the signer's queue, run by the same scheduler and node agents.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { oipTensorSchema } from '../../../protocol/index.js';
import { ApiError } from '../../errors.js';
import { directContext, meter, outcomeOf, QueueFullError, type Outcome } from '../../inference/index.js';
import { queueRequests } from '../../inference/index.js';
import type { ModelHead } from '../../catalog/index.js';
import { getTask, type TaskRow } from '../../tasks/index.js';
import { sealedNodes } from '../../privacy/index.js';
import { tokenAuth } from '../../tokens/index.js';
import type { Env } from '../env.js';
import { limitBody } from '../limits.js';
import { doc, valid } from '../openapi-doc.js';
import { inferencePaths } from '../openapi-inference.js';
import { describeIssues, ok } from '../respond.js';

/**
 * The answer to a queued direct request: 202 with its result URL at once when `asyncMode` asks, else
 * its outcome once a node answered (or it failed or timed out).
 */
export async function answerQueued(
  c: Context<Env>,
  model: ModelHead,
  task: TaskRow,
  asyncMode: string | undefined,
): Promise<Response> {
  if (asyncMode === '1' || asyncMode === 'true') {
    const url = `/api/v1/inference/${task.task_id}`;
    c.header('Location', url);
    return ok(
      c,
      { task_id: task.task_id, model: model.name, version: model.version, status: task.status, result_url: url },
      202,
    );
  }
  const outcome = outcomeOf(await c.var.services.inference.finished(task.task_id));
  if (outcome.kind === 'error') throw outcomeError(outcome);
  if (outcome.kind === 'waiting') throw new Error(`task ${task.task_id} woke its caller while ${outcome.status}`);
  return ok(c, outcome.result);
}

/** A registry model name, as a path parameter. */
export const modelName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, 'must be a model name (letters, digits, ".", "_", "-")');

/** What a direct request may ask besides its inputs. */
export const requestOptions = {
  priority: z
    .number()
    .int()
    .min(0, 'must be 0 (lowest) to 9 (highest)')
    .max(9, 'must be 0 (lowest) to 9 (highest)')
    .optional(),
  timeout_ms: z.number().int().min(1, 'must be at least 1 ms').optional(),
};

/** The inputs of one request, in the Open Inference Protocol's request form. */
export const oipRequestFields = {
  id: z.string().max(256).optional(),
  inputs: z.array(oipTensorSchema).min(1, 'at least one input tensor').max(64, 'at most 64 input tensors'),
  // Accepted for OIP clients; every output is returned, since the signed output hash covers them all.
  outputs: z.array(z.object({ name: z.string(), parameters: z.record(z.string(), z.unknown()).optional() })).optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
};

/** Body of POST /api/v1/models/{model}/infer. */
export const inferBody = z.object({ ...oipRequestFields, ...requestOptions }).strict();
const query = z.object({ async: z.enum(['0', '1', 'true', 'false'], 'must be 1 or 0').optional() }).strict();

/** A JSON body validated by `schema`, with its bytes as sent (the input blob of a single request). */
export async function jsonBody<T extends z.ZodType>(
  c: Context<Env>,
  schema: T,
): Promise<{ value: z.infer<T>; bytes: Uint8Array }> {
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ApiError('bad_request', `body is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ApiError('bad_request', describeIssues(parsed.error, 'json'));
  return { value: parsed.data, bytes };
}

/** The body limit of the routes that carry inference inputs (here, batch-infer.ts, oip.ts): inference.max_body_bytes. */
export const inferenceBodyLimit = limitBody(
  (c) => c.var.services.config.inference.max_body_bytes,
  (max) => `inference request is larger than ${max} bytes (inference.max_body_bytes); send fewer or smaller inputs`,
);

/** A failed or timed-out request's error; it was metered when its task ended. */
export class OutcomeError extends ApiError {}

/** The error a finished-but-unsuccessful outcome answers with. */
export function outcomeError(o: Extract<Outcome, { kind: 'error' }>): OutcomeError {
  return new OutcomeError(o.status === 'timeout' ? 'gateway_timeout' : 'unprocessable', o.message);
}

/**
 * After the token guard: a request refused before it reached the queue (bad input, unknown
 * model, full queue) is metered as rejected, and a full queue says when to retry.
 */
export function meterRefusals(model: (c: Context<Env>) => string): MiddlewareHandler<Env> {
  return async (c, next) => {
    await next();
    const err = c.error;
    if (!(err instanceof ApiError) || err instanceof OutcomeError) return;
    if (err instanceof QueueFullError) c.header('Retry-After', String(err.retryAfterSeconds));
    const s = c.var.services;
    meter(s, {
      requestId: c.var.requestId,
      tokenId: c.var.token?.id ?? null,
      model: model(c),
      taskId: null,
      status: 'rejected',
      httpStatus: err.status,
      items: 1,
      latencyMs: null,
      error: err.message,
      at: Date.now(),
    });
  };
}

/** The model a /api/v1/models/{model}/... request names. */
export const pathModel = (c: Context<Env>): string => c.req.param('model') ?? '';

/** Direct inference routes. */
export const infer = new Hono<Env>()
  .post(
    '/api/v1/models/:model/infer',
    inferenceBodyLimit,
    doc('inference', inferencePaths['/api/v1/models/{model}/infer'].post, inferBody),
    tokenAuth(pathModel),
    meterRefusals(pathModel),
    valid('param', z.object({ model: modelName })),
    valid('query', query),
    async (c) => {
      const s = c.var.services;
      const { value: body, bytes } = await jsonBody(c, inferBody);
      const { model, tasks } = await queueRequests(
        s,
        c.req.valid('param').model,
        [{ inputs: body.inputs, body: bytes }],
        body,
        { tokenId: c.var.token.id, requestId: c.var.requestId },
      );
      return answerQueued(c, model, tasks[0]!, c.req.valid('query').async);
    },
  )
  .get(
    '/api/v1/inference/:task_id',
    doc('inference', inferencePaths['/api/v1/inference/{task_id}'].get),
    valid('param', z.object({ task_id: z.string().regex(/^\d{1,40}$/, 'must be a task id from the 202 answer') })),
    // The guard checks the token against the task's model; an unknown task is the handler's 404.
    // Polling is not a new inference: it does not spend the token's rate or quota.
    tokenAuth((c) => getTask(c.var.services.store, c.req.param('task_id') ?? '')?.model_type ?? null, { count: false }),
    (c) => {
      const id = c.req.valid('param').task_id;
      const task = getTask(c.var.services.store, id);
      // Another token's task is as unknown as a missing one: ids are not to be probed.
      if (task?.source !== 'direct' || directContext(task).token_id !== c.var.token.id) {
        throw new ApiError(
          'not_found',
          `no inference request ${id} for this token; use the task_id from the 202 answer of POST /api/v1/models/{model}/infer?async=1`,
        );
      }
      const outcome = outcomeOf(task);
      if (outcome.kind === 'waiting') {
        // Encrypted: whether the caller must seal its input to other nodes (those it sealed to went away).
        const sealed = task.privacy === 'encrypted' ? sealedNodes(c.var.services, task) : null;
        return ok(
          c,
          {
            task_id: id,
            model: task.model_type,
            status: outcome.status,
            ...(sealed ? { sealed_nodes: sealed.nodes, needs_reseal: sealed.needsReseal } : {}),
          },
          202,
        );
      }
      if (outcome.kind === 'error') throw outcomeError(outcome);
      return ok(c, outcome.result);
    },
  );
