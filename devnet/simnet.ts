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
 * (3) The session's `free` is not typed.
 */
import { format } from 'node:util';
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
