/**
 * Every place the devnet reaches past @stacks/clarinet-sdk's public API (3.21), kept in this one
 * module so that an sdk upgrade breaks here, under tests/devnet/simnet.test.ts, and nowhere else.
 *
 * Why reach at all: the sdk is made for test suites, and a devnet serving thousands of calls is not
 * one. (1) simnet echoes every `print` and runtime error to the console, and `initSimnet` reports
 * on its deployment plan there: the devnet's log would drown, so calls run with the console
 * captured. (2) The sdk's `mineBlock` JSON-encodes each call's arguments twice and decodes every
 * result and event into objects the devnet would only encode back to hex: the devnet calls the
 * wasm session's own `mineBlock` (the prototype of the sdk's proxy) with bytes in, hex out.
 * (3) The session's `free` is not typed. (4) Starting a chain: see `acquireSimnet`.
 */
import { format } from 'node:util';
import { resolve } from 'node:path';
import { initSimnet, type Simnet, type Tx } from '@stacks/clarinet-sdk';

/** A transaction as the wasm `mineBlock` takes it: the sdk's `Tx`, or a call with its arguments as bytes only. */
export type WasmTx =
  | Tx
  | { callPublicFn: { contract: string; method: string; args_maps: Uint8Array[]; sender: string } };

/** What the wasm `mineBlock` returns per transaction: the result as Clarity hex, the events as JSON strings. */
export interface WasmTxResult {
  result: string;
  events: string;
}

/**
 * Runs `fn` with console.log and console.error captured; returns its value and the lines it
 * printed. The console is restored whatever `fn` does, throwing included.
 */
export function captureConsole<T>(fn: () => T): { value: T; lines: string[] } {
  const { log, error } = console;
  const lines: string[] = [];
  console.log = console.error = (...args: unknown[]) => void lines.push(format(...args));
  try {
    return { value: fn(), lines };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** `fn`'s value, with whatever simnet printed meanwhile dropped. */
export function quiet<T>(fn: () => T): T {
  return captureConsole(fn).value;
}

/** A simnet session of `manifestPath` (contracts deployed, accounts funded), its start-up report dropped. */
export async function openSimnet(manifestPath: string): Promise<Simnet> {
  const { log } = console;
  console.log = () => {};
  try {
    return await initSimnet(manifestPath, true);
  } finally {
    console.log = log; // errors still reach the console: they explain a failed start
  }
}

/** The wasm session's own `mineBlock`, bound to `simnet`: one block of `txs`, raw results. */
export function rawMineBlock(simnet: Simnet): (txs: WasmTx[]) => WasmTxResult[] {
  // The sdk's proxy passes every other property through to the wasm session, whose class is the prototype.
  const wasm = Object.getPrototypeOf(simnet) as { mineBlock?: (txs: WasmTx[]) => WasmTxResult[] };
  const mine = wasm.mineBlock;
  if (typeof mine !== 'function')
    throw new Error('this @stacks/clarinet-sdk has no wasm mineBlock behind its proxy: see devnet/simnet.ts');
  return (txs) => quiet(() => mine.call(simnet, txs));
}

/**
 * Releases the wasm session's memory early. wasm-bindgen refuses ("attempted to take ownership of
 * Rust value while it was borrowed") when the session's borrow flag is still set, which CI saw once
 * at close after a run of calls; the chain's state is in the log, not in the session, and the
 * process reclaims the memory anyway, so a refusal is not worth failing a close over.
 */
export function freeSimnet(simnet: Simnet): void {
  try {
    (simnet as unknown as { free?: () => void }).free?.();
  } catch (err) {
    if (!/while it was borrowed/.test((err as Error).message)) throw err;
  }
}

/**
 * Sessions closed by `releaseSimnet`, by genesis (see `acquireSimnet`), and where each was first
 * started. Kept on `globalThis` so that every copy of this module in a process shares them: test
 * runners that run several suites in one process may evaluate the module once per suite.
 */
interface Pool {
  idle: Map<string, Simnet[]>;
  origin: WeakMap<Simnet, { genesisId: string; cwd: string; manifestPath: string; inUse: boolean }>;
  /** Starts run one at a time: two sessions' async starts interleaving in one wasm instance is not something to find out about. */
  starting: Promise<unknown>;
}
const POOL_KEY = Symbol.for('stacks-inference-market/devnet/simnet-pool');
function pool(): Pool {
  const g = globalThis as { [POOL_KEY]?: Pool };
  g[POOL_KEY] ??= { idle: new Map(), origin: new WeakMap(), starting: Promise.resolve() };
  return g[POOL_KEY];
}

/** Idle sessions kept per genesis; more are freed. */
const IDLE_PER_GENESIS = 2;

/**
 * A session at genesis: contracts deployed, accounts funded, no block mined since. The first of a
 * genesis (`genesisId`, a hash of the manifest, contracts and accounts: `genesisFingerprint`) is
 * `openSimnet`'s: 4-7 s of CPU on a cold process, mostly the wasm's code warming up while it
 * deploys the boot contracts and ours. A session given back with `releaseSimnet` starts again from
 * the sdk's own cache of that deployment, a copy of the post-deploy state (about 0.1 s): restarting
 * a chain, rebuilding the VM after an aborted entry, or a second devnet in the same process.
 */
export function acquireSimnet(manifestPath: string, genesisId: string): Promise<Simnet> {
  const p = pool();
  const start = p.starting.then(async () => {
    for (let simnet = p.idle.get(genesisId)?.pop(); simnet; simnet = p.idle.get(genesisId)?.pop()) {
      const from = p.origin.get(simnet)!;
      try {
        // The same cwd and manifest path as its first start: the sdk's cache key, so nothing is read again.
        await quietAsync(() => simnet.initSession(from.cwd, from.manifestPath, null));
        from.inUse = true;
        return simnet;
      } catch {
        p.origin.delete(simnet);
        freeSimnet(simnet); // a session still borrowed (see freeSimnet) is not reused
      }
    }
    const path = resolve(manifestPath);
    const simnet = await openSimnet(path);
    p.origin.set(simnet, { genesisId, cwd: process.cwd(), manifestPath: path, inUse: true });
    return simnet;
  });
  p.starting = start.catch(() => {});
  return start;
}

/**
 * Gives back a session from `acquireSimnet`: kept for the next start of its genesis, or freed.
 * Giving back a session that is not in use does nothing; its holder gives it back once (`Vm.free`
 * does), since after that it may be someone else's.
 */
export function releaseSimnet(simnet: Simnet): void {
  const { idle, origin } = pool();
  const from = origin.get(simnet);
  if (!from) {
    freeSimnet(simnet);
    return;
  }
  if (!from.inUse) return;
  from.inUse = false;
  const list = idle.get(from.genesisId) ?? [];
  if (list.length >= IDLE_PER_GENESIS) {
    origin.delete(simnet);
    freeSimnet(simnet);
    return;
  }
  list.push(simnet);
  idle.set(from.genesisId, list);
}

async function quietAsync<T>(fn: () => Promise<T>): Promise<T> {
  const { log } = console;
  console.log = () => {};
  try {
    return await fn();
  } finally {
    console.log = log;
  }
}
