/**
 * POST /api/v1/tasks/complete: a node posts a signed result (or an error report) for a task it
 * holds. POST /api/v1/tasks/complete-batch posts several in one signed request; each result is
 * checked and accepted on its own, exactly as the single route would, and refused ones do not
 * sink the others.
 */
import { Hono } from 'hono';
import { completeBatchRequest, completeTaskRequest, type CompleteOutcome, type TaskStatus } from '../../../protocol/index.js';
import { nodeAuth } from '../../auth/index.js';
import { ApiError } from '../../errors.js';
import { acceptResult } from '../../tasks/results.js';
import { IllegalTransitionError } from '../../tasks/state.js';
import type { Env } from '../env.js';
import { ok, valid } from '../respond.js';

/** Completion routes. */
export const complete = new Hono<Env>()
  .post('/api/v1/tasks/complete', nodeAuth(), valid('json', completeTaskRequest), async (c) => {
    const task = await acceptResult(c.var.services, c.var.node, c.req.valid('json'));
    // A node at its in-flight limit may be long-polling: its freed slot can take the next task now.
    c.var.services.pending.notify();
    return ok(c, { task_id: task.task_id, status: task.status, output_hash: task.output_hash, attempts: task.attempts });
  })
  .post('/api/v1/tasks/complete-batch', nodeAuth(), valid('json', completeBatchRequest), async (c) => {
    const s = c.var.services;
    const results = await Promise.all(
      c.req.valid('json').results.map(async (body): Promise<CompleteOutcome> => {
        try {
          const task = await acceptResult(s, c.var.node, body);
          return { task_id: task.task_id, success: true, status: task.status as TaskStatus };
        } catch (err) {
          if (err instanceof ApiError) return { task_id: body.task_id, success: false, http_status: err.status, error: err.message };
          if (err instanceof IllegalTransitionError) return { task_id: body.task_id, success: false, http_status: 409, error: err.message };
          throw err;
        }
      }),
    );
    s.pending.notify();
    return ok(c, { results });
  });
