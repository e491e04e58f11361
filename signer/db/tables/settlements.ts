/**
 * settlements: every transaction the signer builds. The row (with the signed bytes) is written
 * before broadcast, so after a crash the same transaction is re-checked or re-sent, never rebuilt.
 */
import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';

export const settlements = sqliteTable(
  'settlements',
  {
    txid: text('txid').primaryKey(),
    /** complete-tasks or reclaim. */
    kind: text('kind').notNull(),
    /** built -> broadcast -> confirmed | aborted | dropped. */
    status: text('status').notNull(),
    raw: text('raw').notNull(),
    nonce: text('nonce').notNull(),
    /** JSON array of task_id, in the order of the transaction's items. */
    task_ids: text('task_ids').notNull(),
    item_count: integer('item_count').notNull(),
    block_height: integer('block_height'),
    reason: text('reason'),
    broadcasts: integer('broadcasts').notNull().default(0),
    created_at: integer('created_at').notNull(),
    updated_at: integer('updated_at').notNull(),
    broadcast_at: integer('broadcast_at'),
  },
  (t) => [index('settlements_status_idx').on(t.status)],
);
