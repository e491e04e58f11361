/**
 * POST /api/v1/tasks/complete: a node posts a signed result (or an error report) for a task it
 * holds. POST /api/v1/tasks/complete-batch posts several in one signed request; each result is
 * checked and accepted on its own, exactly as the single route would, and refused ones do not
 * sink the others (the accepted ones share one SQL commit: tasks/results.ts acceptResults).
 */
import { Hono } from 'hono';
import {
  completeBatchRequest,
  completeTaskRequest,
  type CompleteOutcome,
  type TaskStatus,
} from '../../../protocol/index.js';
import { nodeAuth } from '../../auth/index.js';
import { ApiError } from '../../errors.js';
import { acceptResult, acceptResults } from '../../tasks/index.js';
import { IllegalTransitionError } from '../../tasks/index.js';
import type { Env } from '../env.js';
import { defaultLimit } from '../limits.js';
import { corePaths } from '../openapi-core.js';
import { doc, valid } from '../openapi-doc.js';
import { ok } from '../respond.js';

/** Completion routes. */
export const complete = new Hono<Env>()
  .post(
    '/api/v1/tasks/complete',
    defaultLimit,
    doc('tasks', corePaths['/api/v1/tasks/complete'].post),
    nodeAuth(),
    valid('json', completeTaskRequest),
    async (c) => {
      // c.get, not c.var: hono's c.var copies every variable into a new object on each read.
      const s = c.get('services');
      const task = await acceptResult(s, c.get('node'), c.req.valid('json'));
      // A node at its in-flight limit may be long-polling: its freed slot can take the next task now.
      s.pending.notify();
      return ok(c, {
        task_id: task.task_id,
        status: task.status,
        output_hash: task.output_hash,
        attempts: task.attempts,
      });
    },
  )
  .post(
    '/api/v1/tasks/complete-batch',
    defaultLimit,
    doc('tasks', corePaths['/api/v1/tasks/complete-batch'].post),
    nodeAuth(),
    valid('json', completeBatchRequest),
    async (c) => {
      const s = c.get('services');
      const bodies = c.req.valid('json').results;
      const accepted = await acceptResults(s, c.get('node'), bodies);
      const results = accepted.map((r, i): CompleteOutcome => {
        const task_id = bodies[i].task_id;
        if (r instanceof ApiError)
          return { task_id, success: false, http_status: r.status, code: r.code, error: r.message };
        if (r instanceof IllegalTransitionError)
          return { task_id, success: false, http_status: 409, code: 'task_conflict', error: r.message };
        if (r instanceof Error) throw r;
        return { task_id: r.task_id, success: true, status: r.status as TaskStatus };
      });
      s.pending.notify();
      return ok(c, { results });
    },
  );
