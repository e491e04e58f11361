/**
 * Logging in and out over HTTP: the login rate limit, the session cookie (HttpOnly,
 * SameSite=Strict, Secure over https) and its removal. Shared by the JSON API and the pages.
 */
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { ApiError } from '../errors.js';
import type { Env } from '../http/index.js';
import { checkPassword, createSession, endSession } from './accounts.js';
import { socketClientIp } from './client-ip.js';

/** Name of the session cookie. */
export const SESSION_COOKIE = 'signer_session';

function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:';
}

/** The session cookie's value, if the request carries one. */
export function sessionCookie(c: Context): string | undefined {
  return getCookie(c, SESSION_COOKIE);
}

/**
 * Checks a username and password under the login rate limit and, when they match, starts a
 * session and sets its cookie. Throws 429 (with Retry-After) or 401 otherwise.
 */
export async function logIn(
  c: Context<Env>,
  username: string,
  password: string,
): Promise<{ username: string; csrf_token: string }> {
  const s = c.var.services;
  const limiter = s.loginLimiter;
  // Throttled per address and per (username, address), never per username alone: failures from
  // one place must not lock the right password out from another (console/login-limiter.ts).
  const address = socketClientIp(c);
  const throttled = limiter.throttled(address, username);
  if (throttled) {
    const wait = throttled.retryAfterSeconds;
    c.header('Retry-After', String(wait));
    const minutes = Math.ceil(wait / 60);
    const what = throttled.scope === 'address' ? 'from your address' : `for ${username} from your address`;
    throw new ApiError(
      'too_many_requests',
      `too many failed logins ${what}; try again in ${minutes} minute${minutes === 1 ? '' : 's'} (after ${new Date(Date.now() + wait * 1000).toISOString()})`,
    );
  }
  const admin = await checkPassword(s.store, username, password);
  if (!admin) {
    limiter.fail(address, username);
    throw new ApiError('unauthorized', 'wrong username or password');
  }
  limiter.clear(address, username);
  const ttl = s.config.console.session_ttl_ms;
  const session = createSession(s.store, admin.id, ttl);
  setCookie(c, SESSION_COOKIE, session.sessionId, {
    httpOnly: true,
    sameSite: 'Strict',
    path: '/',
    secure: isHttps(c),
    maxAge: Math.floor(ttl / 1000),
  });
  s.log.info({ admin: admin.username }, 'admin logged in');
  return { username: admin.username, csrf_token: session.csrfToken };
}

/** Ends the request's session (if any) and clears its cookie. */
export function logOut(c: Context<Env>): void {
  const id = sessionCookie(c);
  if (id) endSession(c.var.services.store, id);
  deleteCookie(c, SESSION_COOKIE, { path: '/', secure: isHttps(c), httpOnly: true, sameSite: 'Strict' });
}
