/**
 * A signature-check thread (see ./pool.ts). It imports node:crypto and, on its first batch,
 * tiny-secp256k1 only: bundled by protocol/workers, it runs as plain JavaScript in a few MB.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { move, serve } from '../../protocol/index.js';

type Secp = typeof import('tiny-secp256k1');

const keys = new Map<string, KeyObject>();
let secp: Secp | null = null;

/** libsecp256k1's check, low s only (strict); a malformed input is a failed check, not an error. */
function digestCheck(lib: Secp, digest: Uint8Array, publicKey: Uint8Array, rs: Uint8Array): boolean {
  try {
    return lib.verify(digest, publicKey, rs, true);
  } catch {
    return false;
  }
}

/** The calls a signature-check thread answers. */
export const handlers = {
  /** Verifies `rs` (r||s, 64 bytes) over sha256(`encoded`) with a DER (SPKI, hex) public key, by OpenSSL. */
  verify(m: { encoded: Uint8Array; rs: Uint8Array; spki: string }): boolean {
    try {
      let key = keys.get(m.spki);
      if (!key) {
        key = createPublicKey({ key: Buffer.from(m.spki, 'hex'), format: 'der', type: 'spki' });
        if (keys.size > 10_000) keys.clear();
        keys.set(m.spki, key);
      }
      return verify('sha256', m.encoded, { key, dsaEncoding: 'ieee-p1363' }, m.rs);
    } catch {
      return false;
    }
  },
  /** n packed checks: r||s (64 bytes) over a 32-byte digest with a 65-byte uncompressed key (./pool.ts POINT); one byte each, 1: valid. */
  digests(m: { digests: Uint8Array; keys: Uint8Array; rs: Uint8Array }) {
    // About 12 MB: loaded by the threads that get a batch, on their first.
    secp ??= createRequire(import.meta.url)('tiny-secp256k1') as Secp;
    const oks = new Uint8Array(m.digests.length / 32);
    for (let i = 0; i < oks.length; i++) {
      const ok = digestCheck(
        secp,
        m.digests.subarray(32 * i, 32 * i + 32),
        m.keys.subarray(65 * i, 65 * i + 65),
        m.rs.subarray(64 * i, 64 * i + 64),
      );
      oks[i] = ok ? 1 : 0;
    }
    return move(oks, [oks.buffer]);
  },
};

serve(handlers);
