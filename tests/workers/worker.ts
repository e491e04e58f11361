/** A worker file for the pool's own tests: each handler does one thing a real worker may do. */
import { threadId, workerData } from 'node:worker_threads';
import { move, serve } from '../../protocol/workers/index.js';

/** The test worker's handlers (the pool's calls are typed by this object). */
export const handlers = {
  /** Echoes its argument with the thread that ran it. */
  echo: (arg: { text: string }) => ({ text: arg.text, threadId, data: workerData as unknown }),
  /** Blocks the thread for `ms`, as onnxruntime's run does. */
  block: (arg: { ms: number }) => {
    const end = Date.now() + arg.ms;
    while (Date.now() < end);
    return arg.ms;
  },
  /** Waits `ms` without blocking: several may run at once on one thread. */
  sleep: (arg: { ms: number }) => new Promise<number>((r) => setTimeout(() => r(threadId), arg.ms)),
  /** Exits the thread with `code`, as a native crash or a bug calling process.exit would. */
  exit: (arg: { code: number }): never => process.exit(arg.code),
  /** Throws: only this call fails. */
  fail: (arg: { message: string }): never => {
    throw new RangeError(arg.message);
  },
  /** Returns `n` bytes moved, not copied. */
  bytes: (arg: { n: number }) => {
    const out = new Uint8Array(arg.n).fill(7);
    return move(out, [out.buffer]);
  },
};

serve(handlers);
