/** The worker side of a `ThreadPool`: a worker file calls `serve(handlers)` once, at the top level. */
import { parentPort } from 'node:worker_threads';
import { Moved, type CallMessage, type Handlers, type ReplyMessage } from './messages.js';

/**
 * Answers the pool's calls with `handlers` and tells the pool this worker is ready. A handler's
 * thrown error fails only its call; a message naming no handler means the main thread and this
 * file disagree, so the worker dies loudly (the pool replaces it and reports why).
 */
export function serve(handlers: Handlers): void {
  const port = parentPort;
  if (!port) throw new Error('serve() runs in a worker thread started by a ThreadPool');
  port.on('message', (call: CallMessage) => {
    const handler = Object.hasOwn(handlers, call?.name) ? handlers[call.name] : undefined;
    if (!handler) throw new Error(`worker received an unknown call: ${JSON.stringify(call).slice(0, 200)}`);
    const reply = (m: ReplyMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
    new Promise((resolve) => resolve(handler(call.arg))).then(
      (value) => {
        if (value instanceof Moved) reply({ id: call.id, ok: true, value: value.value }, value.transfer);
        else reply({ id: call.id, ok: true, value });
      },
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        reply({ id: call.id, ok: false, error: e.message, errorName: e.name });
      },
    );
  });
  port.postMessage({ ready: true } satisfies ReplyMessage);
}
