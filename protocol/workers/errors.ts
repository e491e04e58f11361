/**
 * How a pool call can fail besides its handler throwing (that error keeps its own message and
 * name). Each has a stable `code` for callers to switch on.
 */

/** The pool was closed before the call ran: not the call's fault. */
export class PoolClosedError extends Error {
  override name = 'PoolClosedError';
  readonly code = 'pool_closed';
}

/** The worker running the call died (or crash-looped); the message says how. */
export class WorkerCrashedError extends Error {
  override name = 'WorkerCrashedError';
  readonly code = 'worker_crashed';
}

/** The pool's queue was full: the caller should shed load or retry later. */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
  readonly code = 'queue_full';
}

/** The call did not finish in time; its worker was stopped and is replaced. */
export class CallTimeoutError extends Error {
  override name = 'CallTimeoutError';
  readonly code = 'call_timeout';
}
