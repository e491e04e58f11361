/**
 * The dashboard's all-time counters, kept by triggers on inference_tasks (migration
 * 0009_dashboard_counters): tasks per (source, status, model) and what each node was paid. The
 * dashboard reads these few rows on every refresh instead of grouping every task (hundreds of ms
 * at 100,000 tasks); a trigger adds one small upsert to a task's insert or status change.
 */
import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const dashboardTaskCounts = sqliteTable(
  'dashboard_task_counts',
  {
    source: text('source').notNull(),
    status: text('status').notNull(),
    model: text('model').notNull(),
    n: integer('n').notNull(),
  },
  (t) => [primaryKey({ columns: [t.source, t.status, t.model] })],
);

export const dashboardNodeEarnings = sqliteTable('dashboard_node_earnings', {
  /** inference_node_id; '' when a settled task names no node. */
  node_id: text('node_id').primaryKey(),
  /** Settled tasks with a payout. */
  settled_tasks: integer('settled_tasks').notNull(),
  /** Sum of their node_payout, micro-STX (fits 64 bits: more than all STX there is). */
  payout: integer('payout').notNull(),
});
