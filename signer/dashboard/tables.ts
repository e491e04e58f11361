/**
 * The dashboard's live tables: tasks by status, node earnings over the window, and settlement
 * transactions with links to their status. The all-time pass (by source, per model, node
 * earnings) is ./totals.ts, run on a thread by ./all-time.ts.
 */
import type { SyncDb } from '../db/index.js';
import type { TaskStatus } from '../../protocol/index.js';
import { prepared } from '../db/index.js';
import { freshRows, type Range, type RowSource } from './buckets.js';
import { addTo, type KeyedSeries, type Window } from './series.js';
import { UNKNOWN_NODE, zeroCounts } from './totals.js';

export { taskTotals, type NodeEarning, type TaskCounts, type TaskTotals } from './totals.js';

/** Every task by status, counted on the (status, ...) queue index alone: cheap enough for every refresh. */
export function statusCounts(sqlite: SyncDb): Record<TaskStatus, number> {
  const out = zeroCounts();
  for (const r of prepared(sqlite, 'select status, count(*) n from inference_tasks group by status').all() as {
    status: TaskStatus;
    n: number;
  }[])
    out[r.status] = r.n;
  return out;
}

/**
 * micro-STX paid to each node per bucket of settlement time, read through the confirmed
 * settlement transactions (a small table) and their tasks (indexed by txid) rather than by
 * scanning every task. Numbers: one bucket's payouts stay far below 2^53.
 */
export function earningsByNode(sqlite: SyncDb, w: Window, rows: RowSource = freshRows(w)): KeyedSeries {
  // A transaction whose tasks settled in the window was last updated then or later. CROSS JOIN
  // keeps SQLite's join order: settlements first, else it walks every settled task.
  const sql = `select t.inference_node_id k, cast((t.settled_at - :start) / :size as integer) b, sum(cast(t.node_payout as integer)) n
    from settlements s cross join inference_tasks t on t.settlement_txid = s.txid
    where s.kind = 'complete-tasks' and s.status = 'confirmed' and s.updated_at >= :start
      and t.status = 'settled' and t.settled_at >= :start and t.settled_at < :end and t.node_payout is not null
    group by k, b`;
  const out: KeyedSeries = {};
  for (const r of rows(
    'earnings',
    (q: Range) => prepared(sqlite, sql).all(q) as { k: string | null; b: number; n: number }[],
  )) {
    addTo(out, w, r.k ?? UNKNOWN_NODE, r.b, r.n);
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
export function recentSettlements(sqlite: SyncDb, chainApiUrl: string, limit: number): SettlementView[] {
  const sql =
    'select txid, kind, status, item_count, block_height, reason, task_ids, created_at, updated_at from settlements order by created_at desc, txid limit ?';
  const rows = prepared(sqlite, sql).all(limit) as {
    txid: string;
    kind: string;
    status: string;
    item_count: number;
    block_height: number | null;
    reason: string | null;
    task_ids: string;
    created_at: number;
    updated_at: number;
  }[];
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
    task_urls: (JSON.parse(r.task_ids) as string[])
      .slice(0, TASK_LINKS)
      .map((id) => ({ task_id: id, url: `/api/v1/tasks/${encodeURIComponent(id)}/status` })),
  }));
}
