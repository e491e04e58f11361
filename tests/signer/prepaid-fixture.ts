/**
 * Prepaid rows as the intake and pay routes leave them (signer/accounts, S1): a completed
 * `source = 'prepaid'` task per request, its receipt `paid` with a real leaf, and the account's
 * latest authorization really signed by the account key (protocol/accounts authorizeLeaves), so
 * the same rows settle on a devnet.
 */
import { randomBytes } from 'node:crypto';
import { randomPrivateKey } from '@stacks/transactions';
import {
  accountsMessageHash,
  authorizeLeaves,
  leafHash,
  prepaidTaskId,
  principalOfKey,
  publicKeyOf,
  signTaskRequest,
  taskRequestCV,
  toTaskRequestJson,
  type ReceiptLeaf,
  type TaskRequest,
} from '../../protocol/accounts/index.js';
import { inferenceTasks, prepaidAccounts, prepaidReceipts } from '../../signer/db/index.js';
import type { Services } from '../../signer/index.js';
import { ARTIFACT_A } from './helpers.js';

export const CHAIN_ID = 0x80000000;
export const MARKET = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.accounts';

/** A payee split of a fee: node 80 %, owner 15 %, treasury the rest. */
export function split(fee: bigint, node: string, owner: string, treasury: string): { payee: string; amount: string }[] {
  const n = (fee * 80n) / 100n;
  const o = (fee * 15n) / 100n;
  return [
    { payee: node, amount: n.toString() },
    { payee: owner, amount: o.toString() },
    { payee: treasury, amount: (fee - n - o).toString() },
  ];
}

/** An account key with its running authorization state. */
export class TestAccount {
  readonly publicKey: string;
  readonly address: string;
  cumulative = 0n;
  nonce = 0n;
  private requestNonce = BigInt(Date.now()) * 1000n;

  constructor(
    readonly key = randomPrivateKey(),
    readonly market = MARKET,
  ) {
    this.publicKey = publicKeyOf(key);
    this.address = principalOfKey(this.publicKey, CHAIN_ID);
  }

  /** Inserts the account's mirror row (balance as read from chain). */
  open(s: Services, balance = 1_000_000n): void {
    s.store.db
      .insert(prepaidAccounts)
      .values({
        account: this.address,
        public_key: this.publicKey,
        balance: balance.toString(),
        updated_at: Date.now(),
      })
      .onConflictDoNothing()
      .run();
  }

  /**
   * Runs and pays `n` requests of `fee` each: tasks completed, receipts paid (shares to the
   * payees), the authorization covering them stored as the latest, owed and payee owed raised.
   */
  pay(
    s: Services,
    n: number,
    fee: bigint,
    payees: { node: string; owner: string; treasury: string },
    nodeKey = `02${'ab'.repeat(32)}`,
    paidAt = Date.now(),
  ): string[] {
    const leaves: ReceiptLeaf[] = [];
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const request: TaskRequest = {
        account: this.address,
        market: this.market,
        modelOutput: 1n,
        inputHash: randomBytes(32).toString('hex'),
        maxFee: fee,
        expiry: 4_000_000_000n,
        security: 1n,
        nonce: this.requestNonce++,
      };
      const requestSignature = signTaskRequest(request, CHAIN_ID, this.key);
      const leaf: ReceiptLeaf = {
        request,
        requestSignature,
        node: nodeKey,
        outputHash: randomBytes(32).toString('hex'),
        fee,
      };
      const taskId = prepaidTaskId(accountsMessageHash(taskRequestCV(request), CHAIN_ID));
      const now = Date.now();
      s.store.db
        .insert(inferenceTasks)
        .values({
          task_id: taskId,
          user_address: this.address,
          fee: fee.toString(),
          infer_fee: fee.toString(),
          max_infer_time: 60_000,
          model_type: 'cls',
          status: 'completed',
          source: 'prepaid',
          created_at: now,
          updated_at: now,
          completed_at: now,
          artifact_hash: ARTIFACT_A,
          input_hash: request.inputHash,
          output_hash: leaf.outputHash,
          privacy: 'standard',
        })
        .run();
      s.store.db
        .insert(prepaidReceipts)
        .values({
          task_id: taskId,
          account: this.address,
          nonce: request.nonce.toString(),
          request: JSON.stringify(toTaskRequestJson(request)),
          request_signature: requestSignature,
          max_fee: fee.toString(),
          fee: fee.toString(),
          node_key: nodeKey,
          output_hash: leaf.outputHash,
          leaf_hash: leafHash(leaf),
          shares: JSON.stringify(split(fee, payees.node, payees.owner, payees.treasury)),
          status: 'paid',
          paid_nonce: (this.nonce + 1n).toString(),
          created_at: now,
          paid_at: paidAt,
        })
        .run();
      leaves.push(leaf);
      ids.push(taskId);
    }
    const { authorization, signature } = authorizeLeaves(
      { cumulative: this.cumulative, nonce: this.nonce },
      leaves,
      this.market,
      CHAIN_ID,
      this.key,
    );
    this.cumulative = authorization.cumulative;
    this.nonce = authorization.nonce;
    const total = fee * BigInt(n);
    const sql = s.store.sqlite;
    sql
      .prepare(
        'update prepaid_accounts set auth_cumulative = ?, auth_nonce = ?, auth_root = ?, auth_signature = ?, owed = cast(cast(owed as integer) + ? as text), updated_at = ? where account = ?',
      )
      .run(
        authorization.cumulative.toString(),
        authorization.nonce.toString(),
        authorization.receiptsRoot,
        signature,
        total.toString(),
        Date.now(),
        this.address,
      );
    // The row's `owed` named with its table: PostgreSQL finds a bare one ambiguous beside excluded's.
    const owe = sql.prepare(
      "insert into payee_credits (payee, owed, credited, updated_at) values (?, ?, '0', ?) on conflict(payee) do update set owed = cast(cast(payee_credits.owed as integer) + cast(excluded.owed as integer) as text)",
    );
    for (const leaf of leaves)
      for (const sh of split(leaf.fee, payees.node, payees.owner, payees.treasury))
        owe.run(sh.payee, sh.amount, Date.now());
    return ids;
  }
}
