/**
 * The signer's database: a SQLite file (the default: WAL mode, migrated at open with the
 * drizzle-kit migrations under ./migrations) or a PostgreSQL database shared by replicas (issue
 * 15: the synchronous facade of ./pg-sync.ts, migrated at open with ./migrations-pg). The same
 * drizzle handle and raw statements run on both.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { PgSyncDb } from './pg-sync.js';
import type { Dialect, LeaderLock, SyncDb } from './sync-db.js';
import * as schema from './tables/index.js';

export * from './tables/index.js';
export { atomic, isRetryable, prepared, type AtomicOptions } from './statements.js';
export type { Dialect, LeaderLock, SyncDb, SyncStatement } from './sync-db.js';
export { redactUrl } from './pg-sync.js';

/** The typed drizzle handle used by every module of the signer. */
export type Db = BetterSQLite3Database<typeof schema>;

/** An open database: drizzle for queries, the raw synchronous handle for statements and transactions. */
export interface SignerDatabase {
  db: Db;
  /** better-sqlite3 on SQLite, the facade on PostgreSQL (the name stayed). */
  sqlite: SyncDb;
  dialect: Dialect;
  /** The replicas' leader lock (PostgreSQL only: a single SQLite signer always leads). */
  lock?: LeaderLock;
  /** What it was opened from, password included: for a second connection of this process only, never to print. */
  location: string;
  close(): void;
}

const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));

/** True when `location` names a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/**
 * Opens and migrates the database at `location`: a postgres:// or postgresql:// URL, or a SQLite
 * file (created with its folder if needed; ":memory:" for a throwaway one).
 */
export function openDatabase(location: string): SignerDatabase {
  if (isPostgresUrl(location)) {
    const pg = new PgSyncDb(location);
    // drizzle's better-sqlite3 session only prepares, runs and nests transactions: the facade's surface.
    const db = drizzle({ client: pg as unknown as Database.Database, schema });
    return { db, sqlite: pg, dialect: 'postgres', lock: pg.lock, location, close: () => pg.close() };
  }
  if (location !== ':memory:') mkdirSync(dirname(location), { recursive: true });
  const sqlite = new Database(location);
  sqlite.pragma('journal_mode = WAL');
  // WAL + NORMAL is durable across process crashes (only an OS crash can lose the last commits).
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = drizzle({ client: sqlite, schema });
  migrate(db, { migrationsFolder });
  // better-sqlite3's transaction() returns its own Transaction type, which SyncDb's `F` does not admit.
  return {
    db,
    sqlite: sqlite as unknown as SyncDb,
    dialect: 'sqlite',
    location,
    close: () => sqlite.close(),
  };
}
