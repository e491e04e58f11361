/**
 * GET /api/v1/periods, /api/v1/periods/{id} and /api/v1/periods/{id}/proof/{task_id}: the
 * prepaid settlements the signer made, public (data availability: every account holder and node
 * can check the leaves a published root commits to, and challenge one within the dispute window).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { listPeriods, periodDetail, periodProof } from '../../accounts/index.js';
import { ApiError } from '../../errors.js';
import type { Env } from '../env.js';
import { doc, valid } from '../openapi-doc.js';
import { periodPaths } from '../openapi-periods.js';
import { ok } from '../respond.js';

const listQuery = z.object({
  after: z.coerce.number().int().min(0, 'after must be a period id (0 or more)').default(0),
  limit: z.coerce.number().int().min(1).max(500, 'limit must be 1 to 500').default(50),
});
const idParam = z.object({ id: z.coerce.number().int().min(1, 'id must be a period id (1 or more)') });
const proofParam = idParam.extend({
  task_id: z.string().regex(/^[0-9]{1,40}$/, 'task_id must be a prepaid task id (a decimal number)'),
});

/** Period routes. */
export const periods = new Hono<Env>()
  .get('/api/v1/periods', doc('periods', periodPaths['/api/v1/periods'].get), valid('query', listQuery), (c) => {
    const { after, limit } = c.req.valid('query');
    const list = listPeriods(c.var.services, after, limit);
    return ok(c, { periods: list, next_after: list.length === limit ? list.at(-1)!.id : null });
  })
  .get('/api/v1/periods/:id', doc('periods', periodPaths['/api/v1/periods/{id}'].get), valid('param', idParam), (c) => {
    const { id } = c.req.valid('param');
    const detail = periodDetail(c.var.services, id);
    if (!detail) throw new ApiError('not_found', `period ${id} does not exist; list periods with GET /api/v1/periods`);
    return ok(c, detail);
  })
  .get(
    '/api/v1/periods/:id/proof/:task_id',
    doc('periods', periodPaths['/api/v1/periods/{id}/proof/{task_id}'].get),
    valid('param', proofParam),
    (c) => {
      const { id, task_id } = c.req.valid('param');
      const proof = periodProof(c.var.services, id, task_id);
      if (!proof)
        throw new ApiError(
          'not_found',
          `period ${id} has no leaf for task ${task_id}; GET /api/v1/periods/${id} lists its task_ids`,
        );
      return ok(c, proof);
    },
  );
