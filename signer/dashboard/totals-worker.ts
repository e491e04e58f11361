/**
 * The dashboard totals thread (see ./all-time.ts): makes the all-time pass over every task on
 * its own read-only connection to the signer's database file. WAL lets it read while the main
 * connection writes; it sees the database as of the start of its one query.
 */
import Database from 'better-sqlite3';
import { serve } from '../../protocol/index.js';
import { taskTotals, type TaskTotals } from './totals.js';

let open: { path: string; sqlite: Database.Database } | null = null;

/** The connection to `path`, opened on the first pass and kept (its prepared statement too). */
function connection(path: string): Database.Database {
  if (open?.path === path) return open.sqlite;
  open?.sqlite.close();
  const sqlite = new Database(path, { readonly: true, fileMustExist: true });
  // A checkpoint may hold the WAL index a moment; wait as the main connection does.
  sqlite.pragma('busy_timeout = 5000');
  open = { path, sqlite };
  return sqlite;
}

/** The calls a dashboard totals thread answers. */
export const handlers = {
  /** The all-time pass over the database file at `path`, and how long it took on this thread (ms). */
  totals(m: { path: string }): { totals: TaskTotals; ms: number } {
    const t0 = performance.now();
    const totals = taskTotals(connection(m.path));
    return { totals, ms: performance.now() - t0 };
  },
};

serve(handlers);
