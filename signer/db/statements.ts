/**
 * Cached prepared statements for the hot paths (task by id, node by id, status transitions).
 * drizzle builds and prepares its SQL on every call; on a completion that is most of the cost,
 * so these few statements are written once in SQL and reused.
 */
import type Database from 'better-sqlite3';

const caches = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** The prepared statement for `sql` on this connection, prepared once. */
export function prepared(sqlite: Database.Database, sql: string): Database.Statement {
  let cache = caches.get(sqlite);
  if (!cache) caches.set(sqlite, (cache = new Map()));
  let stmt = cache.get(sql);
  if (!stmt) cache.set(sql, (stmt = sqlite.prepare(sql)));
  return stmt;
}
