/**
 * The PostgreSQL thread of the synchronous facade (./pg-sync.ts). It owns a pure-JS `pg` Client
 * (and, once asked for the leader lock, a second one that holds it) and answers one request at a
 * time: the main thread posts a request on `port`, sleeps on `flag` (Atomics.wait), and is woken
 * here once the reply is posted. The main thread is blocked meanwhile, so requests never overlap.
 *
 * Values come back as SQLite's would: int8 and numeric as numbers (as text beyond 2^53, where a
 * number would be wrong), booleans as 1/0 (SQLite has no boolean type: code compares with 1), bytea
 * as bytes (the main side makes them Buffers again: a structured clone yields a Uint8Array).
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import pg from 'pg';
import { migratePostgres } from './pg-migrate.js';

/** What the facade hands this thread at start. */
export interface PgWorkerData {
  port: MessagePort;
  flag: Int32Array;
  url: string;
  /** Apply the PostgreSQL migrations at open. */
  migrate: boolean;
}

/** One request from the facade. */
export type PgRequest =
  | { op: 'open' }
  | { op: 'query'; sql: string; params: unknown[]; array: boolean; idle: boolean }
  | { op: 'exec'; sql: string; idle: boolean }
  | { op: 'lock'; what: 'try' | 'alive' | 'release'; key: string }
  | { op: 'close' };

/** A reply: rows (objects, or arrays in array mode), rowCount, and which columns hold bytea. */
export type PgReply =
  | { ok: true; rows: unknown[]; changes: number; bytea: (string | number)[] | null; value?: boolean }
  | { ok: false; error: { message: string; code?: string; detail?: string; constraint?: string } };

const BYTEA = 17;

/** int8/numeric text → number, unless a number would not hold it exactly. */
function toNumber(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) || !/^-?\d+$/.test(text) ? n : text;
}
pg.types.setTypeParser(20, toNumber);
pg.types.setTypeParser(1700, toNumber);
pg.types.setTypeParser(16, (text: string) => (text === 't' ? 1 : 0));

const { port, flag, url, migrate } = workerData as PgWorkerData;
/** Session limits: a lock wait or a runaway statement blocks the replica's event loop, so both are bounded. */
const SESSION = { statement_timeout: 5_000, lock_timeout: 2_000 };
/** Named (server-side prepared) statements by text; bounded, since drizzle's multi-row inserts vary. */
const names = new Map<string, string>();
const MAX_NAMED = 2_000;
/** Why the connection is unusable (server restart, backend terminated, network), until a new one is made. */
let broken: Error | null = null;

function connection(): pg.Client {
  const c = new pg.Client({ connectionString: url, ...SESSION });
  c.on('error', (e) => {
    if (c === client) broken ??= e;
  });
  c.on('end', () => {
    if (c === client) broken ??= Object.assign(new Error('the PostgreSQL connection ended'), { code: '08006' });
  });
  return c;
}
let client = connection();

/** A new connection in place of a broken one, made only between transactions (a transaction's work died with the old one). */
async function reconnect(): Promise<void> {
  client = connection();
  names.clear();
  broken = null;
  await client.connect();
}
let lock: pg.Client | null = null;
/** True while `lock`'s session holds the advisory lock. */
let held = false;

/** True from a request's arrival to its reply: exactly one reply per request. */
let pending = false;

function reply(r: PgReply): void {
  if (!pending) return;
  pending = false;
  port.postMessage(r);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

function failure(e: unknown): PgReply {
  const err = e as pg.DatabaseError;
  return {
    ok: false,
    error: { message: err.message ?? String(e), code: err.code, detail: err.detail, constraint: err.constraint },
  };
}

function result(r: pg.QueryResult, array: boolean): PgReply {
  let bytea: (string | number)[] | null = null;
  for (let i = 0; i < (r.fields?.length ?? 0); i++)
    if (r.fields[i]!.dataTypeID === BYTEA) (bytea ??= []).push(array ? i : r.fields[i]!.name);
  return { ok: true, rows: r.rows, changes: r.rowCount ?? 0, bytea };
}

async function lockCall(what: 'try' | 'alive' | 'release', key: string): Promise<PgReply> {
  const done = (value: boolean): PgReply => ({ ok: true, rows: [], changes: 0, bytea: null, value });
  if (what === 'try') {
    try {
      if (!lock) {
        // Its own session: a session-level advisory lock lives as long as this connection, and never
        // in a transaction. Keepalive lets a partition end the session (and the lock) on both sides.
        const c = new pg.Client({
          connectionString: url,
          keepAlive: true,
          keepAliveInitialDelayMillis: 5_000,
          ...SESSION,
        });
        c.on('error', () => {
          if (lock !== c) return;
          lock = null;
          held = false;
        });
        await c.connect();
        lock = c;
      }
      const r = await lock.query('select pg_try_advisory_lock($1::bigint) as ok', [key]);
      held = r.rows[0].ok === 1;
      return done(held);
    } catch {
      // Unreachable server: not the leader (the next try connects again).
      lock?.end().catch(() => undefined);
      lock = null;
      held = false;
      return done(false);
    }
  }
  if (!lock) return done(false);
  if (what === 'alive') {
    if (!held) return done(false);
    try {
      await lock.query('select 1');
      return done(true);
    } catch {
      held = false;
      return done(false);
    }
  }
  const c = lock;
  lock = null;
  held = false;
  // Ending the session frees the lock even if the unlock fails.
  await c.query('select pg_advisory_unlock($1::bigint)', [key]).catch(() => undefined);
  await c.end().catch(() => undefined);
  return done(false);
}

async function handle(req: PgRequest): Promise<PgReply> {
  if (req.op === 'close') {
    if (lock) await lockCall('release', '0');
    await client.end().catch(() => undefined);
    return { ok: true, rows: [], changes: 0, bytea: null };
  }
  if (broken) {
    if (!('idle' in req && req.idle)) return failure(broken);
    await reconnect();
  }
  switch (req.op) {
    case 'open':
      await client.connect();
      if (migrate) {
        // Not bounded as statements are: a replica waits while another migrates, and a migration
        // may build an index over a large table.
        await client.query('set statement_timeout = 0; set lock_timeout = 0');
        await migratePostgres(client);
        await client.query(
          `set statement_timeout = ${SESSION.statement_timeout}; set lock_timeout = ${SESSION.lock_timeout}`,
        );
      }
      return { ok: true, rows: [], changes: 0, bytea: null };
    case 'exec':
      // The simple protocol: several statements in one text.
      await client.query(req.sql);
      return { ok: true, rows: [], changes: 0, bytea: null };
    case 'query': {
      let name = names.get(req.sql);
      if (!name && names.size < MAX_NAMED) names.set(req.sql, (name = `q${names.size}`));
      const config = { name, text: req.sql, values: req.params, rowMode: req.array ? 'array' : undefined };
      const r = await client.query(config as pg.QueryConfig);
      return result(r, req.array);
    }
    case 'lock':
      return lockCall(req.what, req.key);
  }
}

port.on('message', (req: PgRequest) => {
  pending = true;
  handle(req).then(reply, (e) => reply(failure(e)));
});
// The main thread is blocked on the flag: whatever goes wrong here must still wake it.
process.on('uncaughtException', (e) => {
  broken ??= e;
  reply(failure(e));
});
