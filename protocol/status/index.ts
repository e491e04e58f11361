/**
 * Statuses shared by the signer, the node agent and the dashboard.
 * Task statuses keep the seed service's names and add `settled` for confirmed settlement.
 */

/** Every task status, in the order a task normally moves through them. */
export const TASK_STATUSES = [
  'pending',
  'in_progress',
  'completed',
  'submitted',
  'settled',
  'failed',
  'timeout',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Statuses a task never leaves. */
export const FINAL_TASK_STATUSES: readonly TaskStatus[] = ['settled', 'failed', 'timeout'];

/** Node statuses of the seed service plus `degraded`. */
export const NODE_STATUSES = ['online', 'offline', 'busy', 'degraded', 'maintenance'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

/** Privacy modes of the seed network design, with their on-chain codes (`privacy` uint). */
export const PRIVACY_MODES = ['standard', 'encrypted', 'federated'] as const;
export type PrivacyMode = (typeof PRIVACY_MODES)[number];

/** On-chain code of a privacy mode. */
export function privacyCode(mode: PrivacyMode): number {
  return PRIVACY_MODES.indexOf(mode);
}

/** Privacy mode of an on-chain code; throws on an unknown code. */
export function privacyMode(code: number | bigint): PrivacyMode {
  const mode = PRIVACY_MODES[Number(code)];
  if (!mode) throw new Error(`unknown privacy code ${code}; expected 0..${PRIVACY_MODES.length - 1}`);
  return mode;
}
