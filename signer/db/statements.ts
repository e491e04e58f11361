/**
 * A per-connection cache of prepared statements keyed by their SQL text, and one reusable
 * transaction wrapper. drizzle builds and prepares its SQL on every call; on a completion that is
 * most of the cost, so hot paths write their SQL by hand and prepare it here once.
 */
import type Database from 'better-sqlite3';
import { PgSyncDb } from './pg-sync.js';
import type { SyncDb, SyncStatement } from './sync-db.js';

export { isRetryable } from './pg-sync.js';

const caches = new WeakMap<object, Map<string, SyncStatement>>();
const runners = new WeakMap<SyncDb, (fn: () => unknown) => unknown>();

/** The prepared statement for `sql` on this connection, prepared once. */
export function prepared(sqlite: Database.Database, sql: string): Database.Statement;
export function prepared(sqlite: SyncDb, sql: string): SyncStatement;
export function prepared(sqlite: SyncDb | Database.Database, sql: string): SyncStatement {
  let cache = caches.get(sqlite);
  if (!cache) caches.set(sqlite, (cache = new Map()));
  let stmt = cache.get(sql);
  if (!stmt) cache.set(sql, (stmt = sqlite.prepare(sql) as SyncStatement));
  return stmt;
}

/** How `atomic` runs on PostgreSQL; SQLite has one writer at a time and ignores it. */
export interface AtomicOptions {
  /**
   * The outermost transaction's isolation on PostgreSQL (default REPEATABLE READ, retried on
   * 40001/40P01). Leasing takes row locks itself (FOR UPDATE SKIP LOCKED) and runs READ COMMITTED.
   */
  isolation?: 'read committed';
}

/**
 * Runs `fn` in one SQL transaction (a savepoint when one is open), as
 * `sqlite.transaction(fn)()` does, but through one transaction function made once per
 * connection: better-sqlite3 builds four wrappers each time `transaction()` is called.
 * On PostgreSQL the outermost call runs REPEATABLE READ and runs `fn` again on a serialization
 * failure or deadlock, so `fn` must touch only the database (no emits before it returns).
 */
export function atomic<T>(sqlite: SyncDb, fn: () => T, opts?: AtomicOptions): T {
  if (opts?.isolation && sqlite instanceof PgSyncDb) return sqlite.atomic(fn, opts.isolation);
  let run = runners.get(sqlite);
  if (!run) runners.set(sqlite, (run = sqlite.transaction((f: () => unknown) => f())));
  return run(fn) as T;
}
