/**
 * Which nodes may run L2 (sensitive) inputs in clear text: those an admin marked trusted
 * (inference_nodes.trusted). The flag belongs to the node id, which stays bound to the key that
 * registered it, so a re-registration keeps it and another key cannot take it over.
 */
import { eq } from 'drizzle-orm';
import { inferenceNodes, type SignerDatabase } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { NodeRow } from './index.js';

/**
 * Marks a node trusted or not; returns its row. A task already leased to it runs to its end; from
 * the next pull, an untrusted node gets no trusted-only task. 404 for a node that never registered.
 */
export function setTrusted(store: SignerDatabase, nodeId: string, trusted: boolean, now = Date.now()): NodeRow {
  const row = store.db
    .update(inferenceNodes)
    .set({ trusted: trusted ? 1 : 0, updated_at: now })
    .where(eq(inferenceNodes.node_id, nodeId))
    .returning()
    .get();
  if (!row)
    throw new ApiError('not_found', `no registered node "${nodeId.slice(0, 80)}"; a node appears once it registers`);
  return row;
}
