/**
 * `signer db copy --from <sqlite file> --to postgres://…`: moves a signer's SQLite database to
 * PostgreSQL (issue 15), for an operator going from one signer to replicas. The target is migrated,
 * must be empty, and receives every table in one transaction: a copy that fails leaves it empty.
 * The source is opened read-only and read in one read transaction, so a signer still running on
 * it cannot make the copy inconsistent (stop it before copying anyway, or its later writes are lost).
 */
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { getTableName } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { getTableConfig, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import pg from 'pg';
import { migratePostgres } from './pg-migrate.js';
import * as tables from './tables/index.js';

/** Rows per insert statement. */
const BATCH_ROWS = 1000;
/**
 * Bytes of values per insert statement, about: input blobs may be megabytes each, and a thousand
 * of them would overflow PostgreSQL's 1 GB message limit (and this process's memory).
 */
const BATCH_BYTES = 16 * 1024 * 1024;
/** PostgreSQL's limit on bind parameters per statement. */
const MAX_PARAMS = 65_535;

/** A refusal the operator can act on (printed as is, exit status 1). */
export class CopyError extends Error {}

/** Rows per table, in the order they were copied (equal on both sides, or the copy fails). */
export type CopyReport = { table: string; rows: number }[];

/** `url` with its password replaced: what may be printed or logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The tables in an order where each comes after the tables its foreign keys reference. */
export function copyOrder(all: SQLiteTable[] = Object.values(tables)): SQLiteTable[] {
  const byName = new Map(all.map((t) => [getTableName(t), t]));
  const done = new Set<string>();
  const order: SQLiteTable[] = [];
  const visit = (table: SQLiteTable, path: string[]) => {
    const name = getTableName(table);
    if (done.has(name)) return;
    if (path.includes(name)) throw new Error(`foreign keys form a cycle: ${[...path, name].join(' -> ')}`);
    for (const fk of getTableConfig(table).foreignKeys) {
      const target = byName.get(getTableName(fk.reference().foreignTable));
      if (target && target !== table) visit(target, [...path, name]);
    }
    done.add(name);
    order.push(table);
  };
  for (const t of all) visit(t, []);
  return order;
}

/** Splits `rows` into batches of at most `maxRows` rows and about `maxBytes` bytes (a larger row goes alone). */
export function* batches(rows: Iterable<unknown[]>, maxRows: number, maxBytes: number): Generator<unknown[][]> {
  let batch: unknown[][] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = row.reduce<number>(
      (n, v) => n + (v instanceof Uint8Array ? v.byteLength : typeof v === 'string' ? v.length : 8),
      0,
    );
    if (batch.length && (batch.length === maxRows || bytes + size > maxBytes)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(row);
    bytes += size;
  }
  if (batch.length) yield batch;
}

/** Refuses a source the running code's schema does not match (its migrations are behind or ahead). */
function checkSourceSchema(source: Database.Database): void {
  const folder = fileURLToPath(new URL('./migrations', import.meta.url));
  const latest = Math.max(...readMigrationFiles({ migrationsFolder: folder }).map((m) => m.folderMillis));
  const applied = (() => {
    try {
      return source.prepare('select max(created_at) as at from __drizzle_migrations').get() as { at: number | null };
    } catch {
      return { at: null };
    }
  })();
  if (Number(applied.at) !== latest)
    throw new CopyError(
      'the SQLite database is not at this signer version’s schema: run this version of the signer on it once (it migrates at start), stop it, then copy',
    );
}

/**
 * Copies every table of the SQLite database `from` into the PostgreSQL database at `to`. Refuses
 * (CopyError) a target whose tables hold any row. Identity sequences restart above the copied ids.
 */
export async function copyDatabase(from: string, to: string): Promise<CopyReport> {
  let source: Database.Database;
  try {
    source = new Database(from, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new CopyError(`cannot open the SQLite database ${from}: ${(err as Error).message}`);
  }
  const target = new pg.Client({ connectionString: to });
  try {
    checkSourceSchema(source);
    try {
      await target.connect();
    } catch (err) {
      throw new CopyError(`cannot connect to ${redactUrl(to)}: ${(err as Error).message}`);
    }
    await migratePostgres(target);
    source.exec('begin');
    await target.query('begin');
    try {
      const report = await copyTables(source, target);
      await target.query('commit');
      return report;
    } catch (err) {
      await target.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      source.exec('rollback');
    }
  } finally {
    source.close();
    await target.end().catch(() => undefined);
  }
}

async function copyTables(source: Database.Database, target: pg.Client): Promise<CopyReport> {
  const order = copyOrder();
  const filled: string[] = [];
  for (const table of order) {
    const name = getTableName(table);
    const { rows } = await target.query(`select exists (select 1 from ${quote(name)}) as filled`);
    if (rows[0].filled) filled.push(name);
  }
  if (filled.length)
    throw new CopyError(
      `the target database already holds rows (in ${filled.join(', ')}): copy only into an empty database`,
    );
  const report: CopyReport = [];
  for (const table of order) {
    const config = getTableConfig(table);
    const columns = config.columns.map((c) => c.name);
    const list = columns.map(quote).join(', ');
    const perBatch = Math.min(BATCH_ROWS, Math.floor(MAX_PARAMS / columns.length));
    // safeIntegers: an integer above 2^53 is copied exactly (as a bigint), not rounded through a double.
    const read = source
      .prepare(`select ${list} from ${quote(config.name)}`)
      .raw()
      .safeIntegers(true);
    for (const batch of batches(read.iterate() as IterableIterator<unknown[]>, perBatch, BATCH_BYTES)) {
      const values = batch.map((_, r) => `(${columns.map((__, c) => `$${r * columns.length + c + 1}`).join(', ')})`);
      try {
        await target.query({
          // Full batches share one prepared statement, parsed and planned once (~1.5x the rows/s).
          name: batch.length === perBatch ? `copy_${config.name}` : undefined,
          text: `insert into ${quote(config.name)} (${list}) values ${values.join(', ')}`,
          values: batch.flat(),
        });
      } catch (err) {
        throw new CopyError(`copying ${config.name} failed: ${(err as Error).message}`);
      }
    }
    // Ids were copied as they were: the next generated one must come after them.
    for (const col of config.columns.filter((c) => (c as { autoIncrement?: boolean }).autoIncrement)) {
      await target.query(
        `select setval(pg_get_serial_sequence($1, $2), coalesce((select max(${quote(col.name)}) from ${quote(config.name)}), 0) + 1, false)`,
        [quote(config.name), col.name],
      );
    }
    const want = (source.prepare(`select count(*) as n from ${quote(config.name)}`).get() as { n: number }).n;
    const got = Number((await target.query(`select count(*) as n from ${quote(config.name)}`)).rows[0].n);
    if (got !== want) throw new CopyError(`${config.name}: ${want} rows in SQLite but ${got} in PostgreSQL`);
    report.push({ table: config.name, rows: got });
  }
  return report;
}
