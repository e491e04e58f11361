/**
 * The dashboard's tables and totals: tasks by status and source, tasks per model, node
 * earnings (all time and over the window), and settlement transactions with links to their status.
 */
import type Database from 'better-sqlite3';
import { TASK_STATUSES, type TaskStatus } from '../../protocol/index.js';
import { prepared } from '../db/index.js';
import { freshRows, type Range, type RowSource } from './buckets.js';
import { addTo, type KeyedSeries, type Window } from './series.js';

/** Task counts by status, for each source and in all. */
export interface TaskCounts {
  chain: Record<TaskStatus, number>;
  direct: Record<TaskStatus, number>;
  total: Record<TaskStatus, number>;
}

/** What one node has been paid on chain (settled tasks only). */
export interface NodeEarning {
  node_id: string;
  settled_tasks: number;
  /** micro-STX, decimal string (sums may pass 2^53). */
  payout: string;
}

/** All-time figures of every task: by status and source, per model, and node earnings. */
export interface TaskTotals {
  byStatus: TaskCounts;
  /** Tasks ever seen per model name, both sources. */
  byModel: Map<string, number>;
  /** Sum of node_payout of settled tasks per node, largest first. */
  earnings: NodeEarning[];
}

const zeroes = () => Object.fromEntries(TASK_STATUSES.map((st) => [st, 0])) as Record<TaskStatus, number>;
const UNKNOWN_NODE = '(unknown node)';

/** Every task by status, counted on the (status, ...) queue index alone: cheap enough for every refresh. */
export function statusCounts(sqlite: Database.Database): Record<TaskStatus, number> {
  const out = zeroes();
  for (const r of prepared(sqlite, 'select status, count(*) n from inference_tasks group by status').all() as {
    status: TaskStatus;
    n: number;
  }[])
    out[r.status] = r.n;
  return out;
}

/**
 * Every task counted in one pass over inference_tasks (the table only grows, and each of these
 * figures alone would scan it again), grouped into a few dozen rows that JavaScript folds. The
 * grouping sorts every row (about 100 ms at 100,000 tasks), so callers reuse the result a while.
 */
export function taskTotals(sqlite: Database.Database): TaskTotals {
  const sql = `select source, status, model_type model, inference_node_id node, count(*) n,
      sum(case when status = 'settled' then cast(node_payout as integer) end) payout
    from inference_tasks group by source, status, model_type, inference_node_id`;
  // safeIntegers: payout sums come back as bigints, exact at any size.
  const rows = prepared(sqlite, sql).safeIntegers(true).all() as {
    source: string;
    status: TaskStatus;
    model: string;
    node: string | null;
    n: bigint;
    payout: bigint | null;
  }[];
  const byStatus: TaskCounts = { chain: zeroes(), direct: zeroes(), total: zeroes() };
  const byModel = new Map<string, number>();
  const earned = new Map<string, { tasks: number; payout: bigint }>();
  for (const r of rows) {
    const n = Number(r.n);
    if (r.source === 'chain' || r.source === 'direct') byStatus[r.source][r.status] += n;
    byStatus.total[r.status] += n;
    byModel.set(r.model, (byModel.get(r.model) ?? 0) + n);
    if (r.status === 'settled' && r.payout !== null) {
      const node = r.node ?? UNKNOWN_NODE;
      const e = earned.get(node) ?? { tasks: 0, payout: 0n };
      earned.set(node, { tasks: e.tasks + n, payout: e.payout + r.payout });
    }
  }
  const earnings = [...earned]
    .sort(([an, a], [bn, b]) => (a.payout === b.payout ? an.localeCompare(bn) : a.payout > b.payout ? -1 : 1))
    .map(([node_id, e]) => ({ node_id, settled_tasks: e.tasks, payout: e.payout.toString() }));
  return { byStatus, byModel, earnings };
}

/**
 * micro-STX paid to each node per bucket of settlement time, read through the confirmed
 * settlement transactions (a small table) and their tasks (indexed by txid) rather than by
 * scanning every task. Numbers: one bucket's payouts stay far below 2^53.
 */
export function earningsByNode(sqlite: Database.Database, w: Window, rows: RowSource = freshRows(w)): KeyedSeries {
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
export function recentSettlements(sqlite: Database.Database, chainApiUrl: string, limit: number): SettlementView[] {
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
