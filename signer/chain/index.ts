/**
 * The signer's side of the chain: the `Chain` interface and its Stacks API implementation, the
 * watcher that turns `task-submitted` events into tasks, and the submitter that batches results
 * into settlement transactions and follows them to their end.
 */
export type { Chain, SignedTx } from './types.js';
export {
  broadcast,
  failpoint,
  setStatus,
  followTransaction,
  submitterTick,
  openNonces,
  refusedWrite,
} from './submitter.js';
export type { SettlementRow, TxOutcome } from './submitter.js';
export { pollEvents, pollTip, readCursor } from './watcher.js';
