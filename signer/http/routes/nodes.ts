/** GET /api/v1/nodes: every registered node with its load and reputation. */
import { Hono } from 'hono';
import { eq, sql } from 'drizzle-orm';
import { inferenceTasks } from '../../db/index.js';
import { listNodes, reputationOf, reputationScore, type NodeRow } from '../../nodes/index.js';
import type { Env } from '../env.js';
import { corePaths } from '../openapi-core.js';
import { doc } from '../openapi-doc.js';
import { ok } from '../respond.js';

/** A node as the API shows it (the seed's fields first). */
export function nodeView(n: NodeRow, extra: { in_flight?: number; reputation?: number } = {}) {
  return {
    node_id: n.node_id,
    endpoint: n.endpoint,
    public_key: n.public_key,
    status: n.status,
    supported_models: JSON.parse(n.supported_models) as string[],
    performance_score: n.performance_score,
    last_heartbeat: n.last_heartbeat,
    capabilities: n.capabilities ? JSON.parse(n.capabilities) : null,
    gpu_memory_mb: n.gpu_memory_mb,
    task_count: n.task_count,
    latency_ms: n.latency_ms,
    ...extra,
  };
}

/** Node list route. */
export const nodes = new Hono<Env>().get('/api/v1/nodes', doc('nodes', corePaths['/api/v1/nodes'].get), (c) => {
  const s = c.var.services;
  const now = Date.now();
  const load = new Map(
    s.store.db
      .select({ node: inferenceTasks.inference_node_id, n: sql<number>`count(*)` })
      .from(inferenceTasks)
      .where(eq(inferenceTasks.status, 'in_progress'))
      .groupBy(inferenceTasks.inference_node_id)
      .all()
      .map((r) => [r.node, r.n]),
  );
  const half = s.config.scheduler.reputation_half_life_ms;
  return ok(
    c,
    listNodes(s.store).map((n) =>
      nodeView(n, {
        in_flight: load.get(n.node_id) ?? 0,
        reputation: Number(reputationScore(reputationOf(n), now, half).toFixed(4)),
      }),
    ),
  );
});
