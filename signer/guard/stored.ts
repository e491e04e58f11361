/**
 * The level a stored input was read at (input_blobs.guard_level), and the guard on a chain task
 * whose input was stored before it. An upload names its model (`?model=`) itself, and before its
 * task is on chain nothing holds it to that: a requester could upload for an L0 model and then
 * submit the task for an L1 or L2 one. So when a clear-text chain task arrives and its input is
 * already stored at a laxer level than the task's model (or was never read: guard off then, or a
 * direct request's body), the input is read again at the task's level (hashed.ts: its hash is on
 * chain, so a finding that level would mask is refused). A refusal fails the task before any node
 * is offered it, with `policy_refused: …` as its error (rule and field path, never the value);
 * the requester reclaims its fee after the deadline as for any failed task. The other order (task
 * first, upload after) is guarded at upload, at the waiting tasks' levels (uploads.ts). The same
 * check runs again when a node fetches a chain task's input (routes/inputs.ts), for an upload on
 * one replica that raced the ingest on another, or a model level raised after ingest.
 *
 * Levels compare as text: 'L0' < 'L1' < 'L2' (DATA_LEVELS order), in SQLite and PostgreSQL alike.
 */
import { DATA_LEVELS, type DataLevel, type PrivacyMode } from '../../protocol/index.js';
import { prepared, type SignerDatabase } from '../db/index.js';
import { ApiError } from '../errors.js';
import { guardHashedInput } from './hashed.js';
import type { PolicyGuard } from './index.js';

/** True when `read` (the level an input was read at; null: never) is laxer than `level`. */
export function readLaxer(read: string | null, level: DataLevel): boolean {
  const at = DATA_LEVELS.indexOf(read as DataLevel);
  return at < 0 || at < DATA_LEVELS.indexOf(level);
}

/** Records that a stored input was read at `level`, unless it was already read at a stricter one. */
export function recordGuardLevel(store: SignerDatabase, sha256: string, level: DataLevel): void {
  prepared(
    store.sqlite,
    'update input_blobs set guard_level = ? where sha256 = ? and (guard_level is null or guard_level < ?)',
  ).run(level, sha256, level);
}

/** A chain task as ingest sees it, before any node is offered it. */
export interface IngestedTask {
  taskId: string;
  model: string;
  inputHash: string;
  privacy: PrivacyMode;
}

/**
 * Reads a new chain task's stored input again when it was read at a laxer level than `level` (the
 * task's model's); call inside the transaction that creates the task. Returns the refusal
 * (`policy_refused: …`) to fail the task with, or null when it may run (not stored yet, already read
 * at this level or a stricter one, ciphertext, an encrypted task, or nothing found the level refuses).
 */
export function guardStoredInput(
  store: SignerDatabase,
  guard: PolicyGuard,
  task: IngestedTask,
  level: DataLevel,
  now = Date.now(),
): string | null {
  if (!guard.enabled || task.privacy === 'encrypted') return null;
  const blob = prepared(store.sqlite, 'select guard_level from input_blobs where sha256 = ?').get(task.inputHash) as
    | { guard_level: string | null }
    | undefined;
  if (!blob || !readLaxer(blob.guard_level, level)) return null;
  const { data } = prepared(store.sqlite, 'select data from input_blobs where sha256 = ?').get(task.inputHash) as {
    data: Buffer;
  };
  try {
    guardHashedInput(
      store,
      guard,
      { tokenId: null, model: task.model, requestId: `task:${task.taskId}` },
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      level,
      now,
    );
  } catch (e) {
    if (e instanceof ApiError && e.code === 'policy_refused')
      return `policy_refused: ${e.message}. Task ${task.taskId}'s model "${task.model}" is at ${level}, stricter than its input was uploaded for, so no node will run it; its fee is reclaimable after its deadline (market reclaim ${task.taskId})`;
    throw e;
  }
  recordGuardLevel(store, task.inputHash, level);
  return null;
}
