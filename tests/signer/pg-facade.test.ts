/**
 * The synchronous PostgreSQL facade (signer/db/pg-sync.ts) against a real server: better-sqlite3's
 * calls and values, transactions nesting as savepoints, a serialization failure run again, drizzle's
 * better-sqlite3 session unchanged, SQLSTATE on errors, and the leader lock. Runs in the signer-pg
 * project only (vitest.config.ts), on the run's server.
 */
import { randomBytes } from 'node:crypto';
import { count, eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { blob, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { chainCursor, openDatabase } from '../../signer/db/index.js';
import { PgSyncDb, redactUrl } from '../../signer/db/pg-sync.js';
import { translate } from '../../signer/db/pg-translate.js';
import { atomic, isRetryable } from '../../signer/db/statements.js';

const items = sqliteTable('items', {
  id: integer('id').primaryKey(),
  name: text('name').notNull(),
  at: integer('at').notNull(),
  flag: integer('flag', { mode: 'boolean' }).notNull().default(false),
  data: blob('data', { mode: 'buffer' }),
});

const suffix = randomBytes(6).toString('hex');
/** The run's server (tests/pg/global-setup.ts), with `database` in its path. */
function url(database: string): string {
  const u = new URL(inject('pgUrl'));
  u.pathname = `/${database}_${suffix}`;
  return u.toString();
}
/** Runs one statement on the server's maintenance database. */
async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject('pgUrl') });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

describe('SQLite text to PostgreSQL', () => {
  it('numbers ? and named parameters outside quotes and comments, keeps ::casts, widens integer casts', () => {
    expect(translate('select ? a, \'?\' b, "?" c -- ?\n, /* ? */ ? d')).toEqual({
      text: 'select $1 a, \'?\' b, "?" c -- ?\n, /* ? */ $2 d',
      names: null,
    });
    expect(translate("select :a::bigint, @b, ':a', :a, 'it''s :c'")).toEqual({
      text: "select $1::bigint, $2, ':a', $1, 'it''s :c'",
      names: ['a', 'b'],
    });
    expect(translate('select cast(fee as integer), CAST(x AS  INTEGER )').text).toBe(
      'select cast(fee as bigint), CAST(x as  bigint )',
    );
    expect(
      translate('insert into "t" ("id") values (?) on conflict ("t"."id") do update set "n" = "t"."n" + 1').text,
    ).toBe('insert into "t" ("id") values ($1) on conflict ("id") do update set "n" = "t"."n" + 1');
  });
});

const open: PgSyncDb[] = [];
/** A facade on the test database (no signer migrations: these tests make their own tables). */
function facade(): PgSyncDb {
  const db = new PgSyncDb(url('facade'), { migrate: false });
  open.push(db);
  return db;
}

describe('PostgreSQL facade', () => {
  let a: PgSyncDb;
  beforeAll(async () => {
    await admin(`create database facade_${suffix}`);
    await admin(`create database signer_${suffix}`);
  });
  afterAll(async () => {
    for (const db of open) db.close();
    await admin(`drop database if exists facade_${suffix} with (force)`);
    await admin(`drop database if exists signer_${suffix} with (force)`);
  });
  beforeEach(() => {
    a ??= facade();
    a.exec(`drop table if exists t, items;
      create table t (id bigint primary key, s text, n bigint, b bytea, x numeric);
      create table items (id bigint primary key, name text not null, at bigint not null,
        flag bigint not null default 0, data bytea)`);
  });

  it('returns values as better-sqlite3 does: ms timestamps as numbers, text, null, Buffers, exact big integers', () => {
    const ins = a.prepare('insert into t (id, s, n, b, x) values (?, ?, ?, ?, ?)');
    expect(ins.run(1, 'héllo', 1_733_567_000_123, Buffer.from([0, 1, 255]), '12.5')).toEqual({
      changes: 1,
      lastInsertRowid: 0,
    });
    ins.run(2, null, '9007199254740993', null, null);
    const one = a.prepare('select * from t where id = ?').get(1) as Record<string, unknown>;
    expect(one).toEqual({ id: 1, s: 'héllo', n: 1_733_567_000_123, b: Buffer.from([0, 1, 255]), x: 12.5 });
    expect(Buffer.isBuffer(one.b)).toBe(true);
    // Beyond 2^53 a number would be wrong: the text stays.
    expect(a.prepare('select n, s, b from t where id = ?').get(2)).toEqual({ n: '9007199254740993', s: null, b: null });
    // Aggregates (int8 count, numeric sum) and booleans come back as SQLite's numbers.
    expect(a.prepare('select count(*) c, sum(n) total, 1 = 1 yes from t where id = 1').get()).toEqual({
      c: 1,
      total: 1_733_567_000_123,
      yes: 1,
    });
    expect(a.prepare('select * from t where id = ?').get(3)).toBeUndefined();
  });

  it('counts changes, and reads rows as arrays (raw) or first values (pluck)', () => {
    const ins = a.prepare('insert into t (id, s) values (?, ?)');
    for (const id of [1, 2, 3]) ins.run(id, `s${id}`);
    expect(a.prepare("update t set s = 'x' where id >= ?").run(2).changes).toBe(2);
    expect(a.prepare('delete from t where id = ?').run(9).changes).toBe(0);
    expect(a.prepare('select id, s from t order by id').raw().all()).toEqual([
      [1, 's1'],
      [2, 'x'],
      [3, 'x'],
    ]);
    expect(a.prepare('select id from t order by id').pluck().all()).toEqual([1, 2, 3]);
    expect(a.prepare('select s from t where id = ?').pluck().get(1)).toBe('s1');
  });

  it('binds named parameters from one object, a name used twice binding once', () => {
    const row = a.prepare("select :a::bigint + 1 as n, :b as b, :a::text || ':a' as again").get({ a: 41, b: 'x' });
    expect(row).toEqual({ n: 42, b: 'x', again: '41:a' });
    // better-sqlite3's other spelling (signer/uploads' sweep uses it).
    expect(a.prepare('select @cutoff::bigint as c').pluck().get({ cutoff: 7 })).toBe(7);
  });

  it('nests transactions as savepoints: an inner failure rolls back the inner part only', () => {
    const ins = a.prepare('insert into t (id) values (?)');
    a.transaction(() => {
      ins.run(1);
      expect(() =>
        a.transaction(() => {
          ins.run(2);
          throw new Error('inner');
        })(),
      ).toThrow('inner');
      ins.run(3);
    })();
    expect(a.prepare('select id from t order by id').pluck().all()).toEqual([1, 3]);
  });

  it('rolls the whole transaction back when its body throws, and refuses an async body', () => {
    const ins = a.prepare('insert into t (id) values (?)');
    expect(() =>
      atomic(a, () => {
        ins.run(1);
        atomic(a, () => ins.run(2));
        throw new Error('outer');
      }),
    ).toThrow('outer');
    expect(a.prepare('select count(*) from t').pluck().get()).toBe(0);
    expect(() => a.transaction(async () => ins.run(4))()).toThrow('cannot return a promise');
    expect(a.prepare('select count(*) from t').pluck().get()).toBe(0);
  });

  it('errors carry the SQLSTATE and the server message', () => {
    a.prepare('insert into t (id) values (?)').run(1);
    let err: unknown;
    try {
      a.prepare('insert into t (id) values (?)').run(1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: '23505', message: expect.stringContaining('duplicate key') });
    expect(() => a.prepare('select * from missing').all()).toThrow(expect.objectContaining({ code: '42P01' }));
    // The connection is usable after an error, in and out of transactions.
    expect(a.prepare('select 1 as one').get()).toEqual({ one: 1 });
  });

  it('runs a transaction again after a serialization failure, so both conflicting updates apply', () => {
    const b = facade();
    a.prepare('insert into t (id, n) values (1, 0)').run();
    const read = (db: PgSyncDb) => db.prepare('select n from t where id = 1').pluck().get() as number;
    const write = (db: PgSyncDb, n: number) => db.prepare('update t set n = ? where id = 1').run(n);
    let runs = 0;
    let seen: unknown = null;
    atomic(a, () => {
      runs++;
      const n = read(a);
      // Another replica's read-modify-write commits between this read and this write (first run only).
      if (runs === 1) atomic(b, () => write(b, read(b) + 1));
      try {
        write(a, n + 1);
      } catch (e) {
        // Even a body that swallows the failure is run again: the transaction cannot commit.
        seen = e;
      }
    });
    expect(isRetryable(seen)).toBe(true);
    expect(runs).toBe(2);
    expect(read(a)).toBe(2);
  });

  it('runs READ COMMITTED when asked, seeing rows committed since its start', () => {
    const b = facade();
    const count = () => a.prepare('select count(*) from t').pluck().get();
    const counts = (isolation?: 'read committed') => {
      const seen: unknown[] = [];
      atomic(
        a,
        () => {
          seen.push(count());
          b.prepare('insert into t (id) select coalesce(max(id), 0) + 1 from t').run();
          seen.push(count());
        },
        isolation ? { isolation } : undefined,
      );
      return seen;
    };
    expect(counts()).toEqual([0, 0]);
    expect(counts('read committed')).toEqual([1, 2]);
  });

  it("runs drizzle's better-sqlite3 session: insert, conflicts, returning, select, update, delete, transactions", () => {
    const db = drizzle({ client: a as unknown as Database.Database, schema: { items } });
    const rows = db
      .insert(items)
      .values([
        { id: 1, name: 'one', at: 1_733_567_000_000, data: Buffer.from('abc') },
        { id: 2, name: 'two', at: 2, flag: true },
      ])
      .returning()
      .all();
    expect(rows).toEqual([
      { id: 1, name: 'one', at: 1_733_567_000_000, flag: false, data: Buffer.from('abc') },
      { id: 2, name: 'two', at: 2, flag: true, data: null },
    ]);
    expect(db.insert(items).values({ id: 1, name: 'dup', at: 3 }).onConflictDoNothing().run().changes).toBe(0);
    db.insert(items)
      .values({ id: 2, name: 'dup', at: 3 })
      .onConflictDoUpdate({ target: items.id, set: { name: 'two!' } })
      .run();
    expect(db.select({ name: items.name }).from(items).where(eq(items.id, 2)).get()).toEqual({ name: 'two!' });
    const updated = db
      .update(items)
      .set({ at: sql`${items.at} + 1` })
      .where(eq(items.flag, true))
      .returning({ id: items.id, at: items.at })
      .all();
    expect(updated).toEqual([{ id: 2, at: 3 }]);
    expect(db.select().from(items).orderBy(items.id).limit(1).all()).toHaveLength(1);
    expect(db.select({ n: count() }).from(items).get()).toEqual({ n: 2 });
    db.transaction((tx) => {
      tx.delete(items).where(eq(items.id, 1)).run();
      try {
        tx.transaction((inner) => {
          inner.delete(items).run();
          throw new Error('undo');
        });
      } catch {}
    });
    expect(db.select({ id: items.id }).from(items).all()).toEqual([{ id: 2 }]);
  });

  it('holds the leader lock on one facade at a time; closing the holder frees it', () => {
    const b = facade();
    const c = facade();
    expect(b.lock.tryAcquire()).toBe(true);
    expect(b.lock.tryAcquire()).toBe(true);
    expect(b.lock.alive()).toBe(true);
    expect(c.lock.tryAcquire()).toBe(false);
    expect(c.lock.alive()).toBe(false);
    b.lock.release();
    expect(b.lock.alive()).toBe(false);
    expect(c.lock.tryAcquire()).toBe(true);
    expect(b.lock.tryAcquire()).toBe(false);
    c.close();
    // The server frees a session's locks as its backend exits, a moment after the client left.
    const until = Date.now() + 5_000;
    let got = b.lock.tryAcquire();
    while (!got && Date.now() < until) got = b.lock.tryAcquire();
    expect(got).toBe(true);
    expect(c.lock.tryAcquire()).toBe(false);
  });

  it('openDatabase takes a postgres:// URL: migrated at open (twice is harmless), drizzle over the signer tables', () => {
    const store = openDatabase(url('signer'));
    const again = openDatabase(url('signer').replace('postgres:', 'postgresql:'));
    try {
      expect(store.dialect).toBe('postgres');
      expect(store.lock?.tryAcquire()).toBe(true);
      const upsert = (cursor: string, at: number) =>
        store.db
          .insert(chainCursor)
          .values({ id: 'escrow', cursor, updated_at: at })
          .onConflictDoUpdate({ target: chainCursor.id, set: { cursor, updated_at: at } })
          .run();
      upsert('a', 1);
      upsert('b', 1_733_567_000_000);
      expect(again.db.select().from(chainCursor).all()).toEqual([
        { id: 'escrow', cursor: 'b', tip_height: null, updated_at: 1_733_567_000_000 },
      ]);
      expect(again.lock?.tryAcquire()).toBe(false);
    } finally {
      store.close();
      again.close();
    }
  });

  it('makes a new connection between transactions once its own is gone', () => {
    const b = facade();
    const c = facade();
    const backend = () => c.prepare('select pg_backend_pid() as p').pluck().get() as number;
    const before = backend();
    b.prepare('select pg_terminate_backend(?::int)').run(before);
    // A statement that meets the dead connection fails (whether it ran is unknown); later ones get a new one.
    let after: number | null = null;
    for (let tries = 0; after === null && tries < 50; tries++) {
      try {
        after = backend();
      } catch {}
    }
    expect(after).not.toBeNull();
    expect(after).not.toBe(before);
    expect(c.transaction(() => backend())()).toBe(after);
  });

  it('names the database without its password, and ends its connection at close', () => {
    expect(redactUrl('postgres://u:secret@h:5432/db')).toBe('postgres://u@h:5432/db');
    const b = facade();
    expect(b.name).toBe(url('facade'));
    expect(b.open).toBe(true);
    b.close();
    expect(b.open).toBe(false);
    expect(() => b.prepare('select 1').get()).toThrow('not open');
    expect(b.pragma('journal_mode = WAL')).toBeUndefined();
  });
});
