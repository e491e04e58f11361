/**
 * libsecp256k1 for the SIP-018 signatures, one of two builds of the same C library:
 * - native: the `secp256k1` package's prebuilt N-API addon (linux-x64 glibc/musl, darwin-arm64 and
 *   win32-x64 ship in the package, others are built at install when a compiler is there), loaded
 *   by the package's own node-gyp-build and never through its main module, which falls back to
 *   elliptic (pure JavaScript, slower than WebAssembly) when the addon is missing. About 2.7 MB of
 *   RSS; here about 70 µs a signature and 60 µs a check;
 * - WebAssembly: tiny-secp256k1, where the addon does not load or when the caller asks for it
 *   (SIGNER_VERIFY_WASM=1 in the signer's check threads, SIP018_SIGN_WASM=1 for signing). About
 *   12 MB of RSS; about 220 µs a signature and 270 µs a check.
 * Both sign by RFC 6979 with low s (byte-identical signatures, see `reduced`) and check with
 * secp256k1_ecdsa_verify, which takes low s only (the same answers): tests compare them.
 * Nothing is loaded before the first call: a process that never signs nor checks pays for neither.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

/** The addon as the package's lib/index.js calls it (which checks the arguments' lengths first; callers here pass the right ones). */
interface Addon {
  /** 0: valid; 1: r or s not below n; 2: the key is not a point; 3: invalid. */
  ecdsaVerify(rs: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): number;
  /** Writes r||s to `out.signature` (64 bytes) and the recovery id to `out.recid`; 0, or 1 when the secret is 0 or not below n. RFC 6979 nonces. */
  ecdsaSign(out: { signature: Uint8Array; recid: number | null }, digest: Uint8Array, secret: Uint8Array): number;
}

/** libsecp256k1's two calls the SIP-018 messages need. */
export interface Secp256k1 {
  /** Which build runs them. */
  readonly native: boolean;
  /** The 65-byte RSV signature (r ‖ s ‖ recovery id) of a 32-byte digest: RFC 6979, low s. Throws on a secret that is 0 or not below n. */
  sign(digest: Uint8Array, secret: Uint8Array): Buffer;
  /** True when r||s (64 bytes, low s) signs the digest for the public key (33 or 65 bytes); a malformed input is a failed check, not an error. */
  verify(digest: Uint8Array, publicKey: Uint8Array, rs: Uint8Array): boolean;
}

let addon: Addon | null | undefined;

/** The native addon, loaded once; null where it does not load. */
function loadAddon(): Addon | null {
  if (addon === undefined) {
    try {
      const pkg = createRequire(import.meta.url).resolve('secp256k1/package.json');
      const load = createRequire(pkg)('node-gyp-build') as (dir: string) => { Secp256k1: new () => Addon };
      addon = new (load(dirname(pkg)).Secp256k1)();
    } catch {
      addon = null;
    }
  }
  return addon;
}

/** The group order n, big-endian. */
const N = Buffer.from('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141', 'hex');

/**
 * The digest reduced mod n: RFC 6979 derives the nonce from it reduced (bits2octets), as
 * tiny-secp256k1 and stacks.js do, while the addon's older libsecp256k1 hands the nonce function
 * the digest as it is. They differ only for a digest of n or more (a sha256 output with its first
 * 127 bits set, about 2^-128 of them); given the reduced digest, the addon signs alike for those too.
 */
function reduced(digest: Uint8Array): Uint8Array {
  if (Buffer.compare(digest, N) < 0) return digest;
  const e = BigInt(`0x${Buffer.from(digest).toString('hex')}`) - BigInt(`0x${N.toString('hex')}`);
  return Buffer.from(e.toString(16).padStart(64, '0'), 'hex');
}

function nativeBuild(lib: Addon): Secp256k1 {
  return {
    native: true,
    sign(digest, secret) {
      const rsv = Buffer.allocUnsafe(65);
      const out = { signature: rsv.subarray(0, 64), recid: null as number | null };
      if (lib.ecdsaSign(out, reduced(digest), secret) !== 0 || out.recid === null)
        throw new Error('the private key is not a valid secp256k1 secret');
      rsv[64] = out.recid;
      return rsv;
    },
    verify(digest, publicKey, rs) {
      try {
        return lib.ecdsaVerify(rs, digest, publicKey) === 0;
      } catch {
        return false;
      }
    },
  };
}

function wasmBuild(): Secp256k1 {
  const lib = createRequire(import.meta.url)('tiny-secp256k1') as typeof import('tiny-secp256k1');
  return {
    native: false,
    sign(digest, secret) {
      const { signature, recoveryId } = lib.signRecoverable(digest, secret);
      return Buffer.concat([signature, Buffer.of(recoveryId)]);
    },
    verify(digest, publicKey, rs) {
      try {
        return lib.verify(digest, publicKey, rs, true);
      } catch {
        return false;
      }
    },
  };
}

let native: Secp256k1 | null | undefined;
let wasm: Secp256k1 | undefined;

/** libsecp256k1: native where the addon loads, else (or with `wasm`: true) WebAssembly. Loaded on the first call. */
export function libsecp256k1(options: { wasm?: boolean } = {}): Secp256k1 {
  if (!options.wasm) {
    if (native === undefined) {
      const lib = loadAddon();
      native = lib && nativeBuild(lib);
    }
    if (native) return native;
  }
  wasm ??= wasmBuild();
  return wasm;
}
