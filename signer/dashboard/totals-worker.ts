/**
 * The dashboard totals thread (see ./all-time.ts): makes the all-time pass over every task on
 * its own read-only connection to the signer's database. On a SQLite file WAL lets it read while
 * the main connection writes; on PostgreSQL (a `postgres://` location, issue 15) it is a `pg`
 * client of its own, asynchronous since nothing else waits on this thread. Either way it sees the
 * database as of the start of its one query.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { serve } from '../../protocol/index.js';
import { PG_FORMS } from '../db/pg-forms.js';
import { foldTotals, TASK_TOTALS_SQL, taskTotals, type TaskTotals, type TotalsRow } from './totals.js';

/** The connection to the location last asked for, kept between passes (its prepared statement too). */
let open: { location: string; sqlite: Database.Database } | { location: string; client: pg.Client } | null = null;

/** True for a PostgreSQL connection URL (what the signer's `database.url` accepts besides a path). */
const isPostgresLocation = (location: string) => /^postgres(ql)?:\/\//i.test(location);

/** Closes the kept connection, if any. */
async function closeOpen(): Promise<void> {
  const was = open;
  open = null;
  if (was && 'sqlite' in was) was.sqlite.close();
  else if (was) await was.client.end().catch(() => {});
}

/** The SQLite file at `path`, opened read-only on the first pass. */
async function sqliteAt(path: string): Promise<Database.Database> {
  if (open?.location === path && 'sqlite' in open) return open.sqlite;
  await closeOpen();
  const sqlite = new Database(path, { readonly: true, fileMustExist: true });
  // A checkpoint may hold the WAL index a moment; wait as the main connection does.
  sqlite.pragma('busy_timeout = 5000');
  open = { location: path, sqlite };
  return sqlite;
}

/** A read-only session on the PostgreSQL database at `url`, connected on the first pass. */
async function postgresAt(url: string): Promise<pg.Client> {
  if (open?.location === url && 'client' in open) return open.client;
  await closeOpen();
  const client = new pg.Client({
    connectionString: url,
    // A pass never writes; a runaway one must not hold a backend forever.
    options: '-c default_transaction_read_only=on -c statement_timeout=60000',
    application_name: 'signer dashboard totals',
  });
  // A dropped connection fails the next pass (which then reconnects), not the thread.
  client.on('error', () => {
    if (open && 'client' in open && open.client === client) open = null;
  });
  await client.connect();
  open = { location: url, client };
  return client;
}

/** The pass on PostgreSQL: the same rows as SQLite's, counts and payout sums as exact bigints. */
async function postgresTotals(url: string): Promise<TaskTotals> {
  const client = await postgresAt(url);
  try {
    // pg returns count (int8) and sum (numeric) as decimal strings: exact at any size.
    const { rows } = await client.query<TotalsRow>(PG_FORMS.get(TASK_TOTALS_SQL)!);
    return foldTotals(rows);
  } catch (err) {
    // Reconnect on the next pass rather than reuse a connection in an unknown state.
    await closeOpen();
    throw err;
  }
}

/** The calls a dashboard totals thread answers. */
export const handlers = {
  /**
   * The all-time pass over the database at `path` (a SQLite file, or a `postgres://` URL), and how
   * long it took on this thread (ms).
   */
  async totals(m: { path: string }): Promise<{ totals: TaskTotals; ms: number }> {
    const t0 = performance.now();
    const totals = isPostgresLocation(m.path) ? await postgresTotals(m.path) : taskTotals(await sqliteAt(m.path));
    return { totals, ms: performance.now() - t0 };
  },
};

serve(handlers);
