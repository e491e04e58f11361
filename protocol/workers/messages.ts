/**
 * What travels between a `ThreadPool` and its workers, and the types that tie a worker file's
 * handlers to the calls the main thread may make: `pool.call('run', arg)` is checked against the
 * `run` handler the worker file exports, without importing that file at run time.
 */

/** A worker's handlers by call name: each takes one structured-cloneable argument. */
// biome-ignore lint/suspicious/noExplicitAny: a handler's own argument type is checked where it is declared.
export type Handlers = Record<string, (arg: any) => unknown>;

/** A handler's result with buffers to hand over to the main thread rather than copy (see `move`). */
export class Moved<T> {
  constructor(
    readonly value: T,
    readonly transfer: ArrayBuffer[],
  ) {}
}

/** Returns `value` to the main thread with `transfer`'s buffers moved, not copied (they become unusable here). */
export function move<T>(value: T, transfer: ArrayBuffer[]): Moved<T> {
  return new Moved(value, transfer);
}

/** The argument of handler `K`. */
export type ArgOf<H extends Handlers, K extends keyof H> = Parameters<H[K]>[0];

/** What `pool.call(K)` resolves with: the handler's result, awaited and unwrapped from `move`. */
export type ResultOf<H extends Handlers, K extends keyof H> =
  Awaited<ReturnType<H[K]>> extends Moved<infer T> ? T : Awaited<ReturnType<H[K]>>;

/** Main -> worker: one call. */
export interface CallMessage {
  id: number;
  name: string;
  arg: unknown;
}

/** Worker -> main: the worker loaded and serves, or a call's outcome (`error` is the thrown error's message). */
export type ReplyMessage =
  | { ready: true }
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string; errorName: string };
