/**
 * What the leader tests share: a chain adapter that builds numbered transactions and remembers what
 * it sent, tasks made ready to settle, and the settlements rows.
 */
import { randomBytes } from 'node:crypto';
import type { ClarityValue } from '@stacks/transactions';
import type { Chain, SignedTx } from '../../signer/chain/types.js';
import type { TxStatus } from '../../signer/chain/types.js';
import type { SettlementRow } from '../../signer/chain/submitter.js';
import type { Services } from '../../signer/index.js';

/** A chain that signs nothing: transactions get random txids and this adapter's own nonce sequence. */
export class FakeChain implements Chain {
  readonly chainId = 0x80000000;
  readonly escrowContract = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.inference-escrow';
  readonly address = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM';
  tip = 10;
  nextNonce = 0n;
  /** Transactions built, and those sent (in order). */
  built = 0;
  readonly sent: SignedTx[] = [];
  /** Broadcasts fail as a network error would (the transaction stays built). */
  failBroadcasts = false;
  /** What txStatus answers for every transaction. */
  status: TxStatus['status'] = 'pending';
  /** How often the nonce sequence was reset, and the open nonces given the last time. */
  resets = 0;
  openNonces: () => bigint[] = () => [];

  async tipHeight(): Promise<number> {
    return this.tip;
  }
  async callReadOnly(): Promise<ClarityValue> {
    throw new Error('no read-only calls in this fake');
  }
  async readTaskEvents(cursor: string | null) {
    return { events: [], cursor, more: false };
  }
  private async build(): Promise<SignedTx> {
    this.built++;
    return {
      txid: `0x${randomBytes(32).toString('hex')}`,
      nonce: this.nextNonce++,
      raw: randomBytes(40).toString('hex'),
    };
  }
  buildContractCall(): Promise<SignedTx> {
    return this.build();
  }
  buildCompleteTasks(): Promise<SignedTx> {
    return this.build();
  }
  buildReclaim(): Promise<SignedTx> {
    return this.build();
  }
  async broadcast(tx: SignedTx): Promise<void> {
    if (this.failBroadcasts) throw new Error('fetch failed');
    this.sent.push({ txid: tx.txid, raw: tx.raw, nonce: tx.nonce });
  }
  async txStatus(): Promise<TxStatus> {
    return this.status === 'success'
      ? { status: 'success', blockHeight: this.tip, itemResults: [] }
      : this.status === 'aborted'
        ? { status: 'aborted', blockHeight: this.tip, reason: 'aborted' }
        : this.status === 'dropped'
          ? { status: 'dropped', reason: 'dropped' }
          : { status: this.status };
  }
  resetNonces(openNonces: () => bigint[]): void {
    this.resets++;
    this.openNonces = openNonces;
  }
}

/** Marks tasks completed with a (fake) signed result, ready for the submitter; returns their ids. */
export function completeTasks(t: { s: Services }, ids: string[], now = Date.now()): string[] {
  const update = t.s.store.sqlite.prepare(
    "update inference_tasks set status = 'completed', output_hash = ?, signature = ?, node_public_key = ?, completed_at = ? where task_id = ?",
  );
  for (const id of ids) update.run('ab'.repeat(32), 'cd'.repeat(65), `02${'ef'.repeat(32)}`, now, id);
  return ids;
}

/** Every settlements row, oldest first. */
export function settlementsOf(s: Services): SettlementRow[] {
  return s.store.sqlite.prepare('select * from settlements order by created_at, txid').all() as SettlementRow[];
}
