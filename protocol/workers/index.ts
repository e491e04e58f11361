/** Typed worker-thread pools: `ThreadPool` on the main thread, `serve` in a worker file. */
export { ThreadPool, type PoolOptions, type CallOptions } from './pool.js';
export { serve } from './serve.js';
export { move, Moved, type Handlers, type ArgOf, type ResultOf } from './messages.js';
export { CallTimeoutError, PoolClosedError, QueueFullError, WorkerCrashedError } from './errors.js';
export { spawnWorkerSync, workerFile } from './spawn.js';
