/**
 * API tokens on a running signer, through its admin API over HTTP as an operator's script would
 * use it: set up the admin account when the signer has none (with the one-time setup token the
 * signer wrote in its data folder), log in, create a token. Used by the direct-inference
 * end-to-end test and `npm run bench:infer`.
 */
import { join } from 'node:path';
import { readSetupToken, SETUP_TOKEN_FILE } from '../../signer/console/setup.js';

/** The admin account these scripts create (or log in with). */
export const SCRIPT_ADMIN = { username: 'admin', password: 'bench and e2e admin password' };

/** The envelope's data fields these scripts read: a login's CSRF token, a created API token. */
type Data = { csrf_token?: string; token?: string } | null;

async function call(
  url: string,
  init: RequestInit,
): Promise<{ status: number; headers: Headers; body: { data: Data; error: string | null } }> {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: (await res.json()) as { data: Data; error: string | null } };
}

/**
 * Mints a token (settings as POST /api/v1/admin/tokens takes them) and returns its secret. The
 * signer is given by its URL and its data folder (where its database and setup token are), as a
 * `Marketplace` has them.
 */
export async function mintApiToken(
  { signerUrl, dataDir }: { signerUrl: string; dataDir: string },
  settings: Record<string, unknown> = {},
  admin = SCRIPT_ADMIN,
): Promise<string> {
  // The console refuses state changes from another site: the Origin must be the signer's own.
  const json = { 'content-type': 'application/json', origin: new URL(signerUrl).origin };
  // No file: the admin exists already (the signer removes it then), so log in.
  const setup_token = readSetupToken(join(dataDir, SETUP_TOKEN_FILE));
  if (setup_token) {
    const init = await call(`${signerUrl}/api/v1/admin/init`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ ...admin, setup_token }),
    });
    if (init.status !== 201 && init.status !== 409) throw new Error(`admin init: ${init.status} ${init.body.error}`);
  }
  const login = await call(`${signerUrl}/api/v1/admin/login`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify(admin),
  });
  if (login.status !== 200) throw new Error(`admin login: ${login.status} ${login.body.error}`);
  const cookie = login.headers
    .getSetCookie()
    .find((c) => c.startsWith('signer_session='))
    ?.split(';')[0];
  if (!cookie) throw new Error('admin login set no session cookie');
  const headers = { ...json, cookie, 'x-csrf-token': login.body.data?.csrf_token as string };
  const created = await call(`${signerUrl}/api/v1/admin/tokens`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: 'script', ...settings }),
  });
  if (created.status !== 201) throw new Error(`creating a token: ${created.status} ${created.body.error}`);
  return created.body.data?.token as string;
}
