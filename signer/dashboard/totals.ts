/**
 * The dashboard's all-time pass over every task: counts by status and source, tasks per model
 * and node earnings. It runs on the dashboard totals thread (./totals-worker.ts) over its own
 * read-only connection, so it imports nothing heavier than better-sqlite3's types.
 */
import type Database from 'better-sqlite3';
// Not protocol/index.js: that door would load stacks.js into the thread for one list of names.
import { TASK_STATUSES, type TaskStatus } from '../../protocol/index.js';
import { prepared, type SyncDb } from '../db/index.js';

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

/** A zero count for every task status. */
export const zeroCounts = () => Object.fromEntries(TASK_STATUSES.map((st) => [st, 0])) as Record<TaskStatus, number>;

/** How earnings name a settled task without a node. */
export const UNKNOWN_NODE = '(unknown node)';

/**
 * The one pass over inference_tasks behind the totals (its PostgreSQL form is in db/pg-forms.ts):
 * a few dozen grouped rows that `foldTotals` folds.
 */
export const TASK_TOTALS_SQL = `select source, status, model_type model, inference_node_id node, count(*) n,
      sum(case when status = 'settled' then cast(node_payout as integer) end) payout
    from inference_tasks group by source, status, model_type, inference_node_id`;

/**
 * One grouped row of TASK_TOTALS_SQL. Sums are exact as bigints (better-sqlite3's safeIntegers) or
 * as decimal text past 2^53 (PostgreSQL), numbers only below it.
 */
export interface TotalsRow {
  source: string;
  status: TaskStatus;
  model: string;
  node: string | null;
  n: bigint | number | string;
  payout: bigint | number | string | null;
}

/**
 * Every task counted in one pass over inference_tasks (the table only grows, and each of these
 * figures alone would scan it again), grouped into a few dozen rows that JavaScript folds. The
 * grouping sorts every row (350-550 ms at 100,000 tasks on a loaded machine), so it runs off the
 * signer's event loop and callers reuse the result a while.
 */
export function taskTotals(sqlite: Database.Database | SyncDb): TaskTotals {
  // safeIntegers: payout sums come back as bigints, exact at any size.
  return foldTotals(
    prepared(sqlite as Database.Database, TASK_TOTALS_SQL)
      .safeIntegers(true)
      .all() as TotalsRow[],
  );
}

/** The totals of TASK_TOTALS_SQL's rows (whichever database they were read from). */
export function foldTotals(rows: TotalsRow[]): TaskTotals {
  const byStatus: TaskCounts = { chain: zeroCounts(), direct: zeroCounts(), total: zeroCounts() };
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
      earned.set(node, { tasks: e.tasks + n, payout: e.payout + BigInt(r.payout) });
    }
  }
  const earnings = [...earned]
    .sort(([an, a], [bn, b]) => (a.payout === b.payout ? an.localeCompare(bn) : a.payout > b.payout ? -1 : 1))
    .map(([node_id, e]) => ({ node_id, settled_tasks: e.tasks, payout: e.payout.toString() }));
  return { byStatus, byModel, earnings };
}
