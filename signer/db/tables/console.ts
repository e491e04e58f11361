/**
 * The operator console's tables (DESIGN §4 "Management"): the admin account and its sessions,
 * API tokens with their persisted counters, the inference log that meters direct inference,
 * and models uploaded through the console before and after they are published on chain.
 */
import { sql } from 'drizzle-orm';
import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';

/** The console's admin account(s); the first is created by the initialization page. */
export const adminUsers = sqliteTable('admin_users', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  username: text('username').notNull().unique(),
  /** scrypt hash with its parameters and salt (`scrypt$N$r$p$salt$hash`). */
  password_hash: text('password_hash').notNull(),
  created_at: integer('created_at').notNull(),
});

/** Logged-in sessions; the cookie carries a random id and only its sha256 is stored. */
export const adminSessions = sqliteTable(
  'admin_sessions',
  {
    id_hash: text('id_hash').primaryKey(),
    user_id: integer('user_id')
      .notNull()
      .references(() => adminUsers.id, { onDelete: 'cascade' }),
    csrf_token: text('csrf_token').notNull(),
    created_at: integer('created_at').notNull(),
    expires_at: integer('expires_at').notNull(),
  },
  (t) => [index('admin_sessions_expiry_idx').on(t.expires_at)],
);

/**
 * API tokens for direct inference. Only the token's sha256 is stored. `status` follows the
 * Cinfer token state machine: active, paused, over_limit, expired (deleted rows are gone).
 * Counters live here so that a restart keeps them.
 */
export const apiTokens = sqliteTable('api_tokens', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull(),
  token_hash: text('token_hash').notNull().unique(),
  /** First characters of the token, shown so an operator can tell tokens apart. */
  token_prefix: text('token_prefix').notNull(),
  /** JSON array of model names; null means every model. */
  allowed_models: text('allowed_models'),
  /** JSON array of IPs / CIDR ranges; empty means any address. */
  ip_allowlist: text('ip_allowlist').notNull().default('[]'),
  /** Requests per minute; 0 means no limit. */
  rate_limit_per_minute: integer('rate_limit_per_minute').notNull().default(60),
  /** Requests per calendar month (UTC); 0 means no limit. */
  monthly_quota: integer('monthly_quota').notNull().default(0),
  /** ms since epoch; null never expires. */
  expires_at: integer('expires_at'),
  status: text('status').notNull().default('active'),
  /** Month (`YYYY-MM`, UTC) that `month_count` counts. */
  usage_month: text('usage_month').notNull().default(''),
  month_count: integer('month_count').notNull().default(0),
  /** Start (ms) of the minute window that `minute_count` counts. */
  minute_started_at: integer('minute_started_at').notNull().default(0),
  minute_count: integer('minute_count').notNull().default(0),
  total_count: integer('total_count').notNull().default(0),
  last_used_at: integer('last_used_at'),
  /** Prepaid account (principal) the token's direct inference is charged to; null: not metered against a deposit. */
  account: text('account'),
  /** Data level of what this token sends (L0, L1, L2; protocol/privacy); null: the guard's default_level. */
  data_level: text('data_level'),
  created_at: integer('created_at').notNull(),
  updated_at: integer('updated_at').notNull(),
});

/** One row per direct-inference request (or refused attempt): what usage metering and the dashboard read. */
export const inferenceLogs = sqliteTable(
  'inference_logs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    request_id: text('request_id').notNull(),
    token_id: integer('token_id'),
    model: text('model').notNull(),
    /** The task that carried it (inference_tasks.task_id), when one was created. */
    task_id: text('task_id'),
    /** success, failed, timeout, rejected. */
    status: text('status').notNull(),
    http_status: integer('http_status').notNull(),
    /** Inputs in the request (1, or the batch size). */
    items: integer('items').notNull().default(1),
    latency_ms: integer('latency_ms'),
    error: text('error'),
    created_at: integer('created_at').notNull(),
  },
  (t) => [
    index('inference_logs_time_idx').on(t.created_at),
    index('inference_logs_token_idx').on(t.token_id, t.created_at),
    index('inference_logs_model_idx').on(t.model, t.created_at),
    index('inference_logs_task_idx').on(t.task_id).where(sql`${t.task_id} is not null`),
  ],
);

/** Model files uploaded through the console: validated in onnxruntime, then published on chain. */
export const consoleModels = sqliteTable(
  'console_models',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    /** Registry model name it is (or will be) published under. */
    name: text('name').notNull(),
    /** sha256 of the .onnx file: the artifact hash on chain and the file name in the artifact store. */
    sha256: text('sha256').notNull(),
    size: integer('size').notNull(),
    /** JSON: the inputs and outputs onnxruntime read from the file. */
    inputs: text('inputs'),
    outputs: text('outputs'),
    /** uploaded, invalid, validated, published, unpublished. */
    status: text('status').notNull(),
    error: text('error'),
    /** micro-STX per call (decimal string). */
    price: text('price'),
    /** Registry output id and version this upload became, once published. */
    output_id: text('output_id'),
    version: integer('version'),
    publish_txid: text('publish_txid'),
    created_at: integer('created_at').notNull(),
    updated_at: integer('updated_at').notNull(),
  },
  (t) => [index('console_models_name_idx').on(t.name, t.created_at)],
);
