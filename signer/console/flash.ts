/**
 * Messages carried from a form post to the page it redirects to, in the query string
 * (`?notice=` or `?error=`), so the forms work without JavaScript and a reload does not re-post.
 */
import type { Context } from 'hono';

/** A message for the next page. */
export interface Flash {
  notice?: string;
  error?: string;
}

const MAX_LENGTH = 500;

/** The flash message in the request's query string, if any. */
export function flashOf(c: Context): Flash {
  const notice = c.req.query('notice')?.slice(0, MAX_LENGTH);
  const error = c.req.query('error')?.slice(0, MAX_LENGTH);
  return { notice, error };
}

/** A 303 redirect to a console page (a path on this site) with a flash message. */
export function redirectWithFlash(c: Context, path: string, flash: Flash): Response {
  if (!path.startsWith('/') || path.startsWith('//'))
    throw new Error(`redirectWithFlash needs a local path, got ${path}`);
  const url = new URL(path, 'http://console.invalid');
  if (flash.notice) url.searchParams.set('notice', flash.notice.slice(0, MAX_LENGTH));
  if (flash.error) url.searchParams.set('error', flash.error.slice(0, MAX_LENGTH));
  return c.redirect(`${url.pathname}${url.search}`, 303);
}
