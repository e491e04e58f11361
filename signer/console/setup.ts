/**
 * The console's one-time setup token. Until an admin exists, whoever reached `/console/init`
 * first became the admin (issue 12). Now the signer makes a random token when it starts without
 * an admin, prints the setup URL in its log (as Grafana and Jupyter do) and writes the token to a
 * file next to its database, readable by its owner only, so that `npm start` (or an operator on
 * the machine) can read it. Creating the admin needs that token; once the admin exists the token
 * is forgotten and the file removed. In memory the signer keeps only the token's sha256.
 *
 * Replicas on one PostgreSQL (issue 15) have no shared folder: the token's sha256 is the
 * `console_setup` row instead, so the setup URL one replica printed works on every replica. The
 * first replica to start without an admin makes it; the others keep it (they cannot print it, only
 * its hash is stored) and say where it was printed.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { SignerDatabase } from '../db/index.js';
import { prepared } from '../db/index.js';
import { ApiError } from '../errors.js';
import { adminExists, initAdmin } from './accounts.js';

/** Name of the setup-token file, in the database's folder. */
export const SETUP_TOKEN_FILE = 'console-setup-token';
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** The setup-token file of a signer whose database is at `databasePath` (null for an in-memory database). */
export function setupTokenPath(databasePath: string): string | null {
  return databasePath === ':memory:' ? null : join(dirname(databasePath), SETUP_TOKEN_FILE);
}

/** The token in a setup-token file, or null when there is none (the console has an admin, or the signer never started). */
export function readSetupToken(file: string): string | null {
  if (!existsSync(file)) return null;
  const token = readFileSync(file, 'utf8').trim();
  return TOKEN_PATTERN.test(token) ? token : null;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** What `prepare` did: made (or reloaded) the token, or found one another replica made at `madeAt`. */
export type SetupPrepared = { token: string; writeError: Error | null } | { token: null; madeAt: number };

/** The setup token of one signer process: made (or reloaded) at start, checked by init, dropped once an admin exists. */
export class ConsoleSetup {
  #hash: Buffer | null = null;

  /**
   * `file`: where the token is written (null: only logged, for an in-memory database).
   * `shared`: the PostgreSQL database whose `console_setup` row holds the token's hash instead.
   */
  constructor(
    readonly file: string | null,
    private readonly shared: SignerDatabase | null = null,
  ) {}

  /** The setup token of the signer on `store`: its hash in the database on PostgreSQL, in a file beside a SQLite one. */
  static for(store: SignerDatabase): ConsoleSetup {
    return store.dialect === 'postgres'
      ? new ConsoleSetup(null, store)
      : new ConsoleSetup(setupTokenPath(store.sqlite.name));
  }

  /**
   * Called at start. Without an admin: reuses the token of an earlier start still in the file
   * (so a setup URL printed then keeps working), or makes a new one and writes it (mode 0600);
   * returns it so the caller can print it, with the error if the file could not be written (the
   * token works all the same). With an admin: removes a leftover file, returns null.
   */
  prepare(store: SignerDatabase): SetupPrepared | null {
    if (adminExists(store)) {
      this.finish();
      return null;
    }
    if (this.shared) return this.#prepareShared();
    let token = this.file ? readSetupToken(this.file) : null;
    // A file others can read may have leaked its token: make a new one.
    if (token && (statSync(this.file!).mode & 0o077) !== 0) token = null;
    let writeError: Error | null = null;
    if (!token) {
      token = randomBytes(32).toString('base64url');
      if (this.file) {
        try {
          rmSync(this.file, { force: true });
          // Created with its final mode ('wx': never through a file or link someone else placed there).
          writeFileSync(this.file, `${token}\n`, { mode: 0o600, flag: 'wx' });
        } catch (err) {
          writeError = err as Error;
        }
      }
    }
    this.#hash = sha256(token);
    return { token, writeError };
  }

  /** The first replica's token wins: a second one would void the URL the first printed. */
  #prepareShared(): SetupPrepared {
    const token = randomBytes(32).toString('base64url');
    const made = prepared(
      this.shared!.sqlite,
      'insert into console_setup (id, token_sha256, created_at) values (1, ?, ?) on conflict do nothing',
    ).run(sha256(token).toString('hex'), Date.now());
    if (made.changes === 1) return { token, writeError: null };
    return { token: null, madeAt: this.#sharedRow()?.created_at ?? Date.now() };
  }

  #sharedRow(): { token_sha256: string; created_at: number } | undefined {
    return prepared(this.shared!.sqlite, 'select token_sha256, created_at from console_setup where id = 1').get() as
      | { token_sha256: string; created_at: number }
      | undefined;
  }

  /** The hash a token must have: the database's (any replica may have made it), or this process's. */
  #expected(): Buffer | null {
    if (!this.shared) return this.#hash;
    const row = this.#sharedRow();
    return row ? Buffer.from(row.token_sha256, 'hex') : null;
  }

  /** Whether a setup token is waiting to be used. */
  get pending(): boolean {
    return this.#expected() !== null;
  }

  /** Throws 401 unless `token` is the setup token, saying where to find it. */
  check(token: string | undefined): void {
    // The file's name only: its full path is no business of an anonymous caller.
    const where = this.shared
      ? 'the log of the signer replica that made it'
      : this.file
        ? `the file ${SETUP_TOKEN_FILE} next to the signer's database`
        : "the signer's log";
    const expected = this.#expected();
    if (!expected)
      throw new ApiError(
        'setup_token_invalid',
        this.shared
          ? 'this signer has no setup token; restart a replica to make one (it is printed in its log)'
          : `this signer has no setup token; restart it to make one (it is printed in its log and written to ${SETUP_TOKEN_FILE} next to its database)`,
      );
    if (!token)
      throw new ApiError(
        'setup_token_required',
        `creating the admin needs the console setup token: open the /console/init?token=... URL the signer printed when it started, or copy the token from ${where}`,
      );
    if (!timingSafeEqual(sha256(token), expected))
      throw new ApiError(
        'setup_token_invalid',
        `the setup token does not match; copy it from ${where} (or the /console/init?token=... URL in the signer's log)`,
      );
  }

  /**
   * Takes a checked token for one init on PostgreSQL, so two replicas given it at once cannot
   * both create an admin: only the one whose delete removed the row goes on. `release` puts it
   * back if that init fails. On SQLite (one process) init's own transaction decides.
   */
  take(token: string): { release(): void } {
    if (!this.shared) return { release: () => {} };
    const hash = sha256(token).toString('hex');
    const row = this.#sharedRow();
    const taken = prepared(this.shared.sqlite, 'delete from console_setup where id = 1 and token_sha256 = ?').run(hash);
    if (taken.changes === 0)
      throw new ApiError('conflict', 'the console is being initialized by another request; log in at /console/login');
    return {
      release: () =>
        prepared(
          this.shared!.sqlite,
          'insert into console_setup (id, token_sha256, created_at) values (1, ?, ?) on conflict do nothing',
        ).run(hash, row?.created_at ?? Date.now()),
    };
  }

  /** Forgets the token and removes its file (its row on PostgreSQL): the admin exists. */
  finish(): void {
    this.#hash = null;
    if (this.file) rmSync(this.file, { force: true });
    if (this.shared) prepared(this.shared.sqlite, 'delete from console_setup').run();
  }
}

/** Prepares the setup token at start and logs the setup URL (`baseUrl`: where the signer listens, when known). */
export function announceSetup(setup: ConsoleSetup, store: SignerDatabase, log: Logger, baseUrl = ''): void {
  const made = setup.prepare(store);
  if (!made) return;
  if (made.token === null) {
    log.warn(
      { setup_token_made_at: new Date(made.madeAt).toISOString() },
      `the console has no admin yet: another signer replica made its setup token at ${new Date(made.madeAt).toISOString()}; open the ${baseUrl}/console/init?token=... URL in that replica's log (to make a new one, delete the console_setup row and restart a replica)`,
    );
    return;
  }
  const { token, writeError } = made;
  if (writeError)
    log.error(
      { err: writeError, file: setup.file },
      'could not write the console setup token file; use the setup URL in this log',
    );
  const file = setup.file && !writeError ? ` (the token is also in ${setup.file}, readable only by this user)` : '';
  log.warn(
    { setup_url: `${baseUrl}/console/init?token=${token}` },
    `the console has no admin yet: open ${baseUrl}/console/init?token=${token} to create one${file}`,
  );
}

/** Creates the first admin with the setup token (409 once one exists, 401 without the right token); the token then stops working. */
export async function initConsole(
  s: { store: SignerDatabase; consoleSetup: ConsoleSetup },
  token: string | undefined,
  username: string,
  password: string,
): Promise<{ id: number; username: string }> {
  if (adminExists(s.store)) throw new ApiError('conflict', 'already initialized; log in at /console/login');
  s.consoleSetup.check(token);
  const taken = s.consoleSetup.take(token!);
  let admin: { id: number; username: string };
  try {
    admin = await initAdmin(s.store, username, password);
  } catch (err) {
    taken.release();
    throw err;
  }
  s.consoleSetup.finish();
  return admin;
}
