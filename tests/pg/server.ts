/**
 * A throwaway PostgreSQL server for tests and benches: Debian's `postgresql` binaries, `initdb` in a
 * temporary folder, `pg_ctl` on a free loopback port, durability off (a test database never
 * survives a crash on purpose), stopped and removed with the process at the latest (even a
 * SIGKILLed one).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The superuser `initdb` creates (auth is `trust` on loopback: no password). */
export const PG_USER = 'signer';

/** A running server. */
export interface PgServer {
  host: string;
  port: number;
  /** The temporary folder: data directory `data`, log file `log`, the Unix socket. */
  dir: string;
  /** A connection URL to `database` (default `postgres`, which initdb creates). */
  url(database?: string): string;
  /** `create database`, cloned from `template` if given (strategy file_copy: fast for small databases). */
  createDatabase(name: string, opts?: { template?: string }): Promise<void>;
  /** `drop database if exists … with (force)`: ends the connections still open on it. */
  dropDatabase(name: string): Promise<void>;
  /** Stops the server at once (`-m immediate`) and removes its folder; a second call does nothing. */
  stop(): void;
}

/** Options of {@link startPostgres}. */
export interface PgServerOptions {
  /** Folder of initdb/pg_ctl/postgres; default {@link pgBinaries}. */
  bin?: string;
  /** Extra server settings (`-c name=value`), e.g. `tcp_keepalives_idle`. */
  settings?: Record<string, string | number>;
}

/** The binaries' folder: `$PG_BIN`, else the highest `/usr/lib/postgresql/<version>/bin`; null if none. */
export function pgBinaries(): string | null {
  const has = (dir: string) => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(dir, b)));
  if (process.env.PG_BIN) return has(process.env.PG_BIN) ? process.env.PG_BIN : null;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (has(join(root, v, 'bin'))) return join(root, v, 'bin');
  return null;
}

/** Quotes an identifier for SQL. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Runs SQL synchronously with `psql` (for helpers that must stay synchronous, e.g. cloning a test
 * database inside `makeSigner`); each of several statements on its own (`create/drop database`
 * cannot run in a transaction). Throws with psql's message on error.
 */
export function psqlSync(url: string, sql: string | string[], bin = pgBinaries()): string {
  if (!bin) throw new Error('PostgreSQL binaries not found');
  const commands = (Array.isArray(sql) ? sql : [sql]).flatMap((c) => ['-c', c]);
  return execFileSync(join(bin, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, ...commands], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Starts a server; rejects with the tail of its log if it does not come up. */
export async function startPostgres(opts: PgServerOptions = {}): Promise<PgServer> {
  const bin = opts.bin ?? pgBinaries();
  if (!bin) throw new Error('PostgreSQL server binaries not found (apt-get install postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'pg-test-'));
  const data = join(dir, 'data');
  const log = join(dir, 'log');
  // initdb and postgres refuse to run as root: as root (CI, this machine) run them as `postgres`.
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (tool: string, args: string[]) => {
    const [file, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]]
      : [join(bin, tool), args];
    // cwd: the tools chdir back to it, and `postgres` cannot read root's home.
    return execFileSync(file, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  };
  // A SIGKILLed test process runs no exit handler: a shell outliving it stops the server then.
  const pgCtl = asRoot ? 'runuser -u postgres -- "$4"' : '"$4"';
  const watchdog = spawn(
    'sh',
    [
      '-c',
      `while kill -0 "$1" 2>/dev/null; do sleep 1; done; ${pgCtl} -D "$3" -m immediate -w stop >/dev/null 2>&1; rm -rf "$2"`,
      'pg-watchdog',
      String(process.pid),
      dir,
      data,
      join(bin, 'pg_ctl'),
    ],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stop);
    watchdog.kill();
    try {
      if (existsSync(join(data, 'postmaster.pid'))) run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  process.on('exit', stop);
  try {
    run('initdb', ['-D', data, '-U', PG_USER, '--auth=trust', '--locale=C', '-E', 'UTF8', '-N']);
    const settings = {
      listen_addresses: '127.0.0.1',
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: 300,
      ...opts.settings,
    };
    const flags = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`);
    // A free port can be taken between our probe and the server's bind: try another one.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        run('pg_ctl', [
          '-D',
          data,
          '-w',
          '-t',
          '60',
          '-l',
          log,
          '-o',
          [`-p ${port}`, `-k ${dir}`, ...flags].join(' '),
          'start',
        ]);
      } catch (err) {
        if (attempt < 3 && /could not bind|already in use/i.test(logTail(log))) continue;
        throw new Error(`pg_ctl start failed: ${(err as Error).message}\n${logTail(log)}`);
      }
      return server(dir, port, stop);
    }
  } catch (err) {
    stop();
    throw err;
  }
}

function server(dir: string, port: number, stop: () => void): PgServer {
  const host = '127.0.0.1';
  const url = (database = 'postgres') => `postgres://${PG_USER}@${host}:${port}/${encodeURIComponent(database)}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  return {
    host,
    port,
    dir,
    url,
    createDatabase: (name, opts = {}) =>
      admin(
        `create database ${ident(name)}${opts.template ? ` template ${ident(opts.template)} strategy file_copy` : ''}`,
      ),
    dropDatabase: (name) => admin(`drop database if exists ${ident(name)} with (force)`),
    stop,
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function logTail(log: string): string {
  try {
    return readFileSync(log, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}
