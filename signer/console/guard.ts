/**
 * The console's session guard, mounted on /console/* and /api/v1/admin/*: every request needs a
 * live session except the init and login pages and endpoints and the stylesheet; every
 * state-changing request must come from this site (hono's csrf origin check) and, once logged
 * in, carry the session's CSRF token (header `x-csrf-token` or form field `_csrf`).
 */
import { timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { csrf } from 'hono/csrf';
import { HTTPException } from 'hono/http-exception';
import { ApiError } from '../errors.js';
import type { Env } from '../http/index.js';
import { adminExists, findSession } from './accounts.js';
import { sessionCookie } from './session.js';

const OPEN_PATHS = new Set(['/console/init', '/console/login', '/api/v1/admin/init', '/api/v1/admin/login']);
const SAFE_METHODS = /^(GET|HEAD|OPTIONS)$/;
const FORM_TYPES = /^(application\/x-www-form-urlencoded|multipart\/form-data)/i;
const originCheck = csrf();

function isOpen(path: string): boolean {
  return OPEN_PATHS.has(path) || path.startsWith('/console/assets/');
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function sentCsrfToken(c: Context): Promise<string | undefined> {
  const header = c.req.header('x-csrf-token');
  if (header) return header;
  if (!FORM_TYPES.test(c.req.header('content-type') ?? '')) return undefined;
  // parseBody caches the parsed form, so the route reads it again for free.
  const field = (await c.req.parseBody())._csrf;
  return typeof field === 'string' ? field : undefined;
}

/** Requires a logged-in admin (sets `c.var.admin`) and CSRF protection; see the file comment. */
export const consoleGuard: MiddlewareHandler<Env> = async (c, next) => {
  const changesState = !SAFE_METHODS.test(c.req.method);
  if (changesState) {
    try {
      await originCheck(c, async () => {});
    } catch (err) {
      if (!(err instanceof HTTPException)) throw err;
      throw new ApiError(
        'forbidden',
        `form posted from another site (Origin: ${c.req.header('origin') ?? 'none'}); use the console pages of this signer`,
      );
    }
  }
  if (isOpen(c.req.path)) return next();
  const s = c.var.services;
  const id = sessionCookie(c);
  const admin = id ? findSession(s.store, id) : null;
  if (!admin) {
    if (c.req.path.startsWith('/api/'))
      throw new ApiError(
        'unauthorized',
        'not logged in or the session expired: POST /api/v1/admin/login with {username, password}',
      );
    return c.redirect(adminExists(s.store) ? '/console/login' : '/console/init', 303);
  }
  if (changesState) {
    const sent = await sentCsrfToken(c);
    if (!sent || !sameSecret(sent, admin.csrfToken))
      throw new ApiError('forbidden', 'missing or wrong CSRF token; reload the page');
  }
  c.set('admin', admin);
  await next();
};
