/** POST /api/v1/nodes/heartbeat: signed by the node; keeps it online and its leases alive. */
import { Hono } from 'hono';
import { heartbeatRequest } from '../../../protocol/index.js';
import { nodeAuth } from '../../auth/index.js';
import { ApiError } from '../../errors.js';
import { heartbeat as recordHeartbeat } from '../../nodes/index.js';
import type { Env } from '../env.js';
import { defaultLimit } from '../limits.js';
import { corePaths } from '../openapi-core.js';
import { doc, valid } from '../openapi-doc.js';
import { ok } from '../respond.js';

/** Heartbeat route. */
export const heartbeat = new Hono<Env>().post(
  '/api/v1/nodes/heartbeat',
  defaultLimit,
  doc('nodes', corePaths['/api/v1/nodes/heartbeat'].post),
  nodeAuth(),
  valid('json', heartbeatRequest),
  (c) => {
    const s = c.var.services;
    const body = c.req.valid('json');
    const node = c.var.node;
    if (body.node_id !== node.node_id)
      throw new ApiError(
        'forbidden',
        `body node_id "${body.node_id}" is not the node that signed this request ("${node.node_id}")`,
      );
    const now = Date.now();
    recordHeartbeat(s.store, node.node_id, body.status, now);
    if (body.status === 'online' && node.status !== 'online') s.pending.notify();
    return ok(c, {
      node_id: node.node_id,
      status: body.status,
      last_heartbeat: now,
      heartbeat_interval_ms: s.config.network.heartbeat_interval_ms,
    });
  },
);
