/** input_blobs: content-addressed task inputs (PUT /api/v1/inputs/{sha256}); they survive restarts. */
import { sqliteTable, text, integer, blob } from 'drizzle-orm/sqlite-core';

export const inputBlobs = sqliteTable('input_blobs', {
  sha256: text('sha256').primaryKey(),
  data: blob('data', { mode: 'buffer' }).notNull(),
  size: integer('size').notNull(),
  content_type: text('content_type').notNull(),
  created_at: integer('created_at').notNull(),
});
