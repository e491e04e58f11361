/**
 * A signature-check thread (see ./pool.ts). It imports node:crypto and, on its first batch,
 * libsecp256k1 (protocol/sip018/native.ts): native (the `secp256k1` package's prebuilt N-API
 * addon, about 60 µs a check here) where it loads, else tiny-secp256k1's WebAssembly build (about
 * 270 µs; SIGNER_VERIFY_WASM=1 forces it). Both run secp256k1_ecdsa_verify, which takes low s only.
 * Bundled by protocol/workers, the thread runs as plain JavaScript in a few MB.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { libsecp256k1, move, serve, type Secp256k1 } from '../../protocol/index.js';

const keys = new Map<string, KeyObject>();
let secp: Secp256k1 | null = null;

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
    // Loaded by the threads that get a batch, on their first.
    secp ??= libsecp256k1({ wasm: process.env.SIGNER_VERIFY_WASM === '1' });
    const oks = new Uint8Array(m.digests.length / 32);
    for (let i = 0; i < oks.length; i++) {
      const ok = secp.verify(
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
