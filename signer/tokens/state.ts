/**
 * The API-token state machine of the Cinfer design (seed 002 §6.4):
 *
 *   active → paused (admin pauses)          paused → active (admin reactivates)
 *   active → over_limit (monthly quota hit) over_limit → active (admin resets the count, or a new month starts)
 *   active → expired (used past expiry)     expired → active (admin extends the expiry)
 *   paused → expired (past expiry)          any → deleted (admin deletes; the row is removed)
 */
import { ApiError } from '../errors.js';

/** The states a stored token can be in. */
export const TOKEN_STATUSES = ['active', 'paused', 'over_limit', 'expired'] as const;
export type TokenStatus = (typeof TOKEN_STATUSES)[number];

/** What an admin can do to a token's state. */
export type AdminAction = 'pause' | 'activate';

const ADMIN_MOVES: Record<AdminAction, Partial<Record<TokenStatus, TokenStatus>>> = {
  pause: { active: 'paused' },
  activate: { paused: 'active', over_limit: 'active', expired: 'active' },
};

const NEXT_STEP: Record<TokenStatus, string> = {
  active: 'it can be paused or deleted',
  paused: 'it can be activated or deleted',
  over_limit: "activate it to reset this month's count, or delete it",
  expired: 'activate it with a new expires_at in the future, or delete it',
};

/** The state an admin action leads to from `from`; a move the machine does not have is a 409. */
export function adminMove(from: TokenStatus, action: AdminAction): TokenStatus {
  const to = ADMIN_MOVES[action][from];
  if (!to) throw new ApiError('conflict', `cannot ${action} a token that is ${from}: ${NEXT_STEP[from]}`);
  return to;
}

/** Whether a token in this state expires when its expiry passes. */
export function canExpire(status: TokenStatus): boolean {
  return status === 'active' || status === 'paused';
}
