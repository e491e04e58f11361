/**
 * Schema drift between the dialects (issue 15): a SQLite file migrated with signer/db/migrations and
 * a PostgreSQL database migrated with signer/db/migrations-pg must hold the same tables, columns,
 * nullability, defaults, primary keys and indexes (partial ones included); and the committed migrations of
 * both dialects must be what drizzle-kit makes of the tables today (which also catches a changed
 * default or index predicate). A sqlite column or index added without regenerating the PostgreSQL
 * migration (`npm run db:generate`) fails here. Also: the PostgreSQL migrations apply once when
 * three replicas start together, and again changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getTableName, is } from 'drizzle-orm';
import {
  type DrizzleSnapshotJSON,
  type DrizzleSQLiteSnapshotJSON,
  generateDrizzleJson,
  generateMigration,
  generateSQLiteDrizzleJson,
  generateSQLiteMigration,
} from 'drizzle-kit/api';
import { PgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase } from '../../signer/db/index.js';
import { migratePostgres } from '../../signer/db/pg-migrate.js';
import * as pgSchema from '../../signer/db/pg-schema.js';
import * as sqliteTables from '../../signer/db/tables/index.js';

interface IndexShape {
  unique: boolean;
  partial: boolean;
  /** Column names, with ` desc` for descending keys. */
  columns: string[];
}
interface TableShape {
  /** name → type, `?` suffix when nullable, ` = default` when it has one. */
  columns: Record<string, string>;
  primaryKey: string[];
  indexes: Record<string, IndexShape>;
}
type Shape = Record<string, TableShape>;

/** The column types each SQLite type becomes (signer/db/pg-schema.ts). */
const PG_TYPE: Record<string, string> = {
  integer: 'bigint',
  text: 'text',
  real: 'double precision',
  blob: 'bytea',
};

const column = (type: string, nullable: boolean, dflt: string | null) =>
  type + (nullable ? '?' : '') + (dflt === null ? '' : ` = ${dflt}`);

function sqliteShape(file: string): Shape {
  const store = openDatabase(file);
  try {
    const db = store.sqlite;
    const tables = db
      .prepare(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name <> '__drizzle_migrations'",
      )
      .all() as { name: string }[];
    const shape: Shape = {};
    for (const { name } of tables) {
      const info = db.prepare(`pragma table_info("${name}")`).all() as {
        name: string;
        type: string;
        notnull: number;
        dflt_value: string | null;
        pk: number;
      }[];
      const columns = Object.fromEntries(
        info.map((c) => [c.name, column(PG_TYPE[c.type.toLowerCase()], !(c.notnull || c.pk), c.dflt_value)]),
      );
      const primaryKey = info
        .filter((c) => c.pk > 0)
        .sort((a, b) => a.pk - b.pk)
        .map((c) => c.name);
      const indexes: Record<string, IndexShape> = {};
      const list = db.prepare(`pragma index_list("${name}")`).all() as {
        name: string;
        unique: number;
        origin: string;
        partial: number;
      }[];
      // origin pk: the primary key's automatic index, compared as primaryKey above.
      for (const ix of list.filter((i) => i.origin !== 'pk')) {
        const keys = db.prepare(`pragma index_xinfo("${ix.name}")`).all() as {
          name: string;
          desc: number;
          key: number;
        }[];
        indexes[ix.name] = {
          unique: ix.unique === 1,
          partial: ix.partial === 1,
          columns: keys.filter((k) => k.key === 1).map((k) => k.name + (k.desc ? ' desc' : '')),
        };
      }
      shape[name] = { columns, primaryKey, indexes };
    }
    return shape;
  } finally {
    store.close();
  }
}

async function pgShape(client: pg.ClientBase): Promise<Shape> {
  const cols = await client.query<{
    table_name: string;
    column_name: string;
    data_type: string;
    is_nullable: string;
    column_default: string | null;
  }>(
    "select table_name, column_name, data_type, is_nullable, column_default from information_schema.columns where table_schema = 'public'",
  );
  const ixs = await client.query<{
    table_name: string;
    index_name: string;
    unique: boolean;
    primary: boolean;
    partial: boolean;
    columns: string[];
  }>(
    `select t.relname as table_name, i.relname as index_name, x.indisunique as unique, x.indisprimary as primary,
            x.indpred is not null as partial,
            array(select a.attname || case when x.indoption[k.n - 1] & 1 = 1 then ' desc' else '' end
                  from unnest(x.indkey) with ordinality as k(attnum, n)
                  join pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum
                  order by k.n) as columns
       from pg_index x join pg_class t on t.oid = x.indrelid join pg_class i on i.oid = x.indexrelid
       join pg_namespace ns on ns.oid = t.relnamespace
      where ns.nspname = 'public'`,
  );
  const shape: Shape = {};
  for (const c of cols.rows) {
    shape[c.table_name] ??= { columns: {}, primaryKey: [], indexes: {} };
    // PostgreSQL writes a text default with its cast ('active'::text).
    const dflt = c.column_default?.replace(/::[a-z ]+$/, '') ?? null;
    shape[c.table_name].columns[c.column_name] = column(c.data_type, c.is_nullable === 'YES', dflt);
  }
  for (const ix of ixs.rows) {
    if (ix.primary) shape[ix.table_name].primaryKey = ix.columns;
    else shape[ix.table_name].indexes[ix.index_name] = { unique: ix.unique, partial: ix.partial, columns: ix.columns };
  }
  return shape;
}

const dir = mkdtempSync(join(tmpdir(), 'pg-schema-'));
const created: string[] = [];
let admin: pg.Client;

/** A fresh, empty database on the run's server (C collation, as initdb made the server's). */
async function freshDatabase(): Promise<string> {
  const name = `drift_${randomBytes(4).toString('hex')}`;
  await admin.query(`create database ${name}`);
  created.push(name);
  const url = new URL(inject('pgUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

/** A client; `options` as the signer's sessions set them (pg-worker bounds lock waits and statements). */
async function connect(url: string, options?: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, options });
  await client.connect();
  return client;
}

beforeAll(async () => {
  admin = await connect(inject('pgUrl'));
});

afterAll(async () => {
  for (const name of created) await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

describe('PostgreSQL schema', () => {
  it('derives one pg-core table from each sqlite-core table, by the same export name', () => {
    const sqliteNames = Object.entries(sqliteTables).map(([key, table]) => [key, getTableName(table)]);
    const pgNames = Object.entries(pgSchema)
      .filter(([, value]) => is(value, PgTable))
      .map(([key, table]) => [key, getTableName(table as PgTable)]);
    expect(pgNames.sort()).toEqual(sqliteNames.sort());
  });

  it("has both dialects' migrations current: `npm run db:generate` would write nothing", async () => {
    const latest = <T>(folder: string): T => {
      const base = new URL(`../../signer/db/${folder}/meta/`, import.meta.url);
      const { entries } = JSON.parse(readFileSync(new URL('_journal.json', base), 'utf8')) as {
        entries: { idx: number }[];
      };
      const idx = String(entries.at(-1)!.idx).padStart(4, '0');
      return JSON.parse(readFileSync(new URL(`${idx}_snapshot.json`, base), 'utf8')) as T;
    };
    const pgSnapshot = latest<DrizzleSnapshotJSON>('migrations-pg');
    expect(await generateMigration(pgSnapshot, generateDrizzleJson(pgSchema, pgSnapshot.id))).toEqual([]);
    const sqliteSnapshot = latest<DrizzleSQLiteSnapshotJSON>('migrations');
    const sqliteNow = await generateSQLiteDrizzleJson(sqliteTables, sqliteSnapshot.id);
    expect(await generateSQLiteMigration(sqliteSnapshot, sqliteNow)).toEqual([]);
  });

  it('migrates to the same tables, columns, nullability, defaults, keys and indexes as SQLite', async () => {
    const client = await connect(await freshDatabase());
    try {
      await migratePostgres(client);
      const want = sqliteShape(join(dir, 'drift.db'));
      const got = await pgShape(client);
      expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
      for (const table of Object.keys(want)) {
        expect({ table, ...got[table] }).toEqual({ table, ...want[table] });
      }
      // The descending key of the pull query's index, and a partial unique index, survived the derivation.
      expect(got.inference_tasks.indexes.tasks_queue_idx.columns).toContain('priority desc');
      expect(got.settlements.indexes.settlements_open_nonce_idx).toMatchObject({ unique: true, partial: true });
    } finally {
      await client.end();
    }
  });

  it('migrates once when three replicas start at once (whatever their lock_timeout), and a second run changes nothing', async () => {
    const url = await freshDatabase();
    // A lock wait bounded to 1 ms: the replicas that wait for the first one's migration must still wait.
    const session = '-c lock_timeout=1 -c statement_timeout=5000';
    const clients = await Promise.all([connect(url, session), connect(url, session), connect(url, session)]);
    try {
      await Promise.all(clients.map((c) => migratePostgres(c)));
      const applied = await clients[0].query('select hash, created_at from drizzle.__drizzle_migrations');
      const journal = JSON.parse(
        readFileSync(new URL('../../signer/db/migrations-pg/meta/_journal.json', import.meta.url), 'utf8'),
      ) as { entries: unknown[] };
      expect(applied.rowCount).toBe(journal.entries.length);
      await migratePostgres(clients[1]);
      const again = await clients[0].query('select hash, created_at from drizzle.__drizzle_migrations');
      expect(again.rows).toEqual(applied.rows);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });
});
