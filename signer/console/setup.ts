/**
 * The console's one-time setup token. Until an admin exists, whoever reached `/console/init`
 * first became the admin (issue 12). Now the signer makes a random token when it starts without
 * an admin, prints the setup URL in its log (as Grafana and Jupyter do) and writes the token to a
 * file next to its database, readable by its owner only, so that `npm start` (or an operator on
 * the machine) can read it. Creating the admin needs that token; once the admin exists the token
 * is forgotten and the file removed. In memory the signer keeps only the token's sha256.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { SignerDatabase } from '../db/index.js';
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

/** The setup token of one signer process: made (or reloaded) at start, checked by init, dropped once an admin exists. */
export class ConsoleSetup {
  #hash: Buffer | null = null;

  /** `file`: where the token is written (null: only logged, for an in-memory database). */
  constructor(readonly file: string | null) {}

  /**
   * Called at start. Without an admin: reuses the token of an earlier start still in the file
   * (so a setup URL printed then keeps working), or makes a new one and writes it (mode 0600);
   * returns it so the caller can print it, with the error if the file could not be written (the
   * token works all the same). With an admin: removes a leftover file, returns null.
   */
  prepare(store: SignerDatabase): { token: string; writeError: Error | null } | null {
    if (adminExists(store)) {
      this.finish();
      return null;
    }
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

  /** Whether a setup token is waiting to be used. */
  get pending(): boolean {
    return this.#hash !== null;
  }

  /** Throws 401 unless `token` is the setup token, saying where to find it. */
  check(token: string | undefined): void {
    // The file's name only: its full path is no business of an anonymous caller.
    const where = this.file ? `the file ${SETUP_TOKEN_FILE} next to the signer's database` : "the signer's log";
    if (!this.#hash)
      throw new ApiError(
        'setup_token_invalid',
        `this signer has no setup token; restart it to make one (it is printed in its log and written to ${SETUP_TOKEN_FILE} next to its database)`,
      );
    if (!token)
      throw new ApiError(
        'setup_token_required',
        `creating the admin needs the console setup token: open the /console/init?token=... URL the signer printed when it started, or copy the token from ${where}`,
      );
    if (!timingSafeEqual(sha256(token), this.#hash))
      throw new ApiError(
        'setup_token_invalid',
        `the setup token does not match; copy it from ${where} (or the /console/init?token=... URL in the signer's log)`,
      );
  }

  /** Forgets the token and removes its file: the admin exists. */
  finish(): void {
    this.#hash = null;
    if (this.file) rmSync(this.file, { force: true });
  }
}

/** Prepares the setup token at start and logs the setup URL (`baseUrl`: where the signer listens, when known). */
export function announceSetup(setup: ConsoleSetup, store: SignerDatabase, log: Logger, baseUrl = ''): void {
  const prepared = setup.prepare(store);
  if (!prepared) return;
  const { token, writeError } = prepared;
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
  const admin = await initAdmin(s.store, username, password);
  s.consoleSetup.finish();
  return admin;
}
