/**
 * `signer db copy` (issue 15): a SQLite database filled by the signer's own code paths (nodes
 * registered, chain tasks ingested, pulled and completed, a settlement built, a prepaid account
 * paying, the console's admin with a session, an API token, an input blob) is copied into an empty
 * PostgreSQL database; every table reads back the same rows there, generated ids continue after
 * the copied ones, and a second copy into the same database is refused. The command line prints
 * the counts and never the URL's password.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { getTableConfig } from 'drizzle-orm/sqlite-core';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { submitBatch } from '../../signer/chain/submitter.js';
import type { Chain } from '../../signer/chain/types.js';
import { createSession, initAdmin } from '../../signer/console/accounts.js';
import { CopyError, batches, copyDatabase, copyOrder } from '../../signer/db/copy.js';
import { openDatabase } from '../../signer/index.js';
import { getTask } from '../../signer/tasks/index.js';
import { createToken } from '../../signer/tokens/service.js';
import { storeInput } from '../../signer/uploads/index.js';
import { TestNode, addTasks, body, register, signerAt, type TestSigner } from './helpers.js';
import { TestAccount } from './prepaid-fixture.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'db-copy-'));
const source = join(dir, 'signer.db');
const created: string[] = [];
let admin: pg.Client;

/** A signer on a SQLite file whatever the test project's dialect: the copy's source. */
function sqliteSigner(): TestSigner {
  return signerAt(source, dir);
}

/** Fills the source the way a running signer does. */
async function fill(t: TestSigner): Promise<void> {
  const nodes = [new TestNode('node-1'), new TestNode('node-2')];
  for (const node of nodes) expect(await register(t, node)).toBe(201);
  addTasks(t, {}, {}, {}, {}, { priority: 3 });
  // One node runs three of them (a second node may be passed over for the better one: the scheduler's choice).
  const [node] = nodes;
  for (let i = 0; i < 3; i++) {
    const path = `/api/v1/nodes/${node.nodeId}/tasks`;
    const task = (await body(await t.app.request(...node.request('GET', path)))).data;
    const done = await t.app.request(...node.request('POST', '/api/v1/tasks/complete', node.result(task)));
    expect(done.status).toBe(200);
  }
  // The submitter records the signed transaction (settlements) and marks its tasks submitted.
  const chain = {
    buildCompleteTasks: async () => ({ txid: `0x${'ab'.repeat(32)}`, nonce: 7n, raw: '0080' }),
    broadcast: async () => undefined,
  } as unknown as Chain;
  expect(await submitBatch(t.s, chain, Date.now() + 3_600_000)).not.toBeNull();
  const account = new TestAccount();
  account.open(t.s);
  account.pay(t.s, 2, 1500n, {
    node: 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG',
    owner: 'ST2JHG361ZXG51QTKY2NQCVBPPRRE2KZB1HR05NNC',
    treasury: 'ST2NEB84ASENDXKYGJPQW86YXQCEFEX2ZQPG87ND',
  });
  const user = await initAdmin(t.s.store, 'admin', 'a long enough password 1');
  createSession(t.s.store, user.id, 60_000);
  createToken(t.s.store, { name: 'client' });
  // Every byte value, NUL included: bytea must take the blob as it is.
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  storeInput(t.s, { sha256: 'f'.repeat(64), bytes, contentType: 'application/octet-stream', uploader: null });
}

async function freshDatabase(): Promise<string> {
  const name = `copy_${randomBytes(4).toString('hex')}`;
  await admin.query(`create database ${name}`);
  created.push(name);
  const url = new URL(inject('pgUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

/** A client that reads bigint as a number, as SQLite gives integers. */
async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    types: {
      getTypeParser: ((oid: number, format?: 'text') =>
        oid === 20 ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  await client.connect();
  return client;
}

/** Rows in primary-key order, compared in JS so neither side's collation matters. */
function sorted(rows: Record<string, unknown>[], key: string[]): Record<string, unknown>[] {
  const k = (r: Record<string, unknown>) => key.map((c) => String(r[c])).join('\u0000');
  return [...rows].sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
}

beforeAll(async () => {
  admin = await connect(inject('pgUrl'));
  const t = sqliteSigner();
  try {
    await fill(t);
  } finally {
    t.close();
  }
});

afterAll(async () => {
  for (const name of created) await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

describe('signer db copy', () => {
  it('copies every table, row for row, then refuses a second copy into the same database', async () => {
    const url = await freshDatabase();
    const report = await copyDatabase(source, url);
    const sqlite = new Database(source, { readonly: true });
    const client = await connect(url);
    try {
      expect(report.map((r) => r.table)).toEqual(copyOrder().map((t) => getTableConfig(t).name));
      // Sessions reference admins: the referenced table is copied first.
      expect(report.findIndex((r) => r.table === 'admin_users')).toBeLessThan(
        report.findIndex((r) => r.table === 'admin_sessions'),
      );
      const rows = Object.fromEntries(report.map((r) => [r.table, r.rows]));
      for (const table of [
        'inference_nodes',
        'inference_tasks',
        'task_events',
        'settlements',
        'prepaid_accounts',
        'prepaid_receipts',
        'payee_credits',
        'admin_users',
        'admin_sessions',
        'api_tokens',
        'input_blobs',
      ])
        expect(rows[table], table).toBeGreaterThan(0);
      for (const table of copyOrder()) {
        const config = getTableConfig(table);
        const key = config.primaryKeys[0]?.columns.map((c) => c.name) ?? [config.columns.find((c) => c.primary)!.name];
        const want = sqlite.prepare(`select * from "${config.name}"`).all() as Record<string, unknown>[];
        const got = (await client.query(`select * from "${config.name}"`)).rows;
        expect(sorted(got, key), config.name).toEqual(sorted(want, key));
        expect(got.length, config.name).toBe(rows[config.name]);
      }
      // Identity sequences restart above the copied ids.
      const maxEvent = (sqlite.prepare('select max(id) as id from task_events').get() as { id: number }).id;
      const next = await client.query(
        "insert into task_events (task_id, to_status, reason, at) values ('x', 'pending', 'after copy', 0) returning id",
      );
      expect(next.rows[0].id).toBe(maxEvent + 1);
      // A signer opened on the copy (the PostgreSQL facade) reads the tasks and the blob as the SQLite one does.
      const before = openDatabase(source);
      const after = openDatabase(url);
      try {
        const ids = (sqlite.prepare('select task_id from inference_tasks').all() as { task_id: string }[]).map(
          (r) => r.task_id,
        );
        for (const id of ids) expect(getTask(after, id), id).toEqual(getTask(before, id));
        const blob = 'select data from input_blobs where sha256 = ?';
        expect(after.sqlite.prepare(blob).get('f'.repeat(64))).toEqual(before.sqlite.prepare(blob).get('f'.repeat(64)));
      } finally {
        before.close();
        after.close();
      }
      await expect(copyDatabase(source, url)).rejects.toThrow(CopyError);
      await expect(copyDatabase(source, url)).rejects.toThrow(/already holds rows \(in .*inference_tasks/);
    } finally {
      sqlite.close();
      await client.end();
    }
  });

  it('the command prints the rows per table and never the password', async () => {
    const url = new URL(await freshDatabase());
    // The test server trusts loopback connections, so any password is accepted and must stay unprinted.
    url.username = 'signer';
    url.password = 'pw-not-to-print';
    const cli = ['tsx', 'signer/cli.ts', 'db', 'copy', '--from', source, '--to', url.toString()];
    const first = await run('npx', cli, { encoding: 'utf8' });
    expect(first.stdout).toMatch(/inference_tasks\s+\d+/);
    expect(first.stdout).toContain('***');
    expect(first.stdout + first.stderr).not.toContain('pw-not-to-print');
    const second = await run('npx', cli, { encoding: 'utf8' }).then(
      () => null,
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    expect(second?.code).toBe(1);
    expect(second?.stderr).toMatch(/already holds rows/);
    expect(`${second?.stdout}${second?.stderr}`).not.toContain('pw-not-to-print');
  });

  it('copies tables of several full batches (a prepared insert run again) and a remainder', async () => {
    const file = join(dir, 'many.db');
    const store = openDatabase(file);
    const event = store.sqlite.prepare(
      "insert into task_events (task_id, from_status, to_status, reason, at) values (?, 'pending', 'in_progress', 'leased', ?)",
    );
    store.sqlite.transaction(() => {
      for (let i = 0; i < 2500; i++) event.run(`task-${i}`, i);
    })();
    store.close();
    const url = await freshDatabase();
    const report = await copyDatabase(file, url);
    expect(report.find((r) => r.table === 'task_events')?.rows).toBe(2500);
    const client = await connect(url);
    try {
      const { rows } = await client.query('select id, task_id, at from task_events order by id');
      expect(rows.map((r) => [r.id, r.task_id, r.at])).toEqual(
        Array.from({ length: 2500 }, (_, i) => [i + 1, `task-${i}`, i]),
      );
    } finally {
      await client.end();
    }
  });

  it('batches at most 1,000 rows, and fewer when their values pass the byte budget', () => {
    const small = Array.from({ length: 2500 }, (_, i) => [i, `row ${i}`]);
    expect([...batches(small, 1000, 1 << 24)].map((b) => b.length)).toEqual([1000, 1000, 500]);
    const mb = Buffer.alloc(1 << 20);
    const blobs = Array.from({ length: 5 }, (_, i) => [`sha-${i}`, mb]);
    // A little over 2 MB: two 1 MB blobs (and their keys) per insert; a blob larger than the budget goes alone.
    expect([...batches(blobs, 1000, (2 << 20) + 1024)].map((b) => b.length)).toEqual([2, 2, 1]);
    expect([...batches([[Buffer.alloc(3 << 20)], [1]], 1000, 2 << 20)].map((b) => b.length)).toEqual([1, 1]);
  });
});
