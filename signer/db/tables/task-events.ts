/** task_events: every task status transition, with why it happened. */
import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';

export const taskEvents = sqliteTable(
  'task_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    task_id: text('task_id').notNull(),
    /** Null for the event that created the task. */
    from_status: text('from_status'),
    to_status: text('to_status').notNull(),
    reason: text('reason').notNull(),
    node_id: text('node_id'),
    txid: text('txid'),
    at: integer('at').notNull(),
  },
  (t) => [index('task_events_task_idx').on(t.task_id, t.id)],
);
