/** chain_cursor: how far the watcher has read each event stream, and the last chain tip seen. */
import { sqliteTable, text, integer } from 'drizzle-orm/sqlite-core';

export const chainCursor = sqliteTable('chain_cursor', {
  /** Stream name, e.g. the escrow contract principal. */
  id: text('id').primaryKey(),
  cursor: text('cursor'),
  tip_height: integer('tip_height'),
  updated_at: integer('updated_at').notNull(),
});
