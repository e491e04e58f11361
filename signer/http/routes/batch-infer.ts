/**
 * POST /api/v1/models/{model}/batch-infer: several OIP requests for one model in one call (at
 * most `inference.max_batch`), queued together (all or none) and answered in order, each with its
 * own success or error. Each request of the batch spends one of the token's per-minute rate and
 * monthly quota, all or none (a batch that does not fit is a 429 that spends nothing), and is
 * metered as its own usage row. Not escrowed on chain.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { ApiError } from '../../errors.js';
import { outcomeOf } from '../../inference/index.js';
import { meterBatch } from '../../inference/index.js';
import { queueRequests } from '../../inference/index.js';
import { spendRequests, tokenAuth } from '../../tokens/index.js';
import type { Env } from '../env.js';
import { doc, valid } from '../openapi-doc.js';
import { inferencePaths } from '../openapi-inference.js';
import { ok } from '../respond.js';
import { inferenceBodyLimit, meterRefusals, modelName, oipRequestFields, pathModel, requestOptions } from './infer.js';

/** Body of POST /api/v1/models/{model}/batch-infer. */
export const batchBody = z
  .object({
    requests: z.array(z.object(oipRequestFields).strict()).min(1, 'send at least one request'),
    ...requestOptions,
  })
  .strict();

/** Batch inference route. */
export const batchInfer = new Hono<Env>().post(
  '/api/v1/models/:model/batch-infer',
  inferenceBodyLimit,
  doc('inference', inferencePaths['/api/v1/models/{model}/batch-infer'].post),
  // The guard checks the token and the model but spends nothing: the batch spends one per request
  // once its size is known (and valid), so that 32 requests cost 32, not 1.
  tokenAuth(pathModel, { count: false }),
  meterRefusals(pathModel),
  valid('param', z.object({ model: modelName })),
  valid('json', batchBody),
  async (c) => {
    const s = c.var.services;
    const body = c.req.valid('json');
    const max = s.config.inference.max_batch;
    if (body.requests.length > max) {
      throw new ApiError(
        'bad_request',
        `body requests: at most ${max} requests per batch (inference.max_batch), got ${body.requests.length}; split the batch`,
      );
    }
    spendRequests(c, body.requests.length);
    const { model, tasks } = await queueRequests(
      s,
      c.req.valid('param').model,
      body.requests.map((r) => ({ inputs: r.inputs })),
      body,
      { tokenId: c.var.token.id, requestId: c.var.requestId },
      true,
    );
    const ended = await Promise.all(tasks.map((t) => s.inference.finished(t.task_id)));
    const results = ended.map((task) => {
      const o = outcomeOf(task);
      if (o.kind === 'done') return { success: true as const, data: o.result, error: null, status: 200 };
      if (o.kind === 'waiting') throw new Error(`task ${task.task_id} woke its caller while ${o.status}`);
      return {
        success: false as const,
        data: { task_id: task.task_id, status: o.status },
        error: o.message,
        status: o.httpStatus,
      };
    });
    meterBatch(s, ended, { request_id: c.var.requestId, token_id: c.var.token.id });
    return ok(c, { model: model.name, version: model.version, results });
  },
);
