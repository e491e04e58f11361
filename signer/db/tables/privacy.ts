/**
 * Encrypted tasks (issue 14): which nodes a requester was offered, and the ciphertexts of an input
 * sealed to each of them. The signer holds ciphertext only; the plaintext's hash is the task's
 * input_hash, which the node checks after decrypting.
 */
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** A short hold on nodes for one requester's encrypted input: the nodes whose keys it was given. */
export const nodeReservations = sqliteTable(
  'node_reservations',
  {
    reservation_id: text('reservation_id').primaryKey(),
    /** The principal (or `token:<id>`) that asked; only it may upload ciphertexts under this reservation. */
    holder: text('holder').notNull(),
    model: text('model').notNull(),
    artifact_hash: text('artifact_hash').notNull(),
    /** JSON array of node ids. */
    node_ids: text('node_ids').notNull(),
    created_at: integer('created_at').notNull(),
    expires_at: integer('expires_at').notNull(),
  },
  (t) => [index('node_reservations_expires_idx').on(t.expires_at)],
);

/** An input sealed to one node: its ciphertext is the input blob `ciphertext_sha256`. */
export const sealedInputs = sqliteTable(
  'sealed_inputs',
  {
    /** sha256 of the plaintext envelope: the task's input_hash. */
    input_hash: text('input_hash').notNull(),
    node_id: text('node_id').notNull(),
    /** Who uploaded it (principal, or `token:<id>`): a task uses only its own requester's ciphertexts. */
    holder: text('holder').notNull(),
    ciphertext_sha256: text('ciphertext_sha256').notNull(),
    reservation_id: text('reservation_id').notNull(),
    created_at: integer('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.input_hash, t.node_id, t.holder] }),
    index('sealed_inputs_blob_idx').on(t.ciphertext_sha256),
  ],
);
