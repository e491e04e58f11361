/**
 * Data availability of periods: what a settle-accounts published (root, items, credits) and, for
 * any leaf in it, the leaf itself and its Merkle proof, so an account holder can check (and
 * challenge) every charge and a node can see its results paid.
 */
import { merkleProof, type ProofStep, type ReceiptLeafJson, type TaskRequestJson } from '../../protocol/index.js';
import { prepared } from '../db/index.js';
import type { Services } from '../services.js';
import type { StoredPeriod } from './release.js';

interface PeriodRow {
  id: number;
  root: string;
  tasks: number;
  charged: string;
  items: string;
  txid: string | null;
  status: string;
  chain_period: number | null;
  created_at: number;
  confirmed_at: number | null;
}

/** A period as the API lists it. */
export function periodSummary(r: PeriodRow) {
  return {
    id: r.id,
    root: r.root,
    tasks: r.tasks,
    charged: r.charged,
    txid: r.txid,
    status: r.status,
    chain_period: r.chain_period,
    created_at: r.created_at,
    confirmed_at: r.confirmed_at,
  };
}

/** Periods with id above `after`, oldest first. */
export function listPeriods(s: Services, after: number, limit: number) {
  const rows = prepared(s.store.sqlite, 'select * from prepaid_periods where id > ? order by id asc limit ?').all(
    after,
    limit,
  ) as PeriodRow[];
  return rows.map(periodSummary);
}

/** The most recent periods, newest first (the dashboard). */
export function recentPeriods(s: Services, limit: number) {
  return (
    prepared(s.store.sqlite, 'select * from prepaid_periods order by id desc limit ?').all(limit) as PeriodRow[]
  ).map(periodSummary);
}

function row(s: Services, id: number): PeriodRow | undefined {
  return prepared(s.store.sqlite, 'select * from prepaid_periods where id = ?').get(id) as PeriodRow | undefined;
}

/** The leaf hashes of a period in tree order. */
function leafHashes(s: Services, taskIds: string[]): string[] {
  const get = prepared(s.store.sqlite, 'select leaf_hash from prepaid_receipts where task_id = ?');
  return taskIds.map((id) => (get.get(id) as { leaf_hash: string } | undefined)?.leaf_hash ?? '');
}

/** A period in full: summary, leaf hashes (tree order), the accounts charged and the payees credited; undefined when unknown. */
export function periodDetail(s: Services, id: number) {
  const r = row(s, id);
  if (!r) return undefined;
  const stored = JSON.parse(r.items) as StoredPeriod;
  return {
    ...periodSummary(r),
    leaf_hashes: leafHashes(s, stored.task_ids),
    task_ids: stored.task_ids,
    metered_task_ids: stored.metered_ids ?? [],
    items: stored.items.map((i) => ({
      account: i.account,
      cumulative: i.cumulative,
      nonce: i.nonce,
      receipts_root: i.receiptsRoot,
      spend: i.spend,
    })),
    credits: stored.credits,
  };
}

/** A leaf of a period with its proof: `rootFromProof(leaf_hash, proof) === root`. Undefined when the period or the task in it is unknown. */
export function periodProof(
  s: Services,
  id: number,
  taskId: string,
):
  | {
      period: number;
      status: string;
      chain_period: number | null;
      task_id: string;
      leaf: ReceiptLeafJson;
      leaf_hash: string;
      proof: ProofStep[];
      root: string;
    }
  | undefined {
  const r = row(s, id);
  if (!r) return undefined;
  const stored = JSON.parse(r.items) as StoredPeriod;
  const index = stored.task_ids.indexOf(taskId);
  if (index < 0) return undefined;
  const receipt = prepared(
    s.store.sqlite,
    'select request, request_signature, node_key, output_hash, fee, leaf_hash from prepaid_receipts where task_id = ?',
  ).get(taskId) as
    | {
        request: string;
        request_signature: string;
        node_key: string;
        output_hash: string;
        fee: string;
        leaf_hash: string;
      }
    | undefined;
  if (!receipt) return undefined;
  const leaf: ReceiptLeafJson = {
    request: JSON.parse(receipt.request) as TaskRequestJson,
    request_signature: receipt.request_signature,
    node: receipt.node_key,
    output_hash: receipt.output_hash,
    fee: receipt.fee,
  };
  return {
    period: r.id,
    status: r.status,
    chain_period: r.chain_period,
    task_id: taskId,
    leaf,
    leaf_hash: receipt.leaf_hash,
    proof: merkleProof(leafHashes(s, stored.task_ids), index),
    root: r.root,
  };
}
