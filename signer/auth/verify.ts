/**
 * SIP-018 signature checks through OpenSSL (node:crypto) instead of public-key recovery in
 * JavaScript: about twice as cheap, and the same rule as the escrow's `secp256k1-verify`
 * (tests compare both with protocol/sip018 and with Clarity in simnet). The message bytes come
 * from protocol/sip018 (encodeTaskResult, encodeNodeRequest), the same the node signs. `SignatureVerifier` runs the
 * checks on worker threads, over digests with libsecp256k1 (a third cheaper than OpenSSL's generic curve code),
 * gathering the checks asked for in one turn of the event loop into one message; the `...Fast` functions run them inline.
 */
import { ECDH, createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import {
  encodeNodeRequest,
  encodeTaskResult,
  isCanonicalSignature,
  type NodeRequest,
  type TaskResult,
} from '../../protocol/index.js';
import { VerifyPool, type DigestCheck } from './pool.js';

/** DER prefix of a SubjectPublicKeyInfo for a compressed secp256k1 point. */
const SPKI_PREFIX = '3036301006072a8648ce3d020106052b8104000a032200';
const keys = new Map<string, KeyObject | null>();

/** The key as OpenSSL takes it, or null when it is not a point on the curve. */
function keyOf(publicKey: string): KeyObject | null {
  let key = keys.get(publicKey);
  if (key !== undefined) return key;
  try {
    key = createPublicKey({ key: Buffer.from(SPKI_PREFIX + publicKey, 'hex'), format: 'der', type: 'spki' });
  } catch {
    key = null;
  }
  if (keys.size > 10_000) keys.clear();
  keys.set(publicKey, key);
  return key;
}

const points = new Map<string, Buffer | null>();

/**
 * The key as the threads take it: the point uncompressed (65 bytes), or null when it is not a point
 * on the curve. The same point as the compressed key, so the same check; libsecp256k1 would
 * otherwise decompress it (a square root) on every check, about 15% of each.
 */
function pointOf(publicKey: string): Buffer | null {
  let point = points.get(publicKey);
  if (point !== undefined) return point;
  try {
    point = ECDH.convertKey(publicKey, 'secp256k1', 'hex', undefined, 'uncompressed') as Buffer;
  } catch {
    point = null;
  }
  if (points.size > 10_000) points.clear();
  points.set(publicKey, point);
  return point;
}

/** r||s of a signature we check, or null for one refused by its form (only canonical signatures, see protocol/sip018/canonical.ts). */
function checkable(signature: string, publicKey: string): Buffer | null {
  if (!/^[0-9a-f]{130}$/.test(signature) || !/^0[23][0-9a-f]{64}$/.test(publicKey)) return null;
  // Clarity's secp256k1-verify ignores the recovery byte (0..3) and takes any s; we take only the form honest
  // signers make (low s, recovery byte 0 or 1), so one result or request has exactly one signature up to that byte,
  // and deduplication by (r, s) catches the rest.
  if (!isCanonicalSignature(signature)) return null;
  return Buffer.from(signature.slice(0, 128), 'hex');
}

function encodeResult(result: TaskResult, chainId: number): Uint8Array | null {
  try {
    return encodeTaskResult(result, chainId);
  } catch {
    return null;
  }
}

function encodeRequest(req: NodeRequest, chainId: number): Uint8Array | null {
  try {
    return encodeNodeRequest(req, chainId);
  } catch {
    return null;
  }
}

/** SIP-018 signs sha256(encoding); OpenSSL hashes `encoded` with sha256 itself. */
function verifyInline(encoded: Uint8Array | null, signature: string, publicKey: string): boolean {
  const rs = checkable(signature, publicKey);
  const key = rs && encoded ? keyOf(publicKey) : null;
  return key !== null && verify('sha256', encoded!, { key, dsaEncoding: 'ieee-p1363' }, rs!);
}

/** Same contract as protocol/sip018 verifyTaskResult, checked inline. */
export function verifyTaskResultFast(
  result: TaskResult,
  chainId: number,
  signature: string,
  publicKey: string,
): boolean {
  return verifyInline(encodeResult(result, chainId), signature, publicKey);
}

/** Same contract as protocol/sip018 verifyNodeRequest, checked inline. */
export function verifyNodeRequestFast(
  req: NodeRequest,
  chainId: number,
  signature: string,
  publicKey: string,
): boolean {
  return verifyInline(encodeRequest(req, chainId), signature, publicKey);
}

/**
 * A canonical signature over already encoded SIP-018 bytes (e.g. protocol/accounts
 * `encodeAccountsMessage`), checked inline: for callers that encode once and reuse the bytes.
 */
export function verifyEncodedFast(encoded: Uint8Array, signature: string, publicKey: string): boolean {
  return verifyInline(encoded, signature, publicKey);
}

/** A single check waiting for the next message to the threads. */
interface Queued {
  check: DigestCheck;
  resolve: (ok: boolean) => void;
  reject: (err: Error) => void;
}

/** The signer's verifier: checks on `threads` worker threads (0: inline on the main thread). */
export class SignatureVerifier {
  readonly #pool: VerifyPool | null;
  #queue: Queued[] = [];

  constructor(threads: number) {
    this.#pool = threads > 0 ? new VerifyPool(threads) : null;
  }

  #check(encoded: Uint8Array | null, signature: string, publicKey: string): Promise<boolean> {
    if (!this.#pool) return Promise.resolve(verifyInline(encoded, signature, publicKey));
    const rs = checkable(signature, publicKey);
    // pointOf rejects points off the curve here, so the thread only ever sees well-formed keys.
    const point = rs && encoded ? pointOf(publicKey) : null;
    if (!point) return Promise.resolve(false);
    const check = { digest: createHash('sha256').update(encoded!).digest(), rs: rs!, publicKey: point };
    return new Promise((resolve, reject) => {
      // Checks asked for while handling the requests of one turn of the event loop travel as one message.
      if (this.#queue.push({ check, resolve, reject }) === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const queued = this.#queue;
    this.#queue = [];
    this.#pool!.verifyDigests(queued.map((q) => q.check)).then(
      (oks) => {
        for (const [i, q] of queued.entries()) q.resolve(oks[i]!);
      },
      (err: Error) => {
        for (const q of queued) q.reject(err);
      },
    );
  }

  /** A node's task-result signature (what complete-tasks checks on chain). */
  taskResult(result: TaskResult, chainId: number, signature: string, publicKey: string): Promise<boolean> {
    return this.#check(encodeResult(result, chainId), signature, publicKey);
  }

  /** A node's request signature. */
  nodeRequest(req: NodeRequest, chainId: number, signature: string, publicKey: string): Promise<boolean> {
    return this.#check(encodeRequest(req, chainId), signature, publicKey);
  }

  /** A canonical signature over already encoded SIP-018 bytes (prepaid requests and authorizations: protocol/accounts encodeAccountsMessage). */
  encoded(encoded: Uint8Array, signature: string, publicKey: string): Promise<boolean> {
    return this.#check(encoded, signature, publicKey);
  }

  /**
   * Canonical signatures over already encoded SIP-018 bytes, many at once (a batch of prepaid
   * requests): the same answer as `encoded` for each. On threads they go as one message per
   * thread and are checked over `digest` (sha256 of `encoded`, which the caller usually has
   * already; computed here otherwise) by libsecp256k1 (./pool.ts).
   */
  async encodedMany(
    checks: readonly { encoded: Uint8Array; digest?: Uint8Array; signature: string; publicKey: string }[],
  ): Promise<boolean[]> {
    if (!this.#pool) return checks.map((c) => verifyInline(c.encoded, c.signature, c.publicKey));
    const out: boolean[] = new Array(checks.length).fill(false);
    const sent: number[] = [];
    const batch: DigestCheck[] = [];
    checks.forEach((c, i) => {
      const rs = checkable(c.signature, c.publicKey);
      // pointOf rejects points off the curve here, as for single checks.
      const point = rs ? pointOf(c.publicKey) : null;
      if (!point) return;
      sent.push(i);
      batch.push({ digest: c.digest ?? createHash('sha256').update(c.encoded).digest(), rs: rs!, publicKey: point });
    });
    for (const [k, ok] of (await this.#pool.verifyDigests(batch)).entries()) out[sent[k]!] = ok;
    return out;
  }

  /** Stops the threads. */
  close(): Promise<void> {
    return this.#pool?.close() ?? Promise.resolve();
  }
}
