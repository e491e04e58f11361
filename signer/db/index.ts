/**
 * The signer's SQLite database: opened in WAL mode, migrated at open with the drizzle-kit
 * migrations committed under ./migrations.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './tables/index.js';

export * from './tables/index.js';
export { atomic, prepared } from './statements.js';

/** The typed drizzle handle used by every module of the signer. */
export type Db = BetterSQLite3Database<typeof schema>;

/** An open database: drizzle for queries, the raw handle for pragmas and transactions. */
export interface SignerDatabase {
  db: Db;
  sqlite: Database.Database;
  close(): void;
}

const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));

/** Opens (creating if needed) and migrates the database at `path` (":memory:" for a throwaway one). */
export function openDatabase(path: string): SignerDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path);
  sqlite.pragma('journal_mode = WAL');
  // WAL + NORMAL is durable across process crashes (only an OS crash can lose the last commits).
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = drizzle({ client: sqlite, schema });
  migrate(db, { migrationsFolder });
  return { db, sqlite, close: () => sqlite.close() };
}
