/**
 * Signature checks on worker threads, so that the main thread keeps serving HTTP and SQLite
 * while OpenSSL verifies (about 0.3 ms per check, two per result). The threads run a few lines
 * of CommonJS over node:crypto only: no TypeScript loader, a few MB each.
 *
 * Batches (the 100 requests of one POST /api/v1/requests) travel as one message per thread in
 * packed buffers, not one message per signature, and are checked over the sha256 digest the
 * caller already has by libsecp256k1 (tiny-secp256k1, WebAssembly): about 30% cheaper than
 * OpenSSL's generic curve code for secp256k1, and signature checks are most of the cost of
 * admitting a prepaid request. A thread loads it (about 12 MB) on its first batch only.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The worker: `{encoded, rs, spki}` verifies `rs` (64 bytes) over sha256(`encoded`) with a DER
 * public key (OpenSSL); `{digests, keys, rs}` verifies n packed checks, each r||s (64 bytes) over
 * a 32-byte digest with a 33-byte compressed key, low s only (strict), and answers a byte each.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const keys = new Map();
let secp = null;
function digestCheck(h, pub, rs) {
  try {
    return secp.verify(h, pub, rs, true);
  } catch {
    return false;
  }
}
parentPort.on('message', (m) => {
  if (m.digests) {
    secp ??= require(workerData.secp);
    const oks = new Uint8Array(m.digests.length / 32);
    for (let i = 0; i < oks.length; i++) {
      oks[i] = digestCheck(m.digests.subarray(32 * i, 32 * i + 32), m.keys.subarray(33 * i, 33 * i + 33), m.rs.subarray(64 * i, 64 * i + 64)) ? 1 : 0;
    }
    parentPort.postMessage({ id: m.id, oks }, [oks.buffer]);
    return;
  }
  let ok = false;
  try {
    let key = keys.get(m.spki);
    if (!key) {
      key = createPublicKey({ key: Buffer.from(m.spki, 'hex'), format: 'der', type: 'spki' });
      if (keys.size > 10000) keys.clear();
      keys.set(m.spki, key);
    }
    ok = verify('sha256', m.encoded, { key, dsaEncoding: 'ieee-p1363' }, m.rs);
  } catch {}
  parentPort.postMessage({ id: m.id, ok });
});`;

/** Entry point of tiny-secp256k1 for the threads' require (they run outside any module). */
const SECP_PATH = createRequire(import.meta.url).resolve('tiny-secp256k1');

/** One check of a batch: sha256 of the signed bytes, r||s (64 bytes), the compressed public key (33 bytes, a point on the curve). */
export interface DigestCheck {
  digest: Uint8Array;
  rs: Uint8Array;
  publicKey: Uint8Array;
}

interface Pending {
  resolve: (reply: { ok?: boolean; oks?: Uint8Array }) => void;
  reject: (err: Error) => void;
  slot: number;
  /** Checks it carries (the slot's load). */
  count: number;
}

/** A fixed pool of verification threads, least-loaded first. */
export class VerifyPool {
  #workers: Worker[] = [];
  #load: number[] = [];
  #pending = new Map<number, Pending>();
  #nextId = 1;

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) this.#spawn(i);
  }

  #spawn(slot: number): void {
    // execArgv [] keeps the parent's --import tsx (and its loader thread) out of the workers; small heaps keep their garbage small.
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { secp: SECP_PATH }, resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 } });
    // Idle threads must not keep the process alive; requests in flight hold it through their sockets.
    worker.unref();
    worker.on('message', (reply: { id: number; ok?: boolean; oks?: Uint8Array }) => {
      const p = this.#pending.get(reply.id);
      if (!p) return;
      this.#pending.delete(reply.id);
      this.#load[slot] -= p.count;
      p.resolve(reply);
    });
    worker.on('error', (err) => this.#fail(slot, err));
    this.#workers[slot] = worker;
    this.#load[slot] = 0;
  }

  /** A crashed thread fails its checks (a 500: a bug, not a bad signature) and is replaced. */
  #fail(slot: number, err: Error): void {
    for (const [id, p] of this.#pending) {
      if (p.slot !== slot) continue;
      this.#pending.delete(id);
      p.reject(new Error(`signature verification thread failed: ${err.message}`));
    }
    if (this.#workers.length) this.#spawn(slot);
  }

  #leastLoaded(): number {
    let slot = 0;
    for (let i = 1; i < this.#load.length; i++) if (this.#load[i] < this.#load[slot]) slot = i;
    return slot;
  }

  #post(message: Record<string, unknown>, count: number, transfer: ArrayBuffer[] = []): Promise<{ ok?: boolean; oks?: Uint8Array }> {
    const slot = this.#leastLoaded();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, slot, count });
      this.#load[slot] += count;
      this.#workers[slot].postMessage({ ...message, id }, transfer);
    });
  }

  /** Verifies a 64-byte r||s signature over sha256(encoded) with the key in SPKI DER (hex). */
  async verify(encoded: Uint8Array, rs: Uint8Array, spkiHex: string): Promise<boolean> {
    return (await this.#post({ encoded, rs, spki: spkiHex }, 1)).ok === true;
  }

  /**
   * Verifies many checks over digests, one answer each in order: split into one packed message
   * per thread (so the threads share a large batch), each to the least loaded thread.
   */
  async verifyDigests(checks: readonly DigestCheck[]): Promise<boolean[]> {
    if (checks.length === 0) return [];
    const parts = Math.min(this.size, Math.ceil(checks.length / 8));
    const per = Math.ceil(checks.length / parts);
    const answers = await Promise.all(
      Array.from({ length: parts }, (_, p) => {
        const part = checks.slice(p * per, (p + 1) * per);
        const digests = new Uint8Array(32 * part.length);
        const keys = new Uint8Array(33 * part.length);
        const rs = new Uint8Array(64 * part.length);
        part.forEach((c, i) => {
          digests.set(c.digest, 32 * i);
          keys.set(c.publicKey, 33 * i);
          rs.set(c.rs, 64 * i);
        });
        return this.#post({ digests, keys, rs }, part.length, [digests.buffer, keys.buffer, rs.buffer]);
      }),
    );
    return answers.flatMap((a) => Array.from(a.oks!, (ok) => ok === 1));
  }

  /** Stops the threads. */
  async close(): Promise<void> {
    const workers = this.#workers;
    this.#workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
