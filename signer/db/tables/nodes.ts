/** inference_nodes: the seed service's node columns plus capabilities, load and reputation. */
import { sqliteTable, text, integer, real } from 'drizzle-orm/sqlite-core';

export const inferenceNodes = sqliteTable('inference_nodes', {
  node_id: text('node_id').primaryKey(),
  endpoint: text('endpoint').notNull().default(''),
  /** Compressed secp256k1 key; every node request and result is signed with it. */
  public_key: text('public_key').notNull().unique(),
  status: text('status').notNull(),
  /** JSON array of artifact hashes. */
  supported_models: text('supported_models').notNull(),
  performance_score: real('performance_score').notNull(),
  last_heartbeat: integer('last_heartbeat').notNull(),
  /** JSON of protocol/api capabilitiesSchema. */
  capabilities: text('capabilities'),
  gpu_memory_mb: integer('gpu_memory_mb').notNull().default(0),
  /** Results accepted from this node, ever. */
  task_count: integer('task_count').notNull().default(0),
  created_at: integer('created_at').notNull(),
  updated_at: integer('updated_at').notNull(),
  // reputation: decayed counts, see signer/nodes/reputation.ts
  successes: real('successes').notNull().default(0),
  failures: real('failures').notNull().default(0),
  reputation_at: integer('reputation_at').notNull().default(0),
  last_failure_at: integer('last_failure_at'),
  /** Exponential moving average of lease-to-result time, ms. */
  latency_ms: real('latency_ms'),
  /** Set by an admin in the console: the node may run L2 (sensitive) inputs in clear text (issue 14). */
  trusted: integer('trusted').notNull().default(0),
});
