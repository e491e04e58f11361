/**
 * Signature checks on worker threads, so that the main thread keeps serving HTTP and SQLite
 * while OpenSSL verifies (about 0.3 ms per check, two per result). The threads run a few lines
 * of CommonJS over node:crypto only: no TypeScript loader, a few MB each.
 */
import { Worker } from 'node:worker_threads';

/** The worker: verifies `rs` (64 bytes) over sha256(`encoded`) with a DER public key. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const keys = new Map();
parentPort.on('message', ({ id, encoded, rs, spki }) => {
  let ok = false;
  try {
    let key = keys.get(spki);
    if (!key) {
      key = createPublicKey({ key: Buffer.from(spki, 'hex'), format: 'der', type: 'spki' });
      if (keys.size > 10000) keys.clear();
      keys.set(spki, key);
    }
    ok = verify('sha256', encoded, { key, dsaEncoding: 'ieee-p1363' }, rs);
  } catch {}
  parentPort.postMessage({ id, ok });
});`;

interface Pending {
  resolve: (ok: boolean) => void;
  reject: (err: Error) => void;
  slot: number;
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
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 } });
    // Idle threads must not keep the process alive; requests in flight hold it through their sockets.
    worker.unref();
    worker.on('message', ({ id, ok }: { id: number; ok: boolean }) => {
      const p = this.#pending.get(id);
      if (!p) return;
      this.#pending.delete(id);
      this.#load[slot]--;
      p.resolve(ok);
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

  /** Verifies a 64-byte r||s signature over sha256(encoded) with the key in SPKI DER (hex). */
  verify(encoded: Uint8Array, rs: Uint8Array, spkiHex: string): Promise<boolean> {
    let slot = 0;
    for (let i = 1; i < this.#load.length; i++) if (this.#load[i] < this.#load[slot]) slot = i;
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, slot });
      this.#load[slot]++;
      this.#workers[slot].postMessage({ id, encoded, rs, spki: spkiHex });
    });
  }

  /** Stops the threads. */
  async close(): Promise<void> {
    const workers = this.#workers;
    this.#workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
