/** inference_tasks: the seed service's task columns plus what the chain and settlement need. */
import { sql } from 'drizzle-orm';
import { sqliteTable, text, integer, real, index } from 'drizzle-orm/sqlite-core';

export const inferenceTasks = sqliteTable(
  'inference_tasks',
  {
    task_id: text('task_id').primaryKey(),
    user_address: text('user_address').notNull(),
    /** Inline input for API-submitted tasks; chain tasks carry `input_hash` and a blob. */
    user_input: text('user_input'),
    context: text('context'),
    /** micro-STX escrowed (decimal string: may exceed 2^53). */
    fee: text('fee').notNull(),
    nonce: integer('nonce'),
    infer_fee: text('infer_fee').notNull(),
    /** Longest a lease lasts, ms. */
    max_infer_time: integer('max_infer_time').notNull(),
    /** Model name. */
    model_type: text('model_type').notNull(),
    status: text('status').notNull(),
    created_at: integer('created_at').notNull(),
    updated_at: integer('updated_at').notNull(),
    /** Output as JSON text. */
    output: text('output'),
    confidence: real('confidence'),
    completed_at: integer('completed_at'),
    inference_node_id: text('inference_node_id'),
    // chain fields
    chain_task_id: text('chain_task_id').unique(),
    model_output: text('model_output'),
    artifact_hash: text('artifact_hash').notNull(),
    input_hash: text('input_hash').notNull(),
    /** Block height after which the fee is refundable. */
    deadline: integer('deadline'),
    privacy: text('privacy').notNull(),
    priority: integer('priority').notNull().default(0),
    /** Nodes that must agree on the output: 1, 3 or 5 (`security` of submit-task). */
    security: integer('security').notNull().default(1),
    /** Significant digits float outputs are rounded to before hashing (0 = exact), frozen in the task on chain. */
    precision: integer('precision').notNull().default(0),
    /** Share of level-1 tasks re-run on a second node, in basis points, frozen in the task on chain. */
    sample_bps: integer('sample_bps').notNull().default(0),
    /** Results from distinct nodes this task needs before it settles: 1, 2 for a spot check, 3 or 5. */
    runs_needed: integer('runs_needed').notNull().default(1),
    /** The signed results gathered so far when runs_needed > 1: JSON array of votes (tasks/votes.ts). */
    votes: text('votes'),
    /** Where the task came from: `chain` (escrowed, settled on chain) or `direct` (token-paid direct inference, never settled on chain). */
    source: text('source').notNull().default('chain'),
    submit_txid: text('submit_txid'),
    submit_block_height: integer('submit_block_height'),
    // lease and result
    attempts: integer('attempts').notNull().default(0),
    failures: integer('failures').notNull().default(0),
    leased_at: integer('leased_at'),
    lease_expires_at: integer('lease_expires_at'),
    output_hash: text('output_hash'),
    signature: text('signature'),
    node_public_key: text('node_public_key'),
    /** Last failure reason, or the reason a task is failed/timeout. */
    error: text('error'),
    // settlement
    settlement_txid: text('settlement_txid'),
    node_payout: text('node_payout'),
    settled_at: integer('settled_at'),
    reclaim_txid: text('reclaim_txid'),
    // privacy (issue 14)
    /** 1 when the input is L2 (sensitive) clear text: only nodes an admin marked trusted may lease it. */
    trusted_only: integer('trusted_only').notNull().default(0),
    /**
     * Encrypted tasks: the node's SIP-018 signature over {task, output hash, sha256 of the output
     * ciphertext}, so the requester holds the node's word for the exact ciphertext it was given.
     */
    sealed_signature: text('sealed_signature'),
  },
  (t) => [
    // The pull query: pending tasks of one model, highest priority first, then oldest.
    index('tasks_queue_idx').on(t.status, t.artifact_hash, sql`${t.priority} desc`, t.created_at),
    index('tasks_node_idx').on(t.inference_node_id, t.status),
    // The deadline sweep: tasks of one status at or before a block height.
    index('tasks_deadline_idx').on(t.status, t.deadline),
    index('tasks_settlement_idx').on(t.settlement_txid),
    // Uploads and the input sweep ask which tasks name an input (signer/uploads).
    index('tasks_input_idx').on(t.input_hash),
    // Latency percentiles of /api/v1/stats read the latest results only, from the index alone.
    index('tasks_completed_idx').on(t.completed_at, t.leased_at).where(sql`${t.completed_at} is not null`),
    // Tasks with votes (several runs) only: the sweep's spot-check query reads these few instead of every pending task.
    index('tasks_votes_idx').on(t.status).where(sql`${t.votes} is not null`),
  ],
);
