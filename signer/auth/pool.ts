/**
 * Signature checks on worker threads (./verify-worker.ts on a protocol/workers ThreadPool), so
 * that the main thread keeps serving HTTP and SQLite while OpenSSL verifies (about 0.3 ms per
 * check, two per result).
 *
 * Batches (the 100 requests of one POST /api/v1/requests) travel as one message per thread in
 * packed buffers, not one message per signature, and are checked over the sha256 digest the
 * caller already has by libsecp256k1 (tiny-secp256k1, WebAssembly): about 30% cheaper than
 * OpenSSL's generic curve code for secp256k1, and signature checks are most of the cost of
 * admitting a prepaid request.
 */
import { ThreadPool, workerFile } from '../../protocol/index.js';
import type { handlers } from './verify-worker.js';

/** One check of a batch: sha256 of the signed bytes, r||s (64 bytes), the public key as an uncompressed point (65 bytes). */
export interface DigestCheck {
  digest: Uint8Array;
  rs: Uint8Array;
  publicKey: Uint8Array;
}

/** Bytes of a public key in a packed batch: an uncompressed point (04 || x || y), which libsecp256k1 parses without a square root. */
export const POINT = 65;

/** A fixed pool of verification threads; checks go to the least busy. */
export class VerifyPool {
  readonly #threads: Promise<ThreadPool<typeof handlers>>;

  constructor(readonly size: number) {
    this.#threads = ThreadPool.start<typeof handlers>({
      file: workerFile(import.meta.url, 'verify-worker'),
      size,
      label: 'signature verification thread',
      // Checks are short and answer in order: many in flight per thread saves a round trip each.
      perWorker: 256,
      // Idle threads must not keep the process alive; requests in flight hold it through their sockets.
      unref: true,
      // Small heaps keep their garbage small.
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 },
    });
    // A pool that cannot start fails each check (a 500: a bug, not a bad signature), not the process.
    this.#threads.catch(() => {});
  }

  /** Verifies a 64-byte r||s signature over sha256(encoded) with the key in SPKI DER (hex). */
  async verify(encoded: Uint8Array, rs: Uint8Array, spkiHex: string): Promise<boolean> {
    return (await this.#threads).call('verify', { encoded, rs, spki: spkiHex });
  }

  /**
   * Verifies many checks over digests, one answer each in order: split into one packed message
   * per thread (so the threads share a large batch), each to the least busy thread.
   */
  async verifyDigests(checks: readonly DigestCheck[]): Promise<boolean[]> {
    if (checks.length === 0) return [];
    const threads = await this.#threads;
    const parts = Math.min(this.size, Math.ceil(checks.length / 8));
    const per = Math.ceil(checks.length / parts);
    const answers = await Promise.all(
      Array.from({ length: parts }, (_, p) => {
        const part = checks.slice(p * per, (p + 1) * per);
        const digests = new Uint8Array(32 * part.length);
        const keys = new Uint8Array(POINT * part.length);
        const rs = new Uint8Array(64 * part.length);
        part.forEach((c, i) => {
          digests.set(c.digest, 32 * i);
          keys.set(c.publicKey, POINT * i);
          rs.set(c.rs, 64 * i);
        });
        return threads.call('digests', { digests, keys, rs }, { transfer: [digests.buffer, keys.buffer, rs.buffer] });
      }),
    );
    return answers.flatMap((oks) => Array.from(oks, (ok) => ok === 1));
  }

  /** Stops the threads (checks in flight finish first). */
  async close(): Promise<void> {
    await (await this.#threads.catch(() => null))?.close();
  }
}
