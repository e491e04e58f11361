/**
 * The node registry: registration bound to a key, heartbeats, the offline sweep, and the
 * per-node figures the scheduler weighs (reputation, latency, load).
 */
import { eq, ne, sql } from 'drizzle-orm';
import type { NodeStatus, RegisterNodeRequest } from '../../protocol/index.js';
import { inferenceNodes, prepared, type SignerDatabase } from '../db/index.js';
import { record, type Reputation } from './reputation.js';

export * from './reputation.js';
export * from './bonds.js';
export { setTrusted } from './trust.js';

/** A node row as stored. */
export type NodeRow = typeof inferenceNodes.$inferSelect;

/** Why a registration was refused: the id is bound to another key, the key to another id, or the registry is full. */
export class RegistrationError extends Error {
  constructor(
    message: string,
    readonly kind: 'key_conflict' | 'full',
  ) {
    super(message);
    this.name = 'RegistrationError';
  }
}

/** Reads a node. */
export function getNode(store: SignerDatabase, nodeId: string): NodeRow | undefined {
  return prepared(store.sqlite, 'select * from inference_nodes where node_id = ?').get(nodeId) as NodeRow | undefined;
}

/** Every node, by id. */
export function listNodes(store: SignerDatabase): NodeRow[] {
  return store.db.select().from(inferenceNodes).orderBy(inferenceNodes.node_id).all();
}

/**
 * Registers a node or refreshes its details. A node id stays bound to the first key that
 * registered it, and a key to one node id.
 */
export function registerNode(
  store: SignerDatabase,
  req: RegisterNodeRequest,
  maxNodes: number,
  now = Date.now(),
): { node: NodeRow; created: boolean } {
  return store.sqlite.transaction(() => {
    const existing = getNode(store, req.node_id);
    if (existing && existing.public_key !== req.public_key) {
      throw new RegistrationError(
        `node_id "${req.node_id}" is registered with another public key; choose another node_id or sign with the original key`,
        'key_conflict',
      );
    }
    const owner = store.db.select().from(inferenceNodes).where(eq(inferenceNodes.public_key, req.public_key)).get();
    if (owner && owner.node_id !== req.node_id) {
      throw new RegistrationError(
        `public_key is already registered as node "${owner.node_id}"; register with that node_id or a new key`,
        'key_conflict',
      );
    }
    const fields = {
      endpoint: req.endpoint,
      status: 'online' as NodeStatus,
      supported_models: JSON.stringify(req.supported_models),
      performance_score: req.performance_score,
      last_heartbeat: now,
      capabilities: req.capabilities ? JSON.stringify(req.capabilities) : null,
      gpu_memory_mb: req.capabilities?.gpu_memory_mb ?? 0,
      updated_at: now,
    };
    if (existing) {
      store.db.update(inferenceNodes).set(fields).where(eq(inferenceNodes.node_id, req.node_id)).run();
      return { node: { ...existing, ...fields }, created: false };
    }
    const count = store.db
      .select({ n: sql<number>`count(*)` })
      .from(inferenceNodes)
      .where(ne(inferenceNodes.status, 'offline'))
      .get()!.n;
    if (count >= maxNodes)
      throw new RegistrationError(`the signer accepts at most ${maxNodes} active nodes; try again later`, 'full');
    const row = { node_id: req.node_id, public_key: req.public_key, created_at: now, reputation_at: now, ...fields };
    // Another replica may register this id or key at the same moment. On PostgreSQL a row it committed
    // after this transaction's snapshot makes this insert a serialization failure (40001), not a unique
    // violation (a 500), so the transaction runs again and answers as a second request would. A row this
    // snapshot can see was found above, so nothing is skipped here (SQLite serializes writers).
    store.db.insert(inferenceNodes).values(row).onConflictDoNothing().run();
    return { node: getNode(store, req.node_id)!, created: true };
  })();
}

/** Records a heartbeat and the status the node reports. */
export function heartbeat(store: SignerDatabase, nodeId: string, status: NodeStatus, now = Date.now()): void {
  store.db
    .update(inferenceNodes)
    .set({ status, last_heartbeat: now, updated_at: now })
    .where(eq(inferenceNodes.node_id, nodeId))
    .run();
}

/** Marks nodes silent since `before` offline; returns their ids. */
export function markSilentNodesOffline(store: SignerDatabase, before: number, now = Date.now()): string[] {
  // Runs every sweep: SQL prepared once rather than built by drizzle each time.
  const rows = prepared(
    store.sqlite,
    "update inference_nodes set status = 'offline', updated_at = ? where status != 'offline' and last_heartbeat < ? returning node_id",
  ).all(now, before) as { node_id: string }[];
  return rows.map((r) => r.node_id);
}

function reputationOf(node: NodeRow): Reputation {
  return {
    successes: node.successes,
    failures: node.failures,
    at: node.reputation_at,
    lastFailureAt: node.last_failure_at,
  };
}

/** Records a task outcome against a node: reputation, latency average and task count. */
export function recordOutcome(
  store: SignerDatabase,
  nodeId: string,
  ok: boolean,
  latencyMs: number | null,
  halfLifeMs: number,
  now = Date.now(),
): void {
  const node = getNode(store, nodeId);
  if (!node) return;
  const rep = record(reputationOf(node), ok, now, halfLifeMs);
  // An EMA keeps "recent" latency without storing samples.
  const latency =
    latencyMs === null
      ? node.latency_ms
      : node.latency_ms === null
        ? latencyMs
        : node.latency_ms * 0.8 + latencyMs * 0.2;
  // Runs once per result: a prepared statement rather than a query built each time.
  prepared(
    store.sqlite,
    'update inference_nodes set successes = ?, failures = ?, reputation_at = ?, last_failure_at = ?, latency_ms = ?, task_count = ?, updated_at = ? where node_id = ?',
  ).run(
    rep.successes,
    rep.failures,
    rep.at,
    rep.lastFailureAt,
    latency,
    ok ? node.task_count + 1 : node.task_count,
    now,
    nodeId,
  );
}

/** The reputation fields of a node row. */
export { reputationOf };
