/**
 * Signature checks off the main thread. Recovering a secp256k1 public key in JavaScript costs
 * about as much as executing the call in simnet; on worker threads it runs beside the VM.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { deserializeTransaction } from '@stacks/transactions';

// Plain JS (no TypeScript loader needed in the worker): verify the origin signature of each raw tx.
const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.lib).then(({ deserializeTransaction }) => {
  parentPort.on('message', ({ id, raw }) => {
    try {
      deserializeTransaction(raw).verifyOrigin();
      parentPort.postMessage({ id, error: null });
    } catch (err) {
      parentPort.postMessage({ id, error: String(err && err.message ? err.message : err) });
    }
  });
  parentPort.postMessage({ ready: true });
});
`;

type Pending = { resolve: (error: string | null) => void; reject: (e: Error) => void };

function verifyHere(raw: Uint8Array): string | null {
  try {
    deserializeTransaction(raw).verifyOrigin();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * A small pool of verification workers (0: verify on the main thread); `verify` resolves with
 * null or the reason the signature fails.
 */
export class Verifier {
  private workers: Worker[] = [];
  private next = 0;
  private seq = 0;
  private pending = new Map<number, Pending>();

  constructor(size = Number(process.env.DEVNET_VERIFY_WORKERS ?? Math.max(1, Math.min(4, availableParallelism() - 1)))) {
    const lib = pathToFileURL(createRequire(import.meta.url).resolve('@stacks/transactions')).href;
    for (let i = 0; i < size; i++) {
      const w = new Worker(SOURCE, { eval: true, workerData: { lib } });
      w.on('message', (m: { id?: number; error?: string | null }) => {
        if (m.id === undefined) return;
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p?.resolve(m.error ?? null);
      });
      w.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      w.unref();
      this.workers.push(w);
    }
  }

  verify(raw: Uint8Array): Promise<string | null> {
    if (this.workers.length === 0) return Promise.resolve(verifyHere(raw));
    const id = this.seq++;
    const w = this.workers[this.next++ % this.workers.length];
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, raw });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
