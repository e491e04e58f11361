/**
 * settlements: every transaction the signer builds. The row (with the signed bytes) is written
 * before broadcast, so after a crash the same transaction is re-checked or re-sent, never rebuilt.
 */
import { sql } from 'drizzle-orm';
import { sqliteTable, text, integer, index, uniqueIndex } from 'drizzle-orm/sqlite-core';

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
    /** The leader epoch (leader_lease) of the replica that built it; null before replicas. */
    leader_epoch: integer('leader_epoch'),
  },
  (t) => [
    index('settlements_status_idx').on(t.status),
    // One open transaction per nonce, whoever builds it: two leaders can never both hold one.
    uniqueIndex('settlements_open_nonce_idx').on(t.nonce).where(sql`${t.status} in ('built', 'broadcast')`),
  ],
);
