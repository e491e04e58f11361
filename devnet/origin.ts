/** The costly half of admitting a transaction, alone so that both the main thread and ./verifier-worker.ts run it. */
import { deserializeTransaction } from '@stacks/transactions';

/** Null when the origin signature of the raw transaction verifies, else why not. */
export function verifyOrigin(raw: Uint8Array): string | null {
  try {
    deserializeTransaction(raw).verifyOrigin();
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
