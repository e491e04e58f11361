/**
 * Signature checks off the main thread. Recovering a secp256k1 public key in JavaScript costs
 * about as much as executing the call in simnet; on worker threads (./verifier-worker.ts on a
 * protocol/workers ThreadPool) it runs beside the VM.
 */
import { availableParallelism } from 'node:os';
import { ThreadPool, workerFile } from '../protocol/index.js';
import { verifyOrigin } from './origin.js';
import type { handlers } from './verifier-worker.js';

/**
 * A small pool of verification threads (0: verify on the main thread); `verify` resolves with
 * null or the reason the signature fails.
 */
export class Verifier {
  private readonly threads: Promise<ThreadPool<typeof handlers>> | null;

  constructor(
    size = Number(process.env.DEVNET_VERIFY_WORKERS ?? Math.max(1, Math.min(4, availableParallelism() - 1))),
  ) {
    this.threads =
      size > 0
        ? ThreadPool.start<typeof handlers>({
            file: workerFile(import.meta.url, 'verifier-worker'),
            size,
            label: 'devnet signature thread',
            // Checks take a fraction of a millisecond: several in flight per thread save a round trip each.
            perWorker: 16,
            unref: true,
          })
        : null;
    // A pool that cannot start fails each check, not the process.
    this.threads?.catch(() => {});
  }

  /** Null when `raw`'s origin signature verifies, else why not. */
  async verify(raw: Uint8Array): Promise<string | null> {
    if (!this.threads) return verifyOrigin(raw);
    return (await this.threads).call('verify', raw);
  }

  /** Stops the threads. */
  async close(): Promise<void> {
    await (await this.threads?.catch(() => null))?.close();
  }
}
