/**
 * The synchronous database surface the signer's data layer uses: the part of better-sqlite3's
 * `Database` it calls. better-sqlite3 provides it for SQLite; on PostgreSQL a facade provides
 * the same calls (issue 15), so drizzle's better-sqlite3 session and every hand-written statement
 * run unchanged on both.
 */

/** What `run` reports. */
export interface RunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

/** A prepared statement: positional `?` parameters, or one object for named `:x` ones. */
export interface SyncStatement {
  run(...params: unknown[]): RunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  /** Rows as arrays of values, not objects (drizzle's select uses it). */
  raw(toggle?: boolean): this;
  /** The first column of each row only. */
  pluck(toggle?: boolean): this;
}

/** A connection. `transaction(fn)` nests as savepoints, as better-sqlite3's does. */
export interface SyncDb {
  readonly name: string;
  readonly open: boolean;
  prepare(sql: string): SyncStatement;
  transaction<F extends (...args: never[]) => unknown>(fn: F): F;
  exec(sql: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  close(): unknown;
}

/** Which engine a `SignerDatabase` runs on. */
export type Dialect = 'sqlite' | 'postgres';

/**
 * The leader lock of replicas on PostgreSQL: a session-level advisory lock held on a connection
 * of its own. SQLite has no such lock: a single signer always leads.
 */
export interface LeaderLock {
  /** Takes the lock if free; true if this process holds it now. */
  tryAcquire(): boolean;
  /** False once the lock's connection is gone (the lock is then lost). */
  alive(): boolean;
  release(): void;
}
