/**
 * The PostgreSQL schema, derived from the SQLite one (issue 15). The sqlite-core tables in ./tables
 * stay the one source: the runtime uses them on both dialects (through the PostgreSQL facade), and
 * this file rebuilds each as a pg-core table for drizzle-kit (drizzle.pg.config.ts), so one schema
 * change regenerates both dialects' migrations (`npm run db:generate`). drizzle has no
 * dialect-neutral tables (drizzle-orm#1196); deriving keeps the two from drifting, and
 * tests/signer/pg-schema.test.ts checks the migrated databases agree.
 */
import { Column, getTableName, is, SQL } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  check,
  customType,
  doublePrecision,
  foreignKey,
  index,
  type PgColumnBuilderBase,
  type PgTable,
  pgTable,
  primaryKey,
  text,
  unique,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { getTableConfig, type SQLiteColumn, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as sqliteTables from './tables/index.js';

/** better-sqlite3 returns blobs as Buffers; bytea is PostgreSQL's byte string. */
const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });

/** Derived tables by table name, so foreign keys and SQL fragments can find their columns. */
const derived = new Map<string, Record<string, AnyPgColumn>>();

function columnsOf(tableName: string): Record<string, AnyPgColumn> {
  const columns = derived.get(tableName);
  if (!columns) throw new Error(`pg-schema: table ${tableName} is referenced but not derived`);
  return columns;
}

/**
 * One column's PostgreSQL type. SQLite integers become bigint: the schema stores ms timestamps,
 * which overflow int4. A column type without a mapping fails here, not silently in production.
 */
function deriveColumn(tableName: string, col: SQLiteColumn): PgColumnBuilderBase {
  const where = `${tableName}.${col.name}`;
  if (col.generated) throw new Error(`pg-schema: generated column ${where} has no PostgreSQL form yet`);
  // biome-ignore lint/suspicious/noExplicitAny: pg-core's builders differ in type; the chain below is common to all.
  let b: any;
  switch (col.columnType) {
    case 'SQLiteText':
      b = text(col.name);
      break;
    case 'SQLiteInteger':
      b = bigint(col.name, { mode: 'number' });
      break;
    case 'SQLiteReal':
      b = doublePrecision(col.name);
      break;
    case 'SQLiteBlobBuffer':
      b = bytea(col.name);
      break;
    default:
      throw new Error(
        `pg-schema: no PostgreSQL type for ${where} (${col.columnType}): add one in signer/db/pg-schema.ts`,
      );
  }
  if (col.primary) b = b.primaryKey();
  if ((col as SQLiteColumn & { autoIncrement?: boolean }).autoIncrement) b = b.generatedByDefaultAsIdentity();
  if (col.notNull && !col.primary) b = b.notNull();
  if (col.default !== undefined) b = b.default(is(col.default, SQL) ? toPg(col.default) : col.default);
  if (col.isUnique) b = b.unique(col.uniqueName);
  return b;
}

/** An SQL fragment (index `where`, check, default) with each SQLite column swapped for its PostgreSQL twin. */
function toPg(fragment: SQL): SQL {
  return new SQL(
    fragment.queryChunks.map((chunk) => {
      if (is(chunk, SQL)) return toPg(chunk);
      if (is(chunk, Column)) return columnsOf(getTableName(chunk.table))[chunk.name];
      return chunk;
    }),
  );
}

type IndexColumn = SQLiteColumn | SQL;
type Columns = [AnyPgColumn, ...AnyPgColumn[]];
// biome-ignore lint/suspicious/noExplicitAny: pg-core's extra-config columns, looked up by name (each kind types them apart).
type ExtraColumns = Record<string, any>;

/** The derived table's columns named like `list`'s SQLite columns, in that order. */
const pick = (t: ExtraColumns, list: { name: string }[]) => list.map((c) => t[c.name]) as Columns;

/**
 * An index column. SQLite takes a descending key only as SQL (`sql\`${t.priority} desc\``, as in
 * tasks_queue_idx); that is read back as the column with `.desc()`. Any other expression fails.
 */
function indexColumn(tableName: string, t: ExtraColumns, c: IndexColumn) {
  if (is(c, Column)) return t[c.name];
  const columns = c.queryChunks.filter((chunk) => is(chunk, Column)) as Column[];
  const rest = c.queryChunks
    .filter((chunk) => !is(chunk, Column))
    .map((chunk) => (chunk && typeof chunk === 'object' && 'value' in chunk ? [chunk.value].flat().join('') : '?'))
    .join('')
    .trim()
    .toLowerCase();
  if (columns.length === 1 && (rest === 'desc' || rest === 'asc' || rest === '')) {
    const col = t[columns[0].name];
    return rest === 'desc' ? col.desc() : col;
  }
  throw new Error(`pg-schema: index expression on ${tableName} has no PostgreSQL form yet`);
}

/** Rebuilds one sqlite-core table as a pg-core table (columns, keys, indexes, foreign keys, checks). */
function derive(table: SQLiteTable): PgTable {
  const config = getTableConfig(table);
  const columns = Object.fromEntries(config.columns.map((col) => [col.name, deriveColumn(config.name, col)]));
  const built = pgTable(config.name, columns, (t: ExtraColumns) => [
    ...config.primaryKeys.map((pk) => primaryKey({ columns: pick(t, pk.columns) })),
    ...config.uniqueConstraints.map((u) => unique(u.name).on(...pick(t, u.columns))),
    ...config.checks.map((c) => check(c.name, toPg(c.value))),
    ...config.foreignKeys.map((fk) => {
      const ref = fk.reference();
      const target = columnsOf(getTableName(ref.foreignTable));
      const built = foreignKey({
        name: fk.getName(),
        columns: pick(t, ref.columns),
        foreignColumns: pick(target, ref.foreignColumns),
      });
      if (fk.onDelete) built.onDelete(fk.onDelete);
      if (fk.onUpdate) built.onUpdate(fk.onUpdate);
      return built;
    }),
    ...config.indexes.map(({ config: ix }) => {
      const on = (ix.unique ? uniqueIndex : index)(ix.name).on(
        ...(ix.columns.map((c) => indexColumn(config.name, t, c as IndexColumn)) as Columns),
      );
      return ix.where ? on.where(toPg(ix.where)) : on;
    }),
  ]);
  derived.set(config.name, built as unknown as Record<string, AnyPgColumn>);
  return built;
}

// One export per table of ./tables/index.ts, by the same name: drizzle-kit reads a schema module's exports.
// tests/signer/pg-schema.test.ts fails when a table is exported there and not here.
export const inferenceTasks = derive(sqliteTables.inferenceTasks);
export const inferenceNodes = derive(sqliteTables.inferenceNodes);
export const taskEvents = derive(sqliteTables.taskEvents);
export const chainCursor = derive(sqliteTables.chainCursor);
export const settlements = derive(sqliteTables.settlements);
export const inputBlobs = derive(sqliteTables.inputBlobs);
export const adminUsers = derive(sqliteTables.adminUsers);
export const adminSessions = derive(sqliteTables.adminSessions);
export const apiTokens = derive(sqliteTables.apiTokens);
export const inferenceLogs = derive(sqliteTables.inferenceLogs);
export const consoleModels = derive(sqliteTables.consoleModels);
export const prepaidAccounts = derive(sqliteTables.prepaidAccounts);
export const prepaidReceipts = derive(sqliteTables.prepaidReceipts);
export const prepaidPeriods = derive(sqliteTables.prepaidPeriods);
export const payeeCredits = derive(sqliteTables.payeeCredits);
export const modelPolicies = derive(sqliteTables.modelPolicies);
export const guardAudit = derive(sqliteTables.guardAudit);
export const nodeReservations = derive(sqliteTables.nodeReservations);
export const sealedInputs = derive(sqliteTables.sealedInputs);
export const leaderLease = derive(sqliteTables.leaderLease);
export const replayKeys = derive(sqliteTables.replayKeys);
export const loginFailures = derive(sqliteTables.loginFailures);
export const consoleSetup = derive(sqliteTables.consoleSetup);
