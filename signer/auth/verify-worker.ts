/**
 * A signature-check thread (see ./pool.ts). It imports node:crypto and, on its first batch,
 * libsecp256k1: native (the `secp256k1` package's prebuilt N-API addon, about 60 µs a check here)
 * where it loads, else tiny-secp256k1's WebAssembly build (about 270 µs). Both run
 * secp256k1_ecdsa_verify, which takes low s only. Bundled by protocol/workers, the thread runs as
 * plain JavaScript in a few MB.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { move, serve } from '../../protocol/index.js';

type Secp = typeof import('tiny-secp256k1');
/** The `secp256k1` package's addon: ecdsaVerify answers 0 (valid), 1 (r or s not below n), 2 (key not a point) or 3 (invalid). */
type Native = { ecdsaVerify(rs: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): number };

const keys = new Map<string, KeyObject>();
/** One r||s check over a digest with a public key (33 or 65 bytes); a malformed input is a failed check, not an error. */
type DigestCheck = (digest: Uint8Array, publicKey: Uint8Array, rs: Uint8Array) => boolean;
let check: DigestCheck | null = null;

/**
 * The native addon, loaded by its own node-gyp-build (the prebuilt binary, or one built at install),
 * never the package's main module, which falls back to elliptic (pure JavaScript, slower than
 * WebAssembly) when the addon is missing. Null when it does not load.
 */
function nativeAddon(): Native | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('secp256k1/package.json');
    const load = createRequire(pkg)('node-gyp-build') as (dir: string) => { Secp256k1: new () => Native };
    return new (load(dirname(pkg)).Secp256k1)();
  } catch {
    return null;
  }
}

/** libsecp256k1's check, loaded on the first batch (about 12 MB for the WebAssembly build). */
function digestCheck(): DigestCheck {
  const native = process.env.SIGNER_VERIFY_WASM === '1' ? null : nativeAddon();
  if (native)
    return (digest, publicKey, rs) => {
      try {
        return native.ecdsaVerify(rs, digest, publicKey) === 0;
      } catch {
        return false;
      }
    };
  const wasm = createRequire(import.meta.url)('tiny-secp256k1') as Secp;
  return (digest, publicKey, rs) => {
    try {
      return wasm.verify(digest, publicKey, rs, true);
    } catch {
      return false;
    }
  };
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
    // Loaded by the threads that get a batch, on their first.
    check ??= digestCheck();
    const oks = new Uint8Array(m.digests.length / 32);
    for (let i = 0; i < oks.length; i++) {
      const ok = check(
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
