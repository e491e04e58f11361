/**
 * A per-connection cache of prepared statements keyed by their SQL text, and one reusable
 * transaction wrapper. drizzle builds and prepares its SQL on every call; on a completion that is
 * most of the cost, so hot paths write their SQL by hand and prepare it here once.
 */
import type Database from 'better-sqlite3';

const caches = new WeakMap<Database.Database, Map<string, Database.Statement>>();
const runners = new WeakMap<Database.Database, (fn: () => unknown) => unknown>();

/** The prepared statement for `sql` on this connection, prepared once. */
export function prepared(sqlite: Database.Database, sql: string): Database.Statement {
  let cache = caches.get(sqlite);
  if (!cache) caches.set(sqlite, (cache = new Map()));
  let stmt = cache.get(sql);
  if (!stmt) cache.set(sql, (stmt = sqlite.prepare(sql)));
  return stmt;
}

/**
 * Runs `fn` in one SQL transaction (a savepoint when one is open), as
 * `sqlite.transaction(fn)()` does, but through one transaction function made once per
 * connection: better-sqlite3 builds four wrappers each time `transaction()` is called.
 */
export function atomic<T>(sqlite: Database.Database, fn: () => T): T {
  let run = runners.get(sqlite);
  if (!run) runners.set(sqlite, (run = sqlite.transaction((f: () => unknown) => f())));
  return run(fn) as T;
}
