/**
 * The policy guard's tables (seed 004): the data level an operator sets per model, and the audit
 * log of the guard's decisions. The log says which rule matched at which field path and what was
 * done; it never holds the value that matched.
 */
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** A model's data level (L0, L1, L2), by model name; a model with no row has the guard's default_level. */
export const modelPolicies = sqliteTable('model_policies', {
  model: text('model').primaryKey(),
  data_level: text('data_level').notNull(),
  updated_at: integer('updated_at').notNull(),
});

/** One row per finding of the guard in a clear-text input. */
export const guardAudit = sqliteTable(
  'guard_audit',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull(),
    /** The API token that sent the input; null for requests not made with a token. */
    token_id: integer('token_id'),
    model: text('model').notNull(),
    /** The request id of a direct call, or the task id. */
    request_id: text('request_id').notNull(),
    /** The level the input was guarded at: the stricter of the token's and the model's. */
    data_level: text('data_level').notNull(),
    rule: text('rule').notNull(),
    /** Where in the input, as a JSON path (`$.inputs[0].data[2]`). */
    path: text('path').notNull(),
    /** pass, mask or refuse. */
    action: text('action').notNull(),
  },
  (t) => [index('guard_audit_at_idx').on(t.at)],
);
