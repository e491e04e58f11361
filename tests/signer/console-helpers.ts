/**
 * Console test helpers: an admin session for `app.request`, with the cookie, the CSRF token and
 * headers that pass both the origin check and the token check, for JSON and form requests; and
 * the console's one-time setup token, read from the file the signer wrote as an operator would.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Hono } from 'hono';
import { readSetupToken } from '../../signer/console/setup.js';
import type { Services } from '../../signer/services.js';

/** Username and password `adminSession` creates. */
export const ADMIN = { username: 'admin', password: 'correct horse battery' };
/** The origin `app.request` uses for relative URLs (http://localhost). */
export const ORIGIN = 'http://localhost';

/** An admin's session: its cookie, CSRF token, and headers for `app.request`. */
export interface AdminSessionHeaders {
  cookie: string;
  csrf: string;
  /** cookie + origin + x-csrf-token; add a content-type for a body. */
  headers: Record<string, string>;
}

/** The session cookie (`signer_session=...`) a response sets, or '' when it sets none. */
export function sessionCookieOf(res: Response): string {
  const set = res.headers.getSetCookie().find((c) => c.startsWith('signer_session='));
  return set ? set.split(';')[0] : '';
}

/** A signer under test: its app, and its services when the console may still need its admin created. */
export type ConsoleTarget = Hono<any> | { app: Hono<any>; s: Pick<Services, 'consoleSetup' | 'store'> };

/** Tokens setupToken put in a PostgreSQL signer's console_setup row, by the signer's setup. */
const sharedTokens = new WeakMap<object, string>();

/**
 * The console's one-time setup token, as the signer wrote it next to its database; null once an
 * admin exists (or without a file). On PostgreSQL the database keeps only the token's hash (the
 * token went to the log, silent here): the row gets a token of ours, as an operator with the
 * database could do, the same one on every call while it is there.
 */
export function setupToken(s: Pick<Services, 'consoleSetup' | 'store'>): string | null {
  if (s.store.dialect !== 'postgres') return s.consoleSetup.file ? readSetupToken(s.consoleSetup.file) : null;
  const hash = (token: string) => createHash('sha256').update(token).digest('hex');
  const row = s.store.sqlite.prepare('select token_sha256 from console_setup where id = 1').get() as
    | { token_sha256: string }
    | undefined;
  if (!row) return null;
  let token = sharedTokens.get(s.consoleSetup);
  if (!token || hash(token) !== row.token_sha256) {
    token = randomBytes(32).toString('base64url');
    s.store.sqlite.prepare('update console_setup set token_sha256 = ? where id = 1').run(hash(token));
    sharedTokens.set(s.consoleSetup, token);
  }
  return token;
}

/**
 * Initializes the admin (if needed: pass the services, whose setup token it takes) as an operator
 * would, logs in, and returns headers for authenticated requests.
 */
export async function adminSession(target: ConsoleTarget): Promise<AdminSessionHeaders> {
  const json = { 'content-type': 'application/json', origin: ORIGIN };
  const app = 'app' in target ? target.app : target;
  const token = 'app' in target ? setupToken(target.s) : null;
  if (token) {
    const init = await app.request('/api/v1/admin/init', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ ...ADMIN, setup_token: token }),
    });
    if (init.status !== 201 && init.status !== 409)
      throw new Error(`admin init failed: ${init.status} ${await init.text()}`);
  }
  const login = await app.request('/api/v1/admin/login', {
    method: 'POST',
    headers: json,
    body: JSON.stringify(ADMIN),
  });
  if (login.status !== 200)
    throw new Error(
      `admin login failed: ${login.status} ${await login.text()}${'app' in target ? '' : ' (to create the admin first, pass {app, s}: init needs the setup token)'}`,
    );
  const csrf = ((await login.json()) as { data: { csrf_token: string } }).data.csrf_token;
  const cookie = sessionCookieOf(login);
  return { cookie, csrf, headers: { cookie, origin: ORIGIN, 'x-csrf-token': csrf } };
}
