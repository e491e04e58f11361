/**
 * L2 (sensitive) inputs in clear text go only to nodes an admin marked trusted (inference_nodes.trusted):
 * their tasks get trusted_only = 1, which the scheduler honours (signer/tasks/scheduler.ts). An encrypted
 * input is not clear text (only the node it is sealed to reads it), so this never applies to it.
 */
import type { DataLevel, PrivacyMode } from '../../protocol/index.js';
import { prepared, type SignerDatabase } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { PolicyGuard } from './index.js';

/** True when a node marked trusted that the scheduler leases to (online or busy) serves the artifact. */
export function trustedNodeServes(store: SignerDatabase, artifactHash: string): boolean {
  return (
    prepared(
      store.sqlite,
      "select 1 from inference_nodes n where n.trusted = 1 and n.status in ('online', 'busy') and exists (select 1 from json_each(n.supported_models) m where m.value = ?) limit 1",
    ).get(artifactHash) !== undefined
  );
}

/** True when a task at `level` with an input in mode `privacy` may only be leased to trusted nodes. */
export function trustedOnlyTask(guard: PolicyGuard, level: DataLevel, privacy: PrivacyMode): boolean {
  return guard.enabled && level === 'L2' && privacy !== 'encrypted';
}

/**
 * For a clear-text input about to be accepted at `level` (before anything is paid or queued):
 * whether its task is trusted-only. Throws policy_needs_encryption when the config takes no L2
 * clear text, and policy_needs_trusted_node when no trusted node serving the model is online,
 * rather than accept a task that no node may run.
 */
export function clearTextRoute(
  store: SignerDatabase,
  guard: PolicyGuard,
  level: DataLevel,
  model: { name: string; artifactHash: string },
): boolean {
  if (!trustedOnlyTask(guard, level, 'standard')) return false;
  if (guard.l2ClearText === 'refuse')
    throw new ApiError(
      'policy_needs_encryption',
      `model "${model.name}" takes L2 (sensitive) inputs, and this signer sends no L2 input in clear text to any node (guard.l2_clear_text = "refuse"): send it encrypted`,
    );
  if (!trustedNodeServes(store, model.artifactHash.toLowerCase()))
    throw new ApiError(
      'policy_needs_trusted_node',
      `model "${model.name}" takes L2 (sensitive) inputs, which go in clear text only to nodes the operator marked trusted, and none serving it is online now: retry later, or send the input encrypted`,
    );
  return true;
}

/** Marks tasks trusted-only; called inside the transaction that creates them, so no node can lease one before. */
export function markTrustedOnly(store: SignerDatabase, taskIds: readonly string[]): void {
  const mark = prepared(store.sqlite, 'update inference_tasks set trusted_only = 1 where task_id = ?');
  for (const id of taskIds) mark.run(id);
}
