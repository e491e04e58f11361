/**
 * Receipts of prepaid requests (prepaid_receipts), the pay-then-reveal half of the design:
 *   running -> due      the task completed: its fee, node, output hash, leaf and payee shares are fixed
 *   due     -> paid     an authorization signed by the account covers it (POST .../authorizations)
 *   paid    -> settled  a confirmed settle-accounts charged it (the period loop, periods*.ts)
 *   running -> failed   the task failed, or expired before a node ran it: its reservation is released
 *   running -> paid     a metered call of a token bound to the account completed (metered.ts): no leaf
 * The result is revealed only from `paid` on. Every change is one SQL transaction that re-reads
 * the rows it changes, so two payments of one receipt cannot both pass.
 */
import {
  principalOfKey,
  type ReceiptLeafJson,
  type TaskRequestJson,
  fromLeafJson,
  leafHash,
} from '../../protocol/index.js';
import { atomic, prepared, type SignerDatabase } from '../db/index.js';
import { transition, type TaskRow } from '../tasks/index.js';
import { readVotes } from '../tasks/index.js';
import { addReserved } from './ledger.js';
import { completeMetered, METERED, type MeteredRequest } from './metered.js';

/** A receipt row as stored. */
export interface ReceiptRow {
  task_id: string;
  account: string;
  nonce: string;
  request: string;
  request_signature: string;
  max_fee: string;
  fee: string | null;
  node_key: string | null;
  output_hash: string | null;
  leaf_hash: string | null;
  shares: string | null;
  status: 'running' | 'due' | 'paid' | 'settled' | 'failed';
  paid_nonce: string | null;
  period_id: number | null;
  created_at: number;
  paid_at: number | null;
}

/** The fee terms frozen into a prepaid task when it is accepted (its `context` JSON), as the escrow freezes a chain task's. */
export interface PrepaidContext {
  /** Request expiry, unix seconds. */
  expiry: string;
  /** The model version's owner, paid its share. */
  owner: string;
  owner_bps: string;
  treasury_bps: string;
  treasury: string;
}

/** One payee's part of a fee. */
export interface Share {
  payee: string;
  amount: string;
}

/** The receipt of a task, or undefined. */
export function receiptOf(store: SignerDatabase, taskId: string): ReceiptRow | undefined {
  return prepared(store.sqlite, 'select * from prepaid_receipts where task_id = ?').get(taskId) as
    | ReceiptRow
    | undefined;
}

/** The leaf of a due, paid or settled receipt, as served to the account. */
export function leafJsonOf(r: ReceiptRow): ReceiptLeafJson {
  if (r.fee === null || r.node_key === null || r.output_hash === null)
    throw new Error(`receipt ${r.task_id} has no result yet`);
  return {
    request: JSON.parse(r.request) as TaskRequestJson,
    request_signature: r.request_signature,
    node: r.node_key,
    output_hash: r.output_hash,
    fee: r.fee,
  };
}

/**
 * The fee's split, as the escrow splits a settle-redundant fee: owner and treasury shares by the
 * frozen bps, the rest split equally among the nodes whose output won (by key principal), dust to
 * the treasury. Payees that coincide are merged; the amounts add up to `fee`.
 */
export function sharesOf(
  fee: bigint,
  ctx: Pick<PrepaidContext, 'owner' | 'owner_bps' | 'treasury_bps' | 'treasury'>,
  nodeKeys: string[],
  chainId: number,
): Share[] {
  const owner = (fee * BigInt(ctx.owner_bps)) / 10_000n;
  const nodeCut = fee - owner - (fee * BigInt(ctx.treasury_bps)) / 10_000n;
  const per = nodeKeys.length ? nodeCut / BigInt(nodeKeys.length) : 0n;
  const parts = new Map<string, bigint>();
  const add = (payee: string, amount: bigint) => amount > 0n && parts.set(payee, (parts.get(payee) ?? 0n) + amount);
  for (const key of nodeKeys) add(principalOfKey(key, chainId), per);
  add(ctx.owner, owner);
  add(ctx.treasury, fee - owner - per * BigInt(nodeKeys.length));
  return [...parts].map(([payee, amount]) => ({ payee, amount: amount.toString() }));
}

/** Keys of the nodes whose output the task settled on (the majority's, or the one node's). */
function winners(task: TaskRow): string[] {
  const votes = readVotes(task.votes).filter((v) => v.output_hash === task.output_hash);
  const keys = votes.length ? [...new Set(votes.map((v) => v.public_key))] : [task.node_public_key!];
  return keys;
}

/**
 * A completed prepaid task's receipt becomes due: fee, node, output hash, leaf hash and shares.
 * Returns false when there is nothing to do (not running, or the task is not completed).
 */
export function markDue(store: SignerDatabase, chainId: number, taskId: string): boolean {
  return atomic(store.sqlite, () => {
    const r = receiptOf(store, taskId);
    const task = prepared(store.sqlite, 'select * from inference_tasks where task_id = ?').get(taskId) as
      | TaskRow
      | undefined;
    if (r?.status !== 'running' || !task || task.output_hash === null || task.node_public_key === null) return false;
    if (task.status !== 'completed' && task.status !== 'settled') return false;
    if (r.request_signature === METERED) {
      // A bound token's call: paid at once at the price frozen at admission, with no leaf (metered.ts).
      const terms = JSON.parse(r.request) as MeteredRequest;
      completeMetered(store, r, task, sharesOf(BigInt(r.max_fee), terms, winners(task), chainId));
      return true;
    }
    const fee = BigInt(task.fee);
    const leaf = {
      request: JSON.parse(r.request) as TaskRequestJson,
      request_signature: r.request_signature,
      node: task.node_public_key,
      output_hash: task.output_hash,
      fee: fee.toString(),
    };
    const shares = sharesOf(fee, JSON.parse(task.context!) as PrepaidContext, winners(task), chainId);
    prepared(
      store.sqlite,
      "update prepaid_receipts set status = 'due', fee = ?, node_key = ?, output_hash = ?, leaf_hash = ?, shares = ? where task_id = ? and status = 'running'",
    ).run(leaf.fee, leaf.node, leaf.output_hash, leafHash(fromLeafJson(leaf)), JSON.stringify(shares), taskId);
    return true;
  });
}

/** A running receipt whose task failed (or never ran): failed, and its max fee no longer reserved. */
export function markFailed(store: SignerDatabase, taskId: string, now = Date.now()): boolean {
  return atomic(store.sqlite, () => {
    const r = receiptOf(store, taskId);
    if (r?.status !== 'running') return false;
    prepared(
      store.sqlite,
      "update prepaid_receipts set status = 'failed' where task_id = ? and status = 'running'",
    ).run(taskId);
    addReserved(store, r.account, -BigInt(r.max_fee), now);
    return true;
  });
}

/** Running receipts whose task reached an end by any path (results, sweeps, a restart): due or failed. */
export function reconcile(
  store: SignerDatabase,
  chainId: number,
  now = Date.now(),
): { due: string[]; failed: string[] } {
  const rows = prepared(
    store.sqlite,
    "select r.task_id, t.status from prepaid_receipts r join inference_tasks t on t.task_id = r.task_id where r.status = 'running' and t.status in ('completed', 'settled', 'failed', 'timeout') limit 1000",
  ).all() as { task_id: string; status: string }[];
  const out = { due: [] as string[], failed: [] as string[] };
  for (const row of rows) {
    if (row.status === 'completed' || row.status === 'settled') {
      if (markDue(store, chainId, row.task_id)) out.due.push(row.task_id);
    } else if (markFailed(store, row.task_id, now)) out.failed.push(row.task_id);
  }
  return out;
}

/**
 * Requests whose expiry passed while no node held them: the task fails (saying why), the receipt
 * fails and the reservation is released. A node already running one may finish it.
 */
export function expireRequests(store: SignerDatabase, now = Date.now()): string[] {
  const seconds = Math.floor(now / 1000);
  const rows = prepared(
    store.sqlite,
    "select t.* from prepaid_receipts r join inference_tasks t on t.task_id = r.task_id where r.status = 'running' and t.status = 'pending' and cast(json_extract(r.request, '$.expiry') as integer) <= ? limit 1000",
  ).all(seconds) as TaskRow[];
  for (const task of rows) {
    const expiry = (JSON.parse(task.context!) as PrepaidContext).expiry;
    const reason = `request expired at ${expiry} (unix seconds) before a node ran it${task.attempts ? ` (${task.attempts} attempt(s) failed)` : ''}; nothing is charged`;
    atomic(store.sqlite, () => {
      transition(store, task.task_id, 'failed', { reason, expect: ['pending'], now }, { error: reason }, task);
      markFailed(store, task.task_id, now);
    });
  }
  return rows.map((t) => t.task_id);
}
