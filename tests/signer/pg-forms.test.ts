/**
 * The PostgreSQL forms of the signer's SQLite-only statements (signer/db/pg-forms.ts, issue 15).
 * Statically: a statement with a SQLite-only token (json_each, instr, rowid, a sum over text…)
 * cannot be added or edited without its form, and no form outlives its statement. On a real
 * PostgreSQL migrated with the signer's schema: every hand-written statement, as the facade
 * translates it, is valid SQL there, and each form returns the rows its SQLite original returns
 * on the same data. Without the server binaries the PostgreSQL half is skipped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getTableConfig } from 'drizzle-orm/sqlite-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asc, desc } from 'drizzle-orm';
import { inferenceTasks, openDatabase, type SignerDatabase } from '../../signer/db/index.js';
import { PG_FORMS } from '../../signer/db/pg-forms.js';
import { migratePostgres } from '../../signer/db/pg-migrate.js';
import { translate } from '../../signer/db/pg-translate.js';
import { pgBinaries, startPostgres, type PgServer } from '../pg/server.js';
import { CASES, filled, NUMBERED, seed, type FormCase } from './pg-forms-cases.js';
import { makes, type SqlLiteral, signerSql, sqliteOnlyTokens } from './pg-forms-scan.js';

/** What reads as a whole statement (the openapi descriptions start with "Delete an API token"…). */
const STATEMENT = /^\s*(select\b|insert into\b|update \w+ set\b|delete from\b|with \w+ as\b)/;

const literals = signerSql();

/** What the code sends PostgreSQL for the SQLite text `sql`: the `postgres` twin it keeps, if any (the facade translates either). */
const onPostgres = (sql: string) => literals.find((l) => l.text === sql && l.postgresSibling)?.postgresSibling ?? sql;

describe('SQLite-only SQL in signer/', () => {
  it('finds the hand-written statements', () => {
    // A parser that found nothing would pass every check below.
    expect(literals.length).toBeGreaterThan(100);
    expect(literals.some((l) => l.text.includes('json_each'))).toBe(true);
  });

  it('has a PostgreSQL form for every statement with a SQLite-only token', () => {
    const missing = literals
      .filter((l) => sqliteOnlyTokens(l.text).length > 0)
      .filter((l) => l.postgresSibling === null && ![...PG_FORMS.keys()].some((k) => makes(l, k)))
      .map((l) => `${l.at}: ${sqliteOnlyTokens(l.text).join('; ')} — add its form to signer/db/pg-forms.ts`);
    expect(missing).toEqual([]);
  });

  it('keeps no form whose statement the code no longer writes', () => {
    // A statement kept in both forms beside a dialect switch never reaches the lookup either.
    const stale = [...PG_FORMS.keys()].filter((k) => !literals.some((l) => makes(l, k) && l.postgresSibling === null));
    expect(stale).toEqual([]);
  });

  it('writes no SQLite-only token in a form, nor beside one', () => {
    const pgTexts = [...PG_FORMS.values(), ...literals.flatMap((l) => (l.postgresSibling ? [l.postgresSibling] : []))];
    expect(pgTexts.filter((v) => sqliteOnlyTokens(v).length > 0)).toEqual([]);
    // `x::type` would be safe from the translator, but one spelling (cast) is simpler to check.
    expect([...PG_FORMS.values()].filter((v) => v.includes('::'))).toEqual([]);
  });
});

/** int8 and numeric as numbers (strings past 2^53), bool as 0/1: what the facade's worker returns. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    const toNumber = (v: string) => (Number.isSafeInteger(Number(v)) || !/^-?\d+$/.test(v) ? Number(v) : v);
    if (oid === 20 || oid === 1700) return toNumber;
    if (oid === 16) return (v: string) => (v === 't' ? 1 : 0);
    return pg.types.getTypeParser(oid, format);
  }) as typeof pg.types.getTypeParser,
};

/** Positional parameters of a translated statement: `:name` objects become the `$n` list. */
function paramsOf(sql: string, params: unknown[]): unknown[] {
  const { names } = translate(sql);
  return names ? names.map((n) => (params[0] as Record<string, unknown>)[n]) : params;
}

describe.skipIf(!pgBinaries())('the forms on PostgreSQL', () => {
  let server: PgServer;
  let client: pg.Client;
  let dir: string;
  let store: SignerDatabase;

  const onPg = async (sql: string, params: unknown[]) =>
    (await client.query({ text: translate(sql).text, values: paramsOf(sql, params), types })).rows;
  const onSqlite = async (sql: string, params: unknown[]) => {
    const stmt = store.sqlite.prepare(sql);
    return /^\s*(select|with)\b/i.test(sql) ? stmt.all(...params) : [stmt.run(...params)];
  };

  beforeAll(async () => {
    server = await startPostgres();
    await server.createDatabase('forms');
    client = new pg.Client({ connectionString: server.url('forms') });
    await client.connect();
    await migratePostgres(client);
    dir = mkdtempSync(join(tmpdir(), 'signer-pg-forms-'));
    store = openDatabase(join(dir, 'signer.db'));
    await seed(onSqlite);
    await seed(onPg);
  });

  afterAll(async () => {
    await client?.end();
    store?.close();
    server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('parses every hand-written statement as the facade translates it', async () => {
    // A template with holes (`${set}`) is checked only when a form spells it out.
    // signer/db's own PostgreSQL code and `signer db copy` (which reads the SQLite source directly) bypass the facade.
    const viaFacade = (l: SqlLiteral) => !/^signer\/db\/(pg-|copy\.ts)/.test(l.at);
    const texts = [
      ...literals.filter((l) => !l.pattern && viaFacade(l) && STATEMENT.test(l.text)).map((l) => l.text),
      ...PG_FORMS.keys(),
    ];
    const refused: string[] = [];
    for (const [i, sql] of [...new Set(texts)].entries()) {
      const text = translate(onPostgres(sql)).text;
      try {
        await client.query(`prepare s${i} as ${text}`);
        await client.query(`deallocate s${i}`);
      } catch (err) {
        refused.push(`${(err as Error).message}: ${sql}`);
      }
    }
    expect(refused).toEqual([]);
  });

  /** Rows as JSON values, in a set order unless the statement defines one. */
  const comparable = (rows: unknown[], c: FormCase) => {
    const json = rows.map((r) => JSON.stringify(c.unnamed ? Object.values(r as object) : r));
    return (c.ordered ? json : json.sort()).map((r) => JSON.parse(r));
  };

  it("numbers the rows drizzle inserts without an id, one or several at a time (SQLite's null id is PostgreSQL's default)", async () => {
    await server.createDatabase('numbered');
    const facade = openDatabase(server.url('numbered'));
    try {
      expect(NUMBERED.length).toBeGreaterThan(5);
      for (const table of NUMBERED) {
        const name = getTableConfig(table).name;
        const one = facade.db.insert(table).values(filled(name, {})).returning().all() as { id: number }[];
        const two = facade.db
          .insert(table)
          .values([filled(name, {}), filled(name, {})])
          .returning()
          .all() as { id: number }[];
        expect([name, ...one.map((r) => r.id), ...two.map((r) => r.id)]).toEqual([name, 1, 2, 3]);
      }
      // Only the values' nulls: a conflict clause's are kept.
      expect(
        PG_FORMS.get(
          'insert into "t" ("id", "a") values (null, ?), (?, null) on conflict ("a") do update set "b" = null returning "id"',
        ),
      ).toBe(
        'insert into "t" ("id", "a") values (default, ?), (?, default) on conflict ("a") do update set "b" = null returning "id"',
      );
    } finally {
      facade.close();
    }
  });

  it('orders drizzle selects by a nullable column as SQLite does (NULLs first going up, last going down)', () => {
    const facade = openDatabase(server.url('forms'));
    try {
      const order = (db: SignerDatabase['db']) =>
        db
          .select({ id: inferenceTasks.task_id })
          .from(inferenceTasks)
          .orderBy(asc(inferenceTasks.deadline), desc(inferenceTasks.completed_at), inferenceTasks.task_id)
          .all()
          .map((r) => r.id);
      const lite = order(store.db);
      // No deadline first, by completion time going down (not completed last), then the deadlines going up.
      expect([...lite.slice(0, 4), ...lite.slice(-4)]).toEqual(['s3', 's2', 's1', 'c2', 'p3', 'p2', 'c3', 'c1']);
      expect(order(facade.db)).toEqual(lite);
      expect(
        PG_FORMS.get(
          'select "a" from "inference_tasks" order by "inference_tasks"."deadline" desc, "inference_tasks"."task_id" limit ?',
        ),
      ).toBe(
        'select "a" from "inference_tasks" order by "inference_tasks"."deadline" desc nulls last, "inference_tasks"."task_id" limit ?',
      );
    } finally {
      facade.close();
    }
  });

  it.each(CASES.map((c) => [c.name, c] as [string, FormCase]))('%s: the same rows as SQLite', async (_name, c) => {
    const pgSql = onPostgres(c.sql);
    expect(PG_FORMS.has(c.sql) || pgSql !== c.sql).toBe(true);
    let lite: unknown[];
    let post: unknown[];
    if (c.check) {
      for (const p of c.params as unknown[][]) {
        await onSqlite(c.sql, p);
        await onPg(pgSql, p);
      }
      [lite, post] = [await onSqlite(c.check, []), await onPg(c.check, [])];
    } else {
      [lite, post] = [await onSqlite(c.sql, c.params), await onPg(pgSql, c.params)];
    }
    // Rows that hit nothing would make every form look right.
    expect(lite.length > 0).toBe(!c.empty);
    expect(comparable(post, c)).toEqual(comparable(lite, c));
  });
});
