/**
 * The console's API token pages: /console/tokens (list, create: the new token is shown once),
 * /console/tokens/{id} (edit), and form posts to pause, activate and delete. Each post
 * redirects (303) back with a flash message, except create, which must show the token once.
 */
import { Hono, type Context } from 'hono';
import type { z } from 'zod';
import { flashOf, redirectWithFlash } from '../../console/index.js';
import { TokenEditPage, TokensPage } from '../../console/index.js';
import { ApiError } from '../../errors.js';
import {
  activateToken,
  activateTokenBody,
  createToken,
  createTokenBody,
  deleteToken,
  getToken,
  listTokens,
  pauseToken,
  updateToken,
  updateTokenBody,
} from '../../tokens/index.js';
import type { Env } from '../env.js';
import { defaultLimit } from '../limits.js';
import { doc, page } from '../openapi-doc.js';
import { describeIssues } from '../respond.js';

const list = (v: string) => v.split(/[\s,]+/).filter(Boolean);

/** Form fields as the JSON API would take them (empty expiry: never; empty models: all). */
async function formSettings(c: Context<Env>): Promise<Record<string, unknown>> {
  const form = await c.req.parseBody();
  const text = (k: string) => (typeof form[k] === 'string' ? (form[k] as string).trim() : undefined);
  const out: Record<string, unknown> = {};
  const name = text('name');
  if (name !== undefined) out.name = name;
  const models = text('allowed_models');
  if (models !== undefined) out.allowed_models = models === '' ? null : list(models);
  const ips = text('ip_allowlist');
  if (ips !== undefined) out.ip_allowlist = list(ips);
  for (const k of ['rate_limit_per_minute', 'monthly_quota']) {
    const v = text(k);
    if (v !== undefined && v !== '') out[k] = Number(v);
  }
  const account = text('account');
  // Empty: not paid from a prepaid account.
  if (account !== undefined) out.account = account === '' ? null : account;
  const expires = text('expires_at');
  // datetime-local has no zone; the form labels it UTC.
  if (expires !== undefined) out.expires_at = expires === '' ? null : Date.parse(`${expires}Z`) || expires;
  const level = text('data_level');
  // default: the guard's default_level applies (null), as with the JSON API.
  if (level !== undefined) out.data_level = level === 'default' ? null : level;
  return out;
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new ApiError('bad_request', describeIssues(parsed.error, 'form'));
  return parsed.data;
}

/** Runs a form action; an ApiError becomes a flash error on `back`. */
async function action(c: Context<Env>, back: string, run: () => Promise<string> | string): Promise<Response> {
  try {
    return redirectWithFlash(c, back, { notice: await run() });
  } catch (err) {
    if (err instanceof ApiError) return redirectWithFlash(c, back, { error: err.message });
    throw err;
  }
}

const idOf = (c: Context<Env>) => {
  const id = Number(c.req.param('id'));
  if (!Number.isInteger(id) || id <= 0) throw new ApiError('not_found', `no API token with id ${c.req.param('id')}`);
  return id;
};

/** API token pages and their form posts. */
export const consoleTokens = new Hono<Env>()
  .get('/console/tokens', doc('console', page('API tokens')), (c) =>
    c.html(
      <TokensPage
        admin={c.var.admin}
        tokens={listTokens(c.var.services.store)}
        defaultLevel={c.var.services.guard.defaultLevel}
        flash={flashOf(c)}
      />,
    ),
  )
  .post('/console/tokens', defaultLimit, doc('console', page('Create an API token (form)')), async (c) => {
    const store = c.var.services.store;
    try {
      const { token, view } = createToken(store, parse(createTokenBody, await formSettings(c)));
      c.var.services.log.info({ token_id: view.id, name: view.name, admin: c.var.admin.username }, 'API token created');
      // Rendered, not redirected: the token must not travel in a URL, and is shown only this once.
      c.header('cache-control', 'no-store');
      return c.html(
        <TokensPage
          admin={c.var.admin}
          tokens={listTokens(store)}
          defaultLevel={c.var.services.guard.defaultLevel}
          created={{ token, name: view.name }}
          flash={{ notice: `token ${view.name} created` }}
        />,
        201,
      );
    } catch (err) {
      if (err instanceof ApiError) return redirectWithFlash(c, '/console/tokens', { error: err.message });
      throw err;
    }
  })
  .get('/console/tokens/:id', doc('console', page('Edit an API token')), (c) => {
    try {
      return c.html(
        <TokenEditPage
          admin={c.var.admin}
          token={getToken(c.var.services.store, idOf(c))}
          defaultLevel={c.var.services.guard.defaultLevel}
          flash={flashOf(c)}
        />,
      );
    } catch (err) {
      if (err instanceof ApiError) return redirectWithFlash(c, '/console/tokens', { error: err.message });
      throw err;
    }
  })
  .post('/console/tokens/:id', defaultLimit, doc('console', page('Save an API token (form)')), (c) =>
    action(
      c,
      `/console/tokens/${c.req.param('id')}`,
      async () =>
        `saved ${updateToken(c.var.services.store, idOf(c), parse(updateTokenBody, await formSettings(c))).name}`,
    ),
  )
  .post('/console/tokens/:id/pause', defaultLimit, doc('console', page('Pause an API token')), (c) =>
    action(c, '/console/tokens', () => `paused ${pauseToken(c.var.services.store, idOf(c)).name}`),
  )
  .post('/console/tokens/:id/activate', defaultLimit, doc('console', page('Activate an API token')), (c) =>
    action(c, `/console/tokens/${c.req.param('id')}`, async () => {
      const { expires_at } = await formSettings(c);
      const opts = parse(activateTokenBody, expires_at === undefined ? {} : { expires_at });
      return `activated ${activateToken(c.var.services.store, idOf(c), opts).name}`;
    }),
  )
  .post('/console/tokens/:id/delete', defaultLimit, doc('console', page('Delete an API token')), (c) =>
    action(c, '/console/tokens', () => {
      const id = idOf(c);
      const { name } = getToken(c.var.services.store, id);
      deleteToken(c.var.services.store, id);
      return `deleted ${name}`;
    }),
  );
