/**
 * State that signer replicas on one PostgreSQL share (issue 15). A single SQLite signer keeps the
 * replay cache, the login throttle and the setup token in memory or beside its file; replicas
 * behind a load balancer must see each other's, so on PostgreSQL they live in these tables.
 */
import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';

/**
 * The leader's fencing token. The replica that takes the advisory lock bumps `epoch`; every
 * leader-only write checks, in its own transaction, that the epoch is still the one it took, so
 * a paused old leader's write fails instead of racing the new leader's.
 */
export const leaderLease = sqliteTable('leader_lease', {
  /** Always 1: one row. */
  id: integer('id').primaryKey(),
  epoch: integer('epoch').notNull(),
  /** Who took it: host, pid and start time of the replica, for operators. */
  holder: text('holder').notNull(),
  acquired_at: integer('acquired_at').notNull(),
});

/** Signatures of node requests already accepted, until their timestamp window has passed. */
export const replayKeys = sqliteTable(
  'replay_keys',
  {
    /** The signature's (r, s), as `signatureReplayKey` gives it. */
    key: text('key').primaryKey(),
    expires_at: integer('expires_at').notNull(),
  },
  (t) => [index('replay_keys_expires_idx').on(t.expires_at)],
);

/** Failed console logins per throttling key (address, or username and address), over a window. */
export const loginFailures = sqliteTable('login_failures', {
  key: text('key').primaryKey(),
  count: integer('count').notNull(),
  window_ends: integer('window_ends').notNull(),
});

/** The console's one-time setup token (its sha256 only), while no admin exists. */
export const consoleSetup = sqliteTable('console_setup', {
  /** Always 1: one row. */
  id: integer('id').primaryKey(),
  token_sha256: text('token_sha256').notNull(),
  created_at: integer('created_at').notNull(),
});
