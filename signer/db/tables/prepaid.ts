/**
 * Prepaid accounts (signer/accounts): the signer's view of each account, one receipt per prepaid
 * request, the periods it settles on chain, and what it owes each payee. Amounts are micro-STX as
 * decimal strings (they may exceed 2^53), as in inference_tasks.
 */
import { sqliteTable, text, integer, index, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** One account of accounts.clar as the signer tracks it. */
export const prepaidAccounts = sqliteTable('prepaid_accounts', {
  account: text('account').primaryKey(),
  /** Compressed public key the account signs with (its principal is `account`). */
  public_key: text('public_key').notNull(),
  /** Balance on chain as last read (deposits minus withdrawals minus settled spend). */
  balance: text('balance').notNull().default('0'),
  /** Cumulative spend settled on chain. */
  spent: text('spent').notNull().default('0'),
  /** Nonce of the authorization last settled on chain. */
  settled_nonce: text('settled_nonce').notNull().default('0'),
  /** Block height from which a requested withdrawal may execute (null: none requested). */
  withdraw_at: integer('withdraw_at'),
  /** The latest spend authorization the account signed: cap, nonce, receipts root, signature (null before the first). */
  auth_cumulative: text('auth_cumulative').notNull().default('0'),
  auth_nonce: text('auth_nonce').notNull().default('0'),
  auth_root: text('auth_root'),
  auth_signature: text('auth_signature'),
  /** Sum of the fees of every revealed (paid) receipt: the market charges up to min(owed, cap). */
  owed: text('owed').notNull().default('0'),
  /** Sum of the max fees of accepted requests not yet paid for: held against the balance. */
  reserved: text('reserved').notNull().default('0'),
  /** When the chain state was last read (ms). */
  read_at: integer('read_at'),
  updated_at: integer('updated_at').notNull(),
});

/** One prepaid request: its task, and once paid for, its receipt leaf. */
export const prepaidReceipts = sqliteTable(
  'prepaid_receipts',
  {
    /** The task's id in inference_tasks (protocol prepaidTaskId). */
    task_id: text('task_id').primaryKey(),
    account: text('account').notNull(),
    /** The request's nonce (decimal). */
    nonce: text('nonce').notNull(),
    /** The signed request (protocol TaskRequestJson as JSON text) and its signature. */
    request: text('request').notNull(),
    request_signature: text('request_signature').notNull(),
    max_fee: text('max_fee').notNull(),
    /** Fee charged once the result exists (price x security, or the quote's). */
    fee: text('fee'),
    node_key: text('node_key'),
    output_hash: text('output_hash'),
    leaf_hash: text('leaf_hash'),
    /** JSON [{payee, amount}] the fee splits into; their sum is the fee. */
    shares: text('shares'),
    /** running -> due (result ready, unpaid) -> paid (an authorization covers it; revealed) -> settled; or failed. */
    status: text('status').notNull(),
    /** Nonce of the authorization that paid it. */
    paid_nonce: text('paid_nonce'),
    /** The period whose root holds its leaf. */
    period_id: integer('period_id'),
    created_at: integer('created_at').notNull(),
    paid_at: integer('paid_at'),
  },
  (t) => [
    uniqueIndex('prepaid_receipts_nonce_idx').on(t.account, t.nonce),
    index('prepaid_receipts_status_idx').on(t.status, t.account),
    index('prepaid_receipts_period_idx').on(t.period_id),
  ],
);

/** One settle-accounts transaction: the period's root, and what it charged. */
export const prepaidPeriods = sqliteTable(
  'prepaid_periods',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    root: text('root').notNull(),
    tasks: integer('tasks').notNull(),
    charged: text('charged').notNull(),
    /** JSON: the items and credits sent, to reconcile after a crash. */
    items: text('items').notNull(),
    /** The transaction in `settlements` (kind settle-accounts). */
    txid: text('txid'),
    /** built -> confirmed | failed. */
    status: text('status').notNull(),
    /** The period id the contract gave it. */
    chain_period: integer('chain_period'),
    created_at: integer('created_at').notNull(),
    confirmed_at: integer('confirmed_at'),
  },
  (t) => [index('prepaid_periods_status_idx').on(t.status)],
);

/** What the signer owes each payee (node key principal, model owner, treasury), cumulatively. */
export const payeeCredits = sqliteTable('payee_credits', {
  payee: text('payee').primaryKey(),
  /** Shares of every paid receipt. */
  owed: text('owed').notNull().default('0'),
  /** Credited on chain by confirmed settlements. */
  credited: text('credited').notNull().default('0'),
  updated_at: integer('updated_at').notNull(),
});
