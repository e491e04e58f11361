import type { ClarityValue } from '@stacks/transactions';

/**
 * The one interface the signer's watcher and submitter use to reach the chain. Implemented by
 * `StacksApiChain` (HTTP to a Stacks node + API: devnet, testnet or mainnet alike).
 */

/** A `task-submitted` event printed by `inference-escrow.submit-task`. */
export interface TaskSubmittedEvent {
  chainTaskId: bigint;
  requester: string;
  modelOutput: bigint;
  model: string;
  artifactHash: string; // hex, no 0x
  inputHash: string; // hex, no 0x
  fee: bigint;
  deadline: bigint; // block height
  privacy: number;
  priority: number;
  /** Nodes that must agree: 1, 3 or 5. */
  security: number;
  /** Significant digits outputs are rounded to before hashing (0 = exact). */
  precision: number;
  /** Share of level-1 tasks to re-run on a second node, in basis points (frozen in the task). */
  sampleBps: number;
  txid: string;
  blockHeight: number;
  /** Position of the event in the escrow contract's event stream, for idempotent ingestion. */
  eventIndex: number;
}

/** One item of a `complete-tasks` batch. */
export interface CompleteItem {
  chainTaskId: bigint;
  outputHash: string; // hex
  nodePublicKey: string; // compressed hex
  signature: string; // RSV hex
}

/** A signed transaction, built but maybe not yet broadcast: its txid can be recorded first. */
export interface SignedTx {
  txid: string;
  nonce: bigint;
  /** Serialized transaction, hex. */
  raw: string;
}

/**
 * Per-item outcome of a confirmed `complete-tasks` (ok with the node payout) or `settle-redundant`
 * (ok with the agreeing votes and the stake slashed; the payout is split and not returned), or
 * the contract's error code.
 */
export type ItemResult =
  | { ok: true; payout: bigint | null; votes?: number; slashed?: bigint }
  | { ok: false; code: number };

export type TxStatus =
  | { status: 'pending' }
  | {
      status: 'success';
      blockHeight: number;
      itemResults?: ItemResult[] /** The call's result (serialized Clarity value, hex), when the chain reports it. */;
      result?: string;
    }
  | { status: 'aborted'; blockHeight: number; reason: string }
  | { status: 'dropped'; reason: string }
  | { status: 'not_found' };

export interface Chain {
  readonly chainId: number;
  /** Contract principal of inference-escrow. */
  readonly escrowContract: string;
  /** The signer's own address: pays fees, and owns the models the console publishes. */
  readonly address: string;
  tipHeight(): Promise<number>;
  /** Calls a read-only function of a contract deployed beside the escrow (same deployer), e.g. `model-registry`. */
  callReadOnly(contractName: string, functionName: string, args: ClarityValue[]): Promise<ClarityValue>;
  /** Signs a call of a public function of a contract deployed beside the escrow; broadcast it with `broadcast`. */
  buildContractCall(contractName: string, functionName: string, args: ClarityValue[]): Promise<SignedTx>;
  /**
   * Events after `cursor` (opaque; null = from the start), oldest first, at most `limit`; `more`
   * when the limit stopped the read before the newest event.
   */
  readTaskEvents(
    cursor: string | null,
    limit: number,
  ): Promise<{ events: TaskSubmittedEvent[]; cursor: string | null; more: boolean }>;
  buildCompleteTasks(items: CompleteItem[]): Promise<SignedTx>;
  buildReclaim(chainTaskId: bigint): Promise<SignedTx>;
  /** Broadcasts a signed transaction; resolves when accepted into the mempool, throws with the node's reason when rejected. */
  broadcast(tx: SignedTx): Promise<void>;
  txStatus(txid: string): Promise<TxStatus>;
  /**
   * Forgets the local nonce sequence: the next build re-reads the account and stays above every
   * nonce `openNonces` returns (settlements recorded but maybe not yet broadcast). Called when a
   * replica takes the lead, since another may have built transactions meanwhile.
   */
  resetNonces?(openNonces: () => bigint[]): void;
}
