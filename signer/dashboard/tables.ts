/**
 * The dashboard's tables and totals: tasks by status and source, node earnings, settlement
 * transactions with links to their status, and the models the signer knows from its own rows.
 */
import type Database from 'better-sqlite3';
import { TASK_STATUSES, type TaskStatus } from '../../protocol/index.js';
import { prepared } from '../db/index.js';
import type { KeyedSeries, Window } from './series.js';

/** Task counts by status, for each source and in all. */
export interface TaskCounts {
  chain: Record<TaskStatus, number>;
  direct: Record<TaskStatus, number>;
  total: Record<TaskStatus, number>;
}

const zeroes = () => Object.fromEntries(TASK_STATUSES.map((st) => [st, 0])) as Record<TaskStatus, number>;

/** Every task by status and by where it came from (chain-escrowed or direct token-paid). */
export function tasksByStatus(sqlite: Database.Database): TaskCounts {
  const out: TaskCounts = { chain: zeroes(), direct: zeroes(), total: zeroes() };
  const rows = prepared(sqlite, 'select source, status, count(*) n from inference_tasks group by source, status').all() as { source: string; status: TaskStatus; n: number }[];
  for (const r of rows) {
    if (r.source === 'chain' || r.source === 'direct') out[r.source][r.status] = r.n;
    out.total[r.status] += r.n;
  }
  return out;
}

/** What one node has been paid on chain (settled tasks only). */
export interface NodeEarning {
  node_id: string;
  settled_tasks: number;
  /** micro-STX, decimal string (sums may pass 2^53). */
  payout: string;
}

/** Sum of node_payout of settled tasks per node, largest first. */
export function nodeEarnings(sqlite: Database.Database): NodeEarning[] {
  const sql = `select inference_node_id node_id, count(*) settled_tasks, sum(cast(node_payout as integer)) payout from inference_tasks
    where status = 'settled' and node_payout is not null group by inference_node_id order by payout desc`;
  // safeIntegers: the payout sum comes back as a bigint, exact at any size.
  const rows = prepared(sqlite, sql).safeIntegers(true).all() as { node_id: string | null; settled_tasks: bigint; payout: bigint }[];
  return rows.map((r) => ({ node_id: r.node_id ?? '(unknown node)', settled_tasks: Number(r.settled_tasks), payout: r.payout.toString() }));
}

/** micro-STX paid to each node per bucket of settlement time (numbers: one bucket's payouts stay far below 2^53). */
export function earningsByNode(sqlite: Database.Database, w: Window): KeyedSeries {
  const sql = `select inference_node_id k, cast((settled_at - :start) / :size as integer) b, sum(cast(node_payout as integer)) n from inference_tasks
    where status = 'settled' and settled_at >= :start and settled_at < :end and node_payout is not null group by k, b`;
  const out: KeyedSeries = {};
  for (const r of prepared(sqlite, sql).all({ start: w.start, end: w.end, size: w.size }) as { k: string | null; b: number; n: number }[]) {
    (out[r.k ?? '(unknown node)'] ??= new Array<number>(w.count).fill(0))[r.b] = r.n;
  }
  return out;
}

/** One settlement transaction as the dashboard lists it. */
export interface SettlementView {
  txid: string;
  kind: string;
  status: string;
  items: number;
  block_height: number | null;
  reason: string | null;
  created_at: number;
  updated_at: number;
  /** The chain API's page of the transaction. */
  tx_url: string;
  /** The signer's status URL of each task in it (the first few). */
  task_urls: { task_id: string; url: string }[];
}

/** How many task links a settlement row carries; the rest are on the chain API's page. */
const TASK_LINKS = 5;

/** The latest `limit` settlement transactions, newest first, with links to their status. */
export function recentSettlements(sqlite: Database.Database, chainApiUrl: string, limit: number): SettlementView[] {
  const sql = 'select txid, kind, status, item_count, block_height, reason, task_ids, created_at, updated_at from settlements order by created_at desc, txid limit ?';
  const rows = prepared(sqlite, sql).all(limit) as { txid: string; kind: string; status: string; item_count: number; block_height: number | null; reason: string | null; task_ids: string; created_at: number; updated_at: number }[];
  const api = chainApiUrl.replace(/\/+$/, '');
  return rows.map((r) => ({
    txid: r.txid,
    kind: r.kind,
    status: r.status,
    items: r.item_count,
    block_height: r.block_height,
    reason: r.reason,
    created_at: r.created_at,
    updated_at: r.updated_at,
    tx_url: `${api}/extended/v1/tx/0x${r.txid.replace(/^0x/, '')}`,
    task_urls: (JSON.parse(r.task_ids) as string[]).slice(0, TASK_LINKS).map((id) => ({ task_id: id, url: `/api/v1/tasks/${encodeURIComponent(id)}/status` })),
  }));
}

/** Tasks ever seen per model name (both sources), and when the latest came. */
export function tasksByModel(sqlite: Database.Database): Map<string, { tasks: number; last_task_at: number }> {
  const rows = prepared(sqlite, 'select model_type name, count(*) n, max(created_at) last from inference_tasks group by model_type').all() as { name: string; n: number; last: number }[];
  return new Map(rows.map((r) => [r.name, { tasks: r.n, last_task_at: r.last }]));
}
