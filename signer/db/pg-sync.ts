/**
 * The synchronous PostgreSQL facade (issue 15): better-sqlite3's surface (SyncDb) over a `pg`
 * Client that lives on a worker thread (./pg-worker.ts). Each statement is posted to the thread,
 * and the main thread sleeps on a shared flag (Atomics.wait) until the reply is there, then takes
 * it with receiveMessageOnPort (synckit's design). So drizzle's better-sqlite3 session and every
 * hand-written statement run unchanged, and no transaction spans an await, as on SQLite.
 *
 * Transactions nest as better-sqlite3's do (BEGIN, then SAVEPOINT per level). The outermost level
 * runs REPEATABLE READ (SQLite serializes writers; READ COMMITTED would lose read-modify-write
 * updates) and runs its body again on a serialization failure or deadlock (40001, 40P01).
 */
import { MessageChannel, receiveMessageOnPort, type Worker, type MessagePort } from 'node:worker_threads';
import { spawnWorkerSync, workerFile } from '../../protocol/index.js';
import type { PgReply, PgRequest, PgWorkerData } from './pg-worker.js';
import { translate } from './pg-translate.js';
import type { LeaderLock, RunResult, SyncDb, SyncStatement } from './sync-db.js';

/** Isolation of an outermost transaction. */
export type Isolation = 'repeatable read' | 'read committed';

/** True for the PostgreSQL errors after which the whole transaction should run again. */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}

/** The key of the leader's session-level advisory lock (an arbitrary constant: "SIGNER" in ASCII). */
export const LEADER_LOCK_KEY = '91754706993490';
const TRIES = 5;
/** How long a reply may take: statements are bounded by statement_timeout (5 s); migrations at open are longer. */
const REPLY_MS = 30_000;
const OPEN_MS = 120_000;

/** The URL with its password left out, for logs and `name`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1@');
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A prepared statement of the facade: translated once, run on the worker each call. */
class PgStatement implements SyncStatement {
  private rawMode = false;
  private pluckMode = false;
  constructor(
    private readonly db: PgSyncDb,
    private readonly sql: string,
    private readonly names: string[] | null,
  ) {}

  private params(args: unknown[]): unknown[] {
    const one = args[0];
    if (this.names && args.length === 1 && typeof one === 'object' && one !== null && !ArrayBuffer.isView(one))
      return this.names.map((n) => (one as Record<string, unknown>)[n] ?? null);
    // better-sqlite3 flattens array arguments into positional parameters.
    return args.some(Array.isArray) ? args.flat() : args;
  }

  run(...args: unknown[]): RunResult {
    return { changes: this.db.query(this.sql, this.params(args), false).changes, lastInsertRowid: 0 };
  }

  get(...args: unknown[]): unknown {
    return this.all(...args)[0];
  }

  all(...args: unknown[]): unknown[] {
    const array = this.rawMode || this.pluckMode;
    const rows = this.db.query(this.sql, this.params(args), array).rows;
    return this.pluckMode ? rows.map((r) => (r as unknown[])[0]) : rows;
  }

  raw(toggle = true): this {
    this.rawMode = toggle;
    if (toggle) this.pluckMode = false;
    return this;
  }

  pluck(toggle = true): this {
    this.pluckMode = toggle;
    if (toggle) this.rawMode = false;
    return this;
  }

  /** better-sqlite3's bigint switch: PostgreSQL's values already come exact (text beyond 2^53). */
  safeIntegers(_toggle = true): this {
    return this;
  }
}

/** The connection's thread (pg-migrate, bundled into it, finds its folder by the worker file's URL). */
function startWorker(data: Omit<PgWorkerData, 'port'>, port: MessagePort): Worker {
  const workerData: PgWorkerData = { ...data, port };
  return spawnWorkerSync(workerFile(import.meta.url, 'pg-worker'), { workerData, transferList: [port] });
}

/** A PostgreSQL database behind better-sqlite3's synchronous surface. */
export class PgSyncDb implements SyncDb {
  /** The URL without its password. */
  readonly name: string;
  private isOpen = false;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly port: MessagePort;
  private readonly worker: Worker;
  private depth = 0;
  /** A retryable error raised inside the current transaction (even if its body caught it). */
  private poisoned: unknown = null;

  /** Connects (blocking until connected) and, unless `migrate` is false, applies the PostgreSQL migrations. */
  constructor(url: string, opts: { migrate?: boolean } = {}) {
    this.name = redactUrl(url);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = startWorker({ flag: this.flag, url, migrate: opts.migrate ?? true }, port2);
    this.worker.unref();
    this.port.unref();
    try {
      this.call({ op: 'open' }, OPEN_MS);
    } catch (e) {
      void this.worker.terminate();
      throw e;
    }
    this.isOpen = true;
  }

  get open(): boolean {
    return this.isOpen;
  }

  /** The leader lock on a connection of its own (see sync-db.ts). */
  readonly lock: LeaderLock = {
    tryAcquire: () => this.lockCall('try'),
    alive: () => this.lockCall('alive'),
    release: () => void this.lockCall('release'),
  };

  private lockCall(what: 'try' | 'alive' | 'release'): boolean {
    if (!this.isOpen) return false;
    const r = this.call({ op: 'lock', what, key: LEADER_LOCK_KEY });
    return r.ok && r.value === true;
  }

  /** One request to the worker, waiting for its reply. */
  private call(req: PgRequest, timeout = REPLY_MS): Extract<PgReply, { ok: true }> {
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage(req);
    if (Atomics.wait(this.flag, 0, 0, timeout) === 'timed-out') {
      this.isOpen = false;
      void this.worker.terminate();
      throw Object.assign(new Error(`PostgreSQL did not answer within ${timeout} ms (${this.name})`), {
        code: '57014',
      });
    }
    // The worker posts before it raises the flag, so the reply should be there; under a loader
    // hook (tsx in a worker) it was seen to land a moment after the wake: look again briefly.
    let reply = receiveMessageOnPort(this.port)?.message as PgReply | undefined;
    for (let tries = 0; !reply && tries < 200; tries++) {
      sleep(1);
      reply = receiveMessageOnPort(this.port)?.message as PgReply | undefined;
    }
    if (!reply) throw new Error(`the PostgreSQL thread woke without a reply (${this.name})`);
    if (!reply.ok) {
      const e = Object.assign(new Error(reply.error.message), reply.error);
      if (this.depth > 0 && isRetryable(e)) this.poisoned = e;
      throw e;
    }
    return reply;
  }

  /** Runs a SQLite statement text (translated) with its parameters. */
  query(sql: string, params: unknown[], array: boolean): { rows: unknown[]; changes: number } {
    if (!this.isOpen) throw new TypeError('The database connection is not open');
    const r = this.call({ op: 'query', sql, params, array, idle: this.depth === 0 });
    if (r.bytea) {
      for (const row of r.rows as Record<string | number, unknown>[])
        for (const k of r.bytea) {
          const v = row[k];
          if (v instanceof Uint8Array) row[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
        }
    }
    return r;
  }

  prepare(sql: string): PgStatement {
    const t = translate(sql);
    return new PgStatement(this, t.text, t.names);
  }

  exec(sql: string): this {
    if (!this.isOpen) throw new TypeError('The database connection is not open');
    this.call({ op: 'exec', sql: translate(sql).text, idle: this.depth === 0 });
    return this;
  }

  /** SQLite's pragmas have no PostgreSQL meaning here (the session settings are made at connect). */
  pragma(_source: string, _options?: { simple?: boolean }): undefined {
    return undefined;
  }

  /** better-sqlite3's transaction(fn): a function running fn in a transaction, or a savepoint when nested. */
  transaction<F extends (...args: never[]) => unknown>(fn: F): F {
    const db = this;
    const run = function (this: unknown, ...args: never[]) {
      return db.atomic(() => fn.apply(this, args));
    } as F & { deferred: F; immediate: F; exclusive: F };
    // drizzle's session calls one of these; PostgreSQL has no such modes.
    run.deferred = run.immediate = run.exclusive = run;
    return run;
  }

  /** Runs `body` in a transaction (outermost: `isolation`, retried on 40001/40P01) or a savepoint. */
  atomic<T>(body: () => T, isolation: Isolation = 'repeatable read'): T {
    if (this.depth > 0) return this.savepoint(body);
    for (let attempt = 1; ; attempt++) {
      this.exec(`begin isolation level ${isolation}`);
      this.depth = 1;
      this.poisoned = null;
      try {
        const result = settled(body());
        if (this.poisoned) throw this.poisoned;
        this.depth = 0;
        this.exec('commit');
        return result;
      } catch (e) {
        this.depth = 0;
        // After a failed COMMIT the transaction is already over: this ROLLBACK only warns.
        if (this.isOpen) this.exec('rollback');
        if (!isRetryable(e) || attempt >= TRIES) throw e;
        sleep(attempt * (1 + Math.random() * 4));
      }
    }
  }

  private savepoint<T>(body: () => T): T {
    const name = `s${this.depth}`;
    this.exec(`savepoint ${name}`);
    this.depth++;
    try {
      const result = settled(body());
      this.depth--;
      this.exec(`release savepoint ${name}`);
      return result;
    } catch (e) {
      this.depth--;
      if (this.isOpen) this.exec(`rollback to savepoint ${name}; release savepoint ${name}`);
      throw e;
    }
  }

  /** Ends the connections and the worker thread. */
  close(): this {
    if (!this.isOpen) return this;
    this.isOpen = false;
    try {
      this.call({ op: 'close' });
    } finally {
      void this.worker.terminate();
    }
    return this;
  }
}

/** As better-sqlite3: a transaction body must not be async (the transaction would end before it). */
function settled<T>(v: T): T {
  if (v && typeof (v as { then?: unknown }).then === 'function')
    throw new TypeError('Transaction function cannot return a promise');
  return v;
}
