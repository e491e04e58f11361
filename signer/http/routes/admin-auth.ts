/**
 * The console's JSON auth API: POST /api/v1/admin/init (first admin only, with the one-time setup
 * token the signer printed at start), login (sets the session cookie and returns the CSRF token),
 * logout, and GET /api/v1/admin/me.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { initConsole, logIn, logOut, MAX_PASSWORD_LENGTH } from '../../console/index.js';
import type { Env } from '../env.js';
import { defaultLimit } from '../limits.js';
import { consolePaths } from '../openapi-console.js';
import { doc, valid } from '../openapi-doc.js';
import { ok } from '../respond.js';

/** Body of init and login. */
export const credentials = z
  .object({ username: z.string().min(1).max(64), password: z.string().min(1).max(MAX_PASSWORD_LENGTH) })
  .strict();

/** Body of init: the credentials of the first admin and the setup token (console/setup.ts). */
export const initBody = credentials.extend({ setup_token: z.string().max(256).optional() }).strict();

/** Admin init, login, logout and who-am-I. */
export const adminAuth = new Hono<Env>()
  .post(
    '/api/v1/admin/init',
    defaultLimit,
    doc('admin', consolePaths['/api/v1/admin/init'].post),
    valid('json', initBody),
    async (c) => {
      const { username, password, setup_token } = c.req.valid('json');
      return ok(c, await initConsole(c.var.services, setup_token, username, password), 201);
    },
  )
  .post(
    '/api/v1/admin/login',
    defaultLimit,
    doc('admin', consolePaths['/api/v1/admin/login'].post),
    valid('json', credentials),
    async (c) => {
      const { username, password } = c.req.valid('json');
      return ok(c, await logIn(c, username, password));
    },
  )
  .post('/api/v1/admin/logout', defaultLimit, doc('admin', consolePaths['/api/v1/admin/logout'].post), (c) => {
    logOut(c);
    return ok(c, { logged_out: true });
  })
  .get('/api/v1/admin/me', doc('admin', consolePaths['/api/v1/admin/me'].get), (c) =>
    ok(c, { id: c.var.admin.id, username: c.var.admin.username, csrf_token: c.var.admin.csrfToken }),
  );
