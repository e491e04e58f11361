/** POST /api/v1/tasks/complete: a node posts a signed result (or an error report) for a task it holds. */
import { Hono } from 'hono';
import { completeTaskRequest } from '../../../protocol/index.js';
import { nodeAuth } from '../../auth/index.js';
import { acceptResult } from '../../tasks/results.js';
import type { Env } from '../env.js';
import { ok, valid } from '../respond.js';

/** Completion route. */
export const complete = new Hono<Env>().post('/api/v1/tasks/complete', nodeAuth(), valid('json', completeTaskRequest), async (c) => {
  const task = await acceptResult(c.var.services, c.var.node, c.req.valid('json'));
  // A node at its in-flight limit may be long-polling: its freed slot can take the next task now.
  c.var.services.pending.notify();
  return ok(c, { task_id: task.task_id, status: task.status, output_hash: task.output_hash, attempts: task.attempts });
});
