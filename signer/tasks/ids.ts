/** Task ids off the escrow's sequence: direct (token) tasks; prepaid ones are protocol/accounts prepaidTaskId (>= 2^101). */
import { randomBytes } from 'node:crypto';

/**
 * Direct task ids are 2^100 + 100 random bits. Node agents sign every result over a uint task id
 * (SIP-018, `chain_task_id ?? task_id`), so the id must be a number; the escrow numbers its tasks
 * 1, 2, 3... and would need 2^100 submissions to reach this range, so the two never meet (and a
 * direct result could never be replayed as a chain task's). Random rather than a sequence: an id
 * cannot be guessed from another, and no counter has to be shared or recovered after a restart.
 */
export const DIRECT_TASK_ID_BASE = 1n << 100n;

/** A fresh direct task id (decimal). */
export function directTaskId(): string {
  const low = BigInt(`0x${randomBytes(13).toString('hex')}`) & (DIRECT_TASK_ID_BASE - 1n);
  return (DIRECT_TASK_ID_BASE + low).toString();
}
