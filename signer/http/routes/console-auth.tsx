/**
 * The console's first-run and login pages (plain HTML forms), logout, and its stylesheet at
 * /console/assets/console.css. The first-run page needs the setup token the signer printed at
 * start (`/console/init?token=...`, or typed in). Failed form posts re-render the page with the
 * reason and the status a script would get from the JSON API.
 */
import { readFileSync } from 'node:fs';
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { adminExists, flashOf, initConsole, logIn, logOut, redirectWithFlash } from '../../console/index.js';
import { InitPage, LoginPage } from '../../console/index.js';
import { ApiError } from '../../errors.js';
import type { Env } from '../env.js';
import { defaultLimit } from '../limits.js';
import { doc, page } from '../openapi-doc.js';

const stylesheet = readFileSync(new URL('../../console/assets/console.css', import.meta.url), 'utf8');

async function formCredentials(c: Context<Env>): Promise<{ username: string; password: string; token: string }> {
  const form = await c.req.parseBody();
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  return { username: text(form.username).trim(), password: text(form.password), token: text(form.token).trim() };
}

function failure(err: unknown): { status: ContentfulStatusCode; message: string } {
  if (err instanceof ApiError) return { status: err.status as ContentfulStatusCode, message: err.message };
  throw err;
}

/** Init, login and logout pages, and the console stylesheet. */
export const consoleAuth = new Hono<Env>()
  .get(
    '/console/assets/console.css',
    doc('console', { summary: 'The console stylesheet', responses: { 200: { description: 'CSS' } } }),
    (c) =>
      c.body(stylesheet, 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=300' }),
  )
  .get('/console/init', doc('console', page('Create the first admin (with the setup token)')), (c) =>
    adminExists(c.var.services.store)
      ? c.redirect('/console/login', 303)
      : c.html(<InitPage token={c.req.query('token')?.slice(0, 256)} flash={flashOf(c)} />),
  )
  .post('/console/init', defaultLimit, doc('console', page('Create the first admin (form)')), async (c) => {
    const { username, password, token } = await formCredentials(c);
    try {
      await initConsole(c.var.services, token || undefined, username, password);
      await logIn(c, username, password);
      return redirectWithFlash(c, '/console', { notice: `admin ${username} created; you are logged in` });
    } catch (err) {
      const { status, message } = failure(err);
      if (status === 409) return redirectWithFlash(c, '/console/login', { error: message });
      // A wrong token is asked for again in a visible field; a right one stays hidden.
      return c.html(
        <InitPage username={username} token={status === 401 ? undefined : token} flash={{ error: message }} />,
        status,
      );
    }
  })
  .get('/console/login', doc('console', page('Log in')), (c) =>
    adminExists(c.var.services.store) ? c.html(<LoginPage flash={flashOf(c)} />) : c.redirect('/console/init', 303),
  )
  .post('/console/login', defaultLimit, doc('console', page('Log in (form)')), async (c) => {
    const { username, password } = await formCredentials(c);
    try {
      await logIn(c, username, password);
      return c.redirect('/console', 303);
    } catch (err) {
      const { status, message } = failure(err);
      return c.html(<LoginPage username={username} flash={{ error: message }} />, status);
    }
  })
  .post('/console/logout', defaultLimit, doc('console', page('Log out')), (c) => {
    logOut(c);
    return redirectWithFlash(c, '/console/login', { notice: 'logged out' });
  });
