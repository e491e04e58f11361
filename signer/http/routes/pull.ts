/**
 * GET /api/v1/nodes/{node_id}/tasks?wait=seconds: leases one task to the signed-in node, or
 * waits up to `wait` seconds for one; 204 when there is none.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { nodeId, type PrivacyMode, type PulledTask } from '../../../protocol/index.js';
import { nodeAuth } from '../../auth/index.js';
import { ApiError } from '../../errors.js';
import { leaseNext } from '../../tasks/scheduler.js';
import type { TaskRow } from '../../tasks/state.js';
import type { Services } from '../../services.js';
import type { Env } from '../env.js';
import { ok, valid } from '../respond.js';

const query = z.object({ wait: z.coerce.number().int('must be whole seconds').min(0, 'must be 0 or more seconds').optional() }).strict();

/** The task as a node receives it. */
export function pulledView(s: Services, t: TaskRow): PulledTask {
  return {
    task_id: t.task_id,
    chain_task_id: t.chain_task_id,
    artifact_hash: t.artifact_hash,
    model: t.model_type,
    input_hash: t.input_hash,
    input_url: `/api/v1/inputs/${t.input_hash}`,
    privacy: t.privacy as PrivacyMode,
    priority: t.priority,
    lease_expires_at: t.lease_expires_at ?? 0,
    max_infer_time_ms: t.max_infer_time,
    escrow: s.escrow,
    chain_id: s.chainId,
  };
}

/** Pull route. */
export const pull = new Hono<Env>().get('/api/v1/nodes/:node_id/tasks', valid('param', z.object({ node_id: nodeId })), valid('query', query), nodeAuth(), async (c) => {
  const s = c.var.services;
  const node = c.var.node;
  if (c.req.valid('param').node_id !== node.node_id) throw new ApiError('forbidden', `path node_id "${c.req.valid('param').node_id}" is not the node that signed this request ("${node.node_id}")`);
  const max = s.config.server.max_wait_seconds;
  const wait = c.req.valid('query').wait ?? 0;
  if (wait > max) throw new ApiError('bad_request', `query parameter wait: at most ${max} seconds; poll again after that`);
  const until = Date.now() + wait * 1000;
  for (;;) {
    const fresh = s.store.sqlite.prepare('select status from inference_nodes where node_id = ?').get(node.node_id) as { status: string } | undefined;
    if (fresh?.status === 'offline') throw new ApiError('conflict', `node ${node.node_id} is offline (missed heartbeats); send a heartbeat with status "online" before pulling`);
    const task = fresh?.status === 'online' ? leaseNext(s, node.node_id) : null;
    if (task) {
      s.log.debug({ task_id: task.task_id, node_id: node.node_id }, 'task leased');
      return ok(c, pulledView(s, task));
    }
    const left = until - Date.now();
    if (left <= 0) return c.body(null, 204);
    // Wake on new work, but re-check at least every second: a task held back for a better node becomes ours with age.
    await s.pending.wait(Math.min(left, 1_000), c.req.raw.signal);
    if (c.req.raw.signal.aborted) return c.body(null, 204);
  }
});
