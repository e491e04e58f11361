/**
 * The tests' PostgreSQL: a server of its own starts and stops clean (also when its process exits
 * without stopping it), and the run's template clones into independent, migrated databases.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { testDatabaseLocation } from '../signer/helpers.js';
import { startPostgres, type PgServer } from './server.js';

/** A script that starts a server, prints its folder and port, then runs `then`. */
function starter(then: string): string {
  return `import { startPostgres } from ${JSON.stringify(join(import.meta.dirname, 'server.ts'))};
const s = await startPostgres();
console.log(JSON.stringify({ dir: s.dir, port: s.port }));
${then}`;
}

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('startPostgres', () => {
  let server: PgServer | undefined;
  afterAll(() => server?.stop());

  it('starts a server on a free loopback port that takes connections, creates and drops databases, and stop removes it', async () => {
    server = await startPostgres();
    expect(existsSync(join(server.dir, 'data', 'PG_VERSION'))).toBe(true);
    expect(await query(server.url(), 'select 1 as one')).toEqual([{ one: 1 }]);
    // C collation: text sorts by bytes, as SQLite's does.
    expect(await query(server.url(), "select 'B' < 'a' as c")).toEqual([{ c: true }]);
    await server.createDatabase('made');
    expect(await query(server.url('made'), 'select current_database() as db')).toEqual([{ db: 'made' }]);
    await server.dropDatabase('made');
    await expect(query(server.url('made'), 'select 1')).rejects.toThrow(/does not exist/);

    const { dir, port } = server;
    server.stop();
    server.stop();
    expect(existsSync(dir)).toBe(false);
    expect(await refused(port)).toBe(true);
  });

  it('is stopped and removed when its process exits without stopping it', async () => {
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', starter('process.exit(0);')],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(child.status, child.stderr).toBe(0);
    const { dir, port } = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { dir: string; port: number };
    expect(existsSync(dir)).toBe(false);
    expect(await refused(port)).toBe(true);
  });

  it('is stopped and removed soon after its process is SIGKILLed', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', starter('setInterval(() => {}, 1000);')],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const line = await new Promise<string>((resolve) => {
      let out = '';
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
    });
    const { dir, port } = JSON.parse(line) as { dir: string; port: number };
    expect(await refused(port)).toBe(false);
    child.kill('SIGKILL');
    await expect.poll(() => existsSync(dir), { timeout: 15_000, interval: 200 }).toBe(false);
    expect(await refused(port)).toBe(true);
  });
});

describe('testDatabaseLocation (signer-pg project)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-location-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('clones the migrated template into independent databases', async () => {
    const a = testDatabaseLocation(dir);
    const b = testDatabaseLocation(dir);
    expect(a).toMatch(/^postgres:\/\/signer@127\.0\.0\.1:\d+\/t_[0-9a-f]{16}$/);
    expect(b).not.toBe(a);
    const tables = (
      await query<{ t: string }>(a, "select tablename as t from pg_tables where schemaname = 'public'")
    ).map((r) => r.t);
    expect(tables).toEqual(
      expect.arrayContaining(['inference_tasks', 'inference_nodes', 'settlements', 'leader_lease']),
    );
    await query(a, "insert into chain_cursor (id, updated_at) values ('escrow', 1)");
    expect(await query(a, 'select count(*)::int as n from chain_cursor')).toEqual([{ n: 1 }]);
    expect(await query(b, 'select count(*)::int as n from chain_cursor')).toEqual([{ n: 0 }]);
  });
});
