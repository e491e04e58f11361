/**
 * input_blobs: content-addressed task inputs (PUT /api/v1/inputs/{sha256}, and the bodies of
 * direct inference requests); they survive restarts, and the sweep deletes them once no task needs
 * them any more (signer/uploads).
 */
import { sql } from 'drizzle-orm';
import { sqliteTable, text, integer, blob, index } from 'drizzle-orm/sqlite-core';

export const inputBlobs = sqliteTable(
  'input_blobs',
  {
    sha256: text('sha256').primaryKey(),
    data: blob('data', { mode: 'buffer' }).notNull(),
    size: integer('size').notNull(),
    content_type: text('content_type').notNull(),
    created_at: integer('created_at').notNull(),
    /**
     * The principal whose signed request stored it before any task named it (counted against
     * its cap while no task does); null when a task already named it, or for direct inference.
     */
    uploader: text('uploader'),
    /**
     * The data level the policy guard read these bytes at (L0, L1, L2; signer/guard/stored.ts): a
     * chain task of a stricter model has them read again at its level when it arrives. Null when
     * they were not read (guard off, ciphertext, a direct request's body): read at the task's level.
     */
    guard_level: text('guard_level'),
  },
  (t) => [
    // Caps count a requester's inputs that no task names yet: only signed uploads are ever looked up this way. The
    // index holds what the caps read (a column stored after `data` is read through the blob's overflow pages).
    index('input_blobs_unclaimed_idx').on(t.uploader, t.sha256, t.size).where(sql`${t.uploader} is not null`),
    // The input sweep looks for old uploads without reading every blob.
    index('input_blobs_created_idx').on(t.created_at),
  ],
);
