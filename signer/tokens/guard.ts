/**
 * `tokenAuth`: the API-token guard of direct inference. It refuses, in this order: a missing or
 * unknown token (401), a paused (403) or expired (403) token, a client address outside the
 * token's IP allow-list (403), a model the token may not call (403), a spent monthly quota (429),
 * and a spent per-minute rate (429 with Retry-After). An admitted request is counted and
 * `c.var.token` set; each refusal is written to inference_logs as `rejected`.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { HTTPException } from 'hono/http-exception';
import { ipRestriction } from 'hono/ip-restriction';
import { eq } from 'drizzle-orm';
import { socketClientIp, type ClientIpResolver } from '../console/client-ip.js';
import { apiTokens, inferenceLogs } from '../db/index.js';
import { ApiError, type ErrorCode } from '../errors.js';
import type { Env } from '../http/env.js';
import { admit } from './admission.js';
import { tokenHash, tokenView, type TokenRow } from './service.js';
import { canExpire, type TokenStatus } from './state.js';

/** Options of `tokenAuth`. */
export interface TokenAuthOptions {
  /** Where the client address comes from; the TCP peer by default. Tests under `app.request` pass their own. */
  clientIp?: ClientIpResolver;
  /** Count the request against the rate and the monthly quota (default). Polling for a result already paid for passes false. */
  count?: boolean;
}

function refuse(c: Context<Env>, code: ErrorCode, message: string, model: string | null, token: TokenRow | null): never {
  const err = new ApiError(code, message);
  c.var.services.store.db
    .insert(inferenceLogs)
    .values({ request_id: c.var.requestId ?? '', token_id: token?.id ?? null, model: model ?? '', status: 'rejected', http_status: err.status, error: message, created_at: Date.now() })
    .run();
  throw err;
}

// hono's bearer-auth parses the header; verifyToken finds the row by the token's sha256 (a
// lookup by a hash of 256 random bits leaks nothing useful through timing).
async function bearerToken(c: Context<Env>): Promise<TokenRow | null> {
  let row: TokenRow | null = null;
  const verify = bearerAuth<Env>({
    verifyToken: (token) => {
      row = c.var.services.store.db.select().from(apiTokens).where(eq(apiTokens.token_hash, tokenHash(token))).get() ?? null;
      return row !== null;
    },
  });
  try {
    await verify(c, async () => {});
  } catch (err) {
    if (!(err instanceof HTTPException)) throw err;
    return null;
  }
  return row;
}

async function clientAllowed(c: Context<Env>, allowList: string[], clientIp: ClientIpResolver): Promise<{ ok: boolean; addr: string | undefined }> {
  const addr = clientIp(c);
  if (allowList.length === 0) return { ok: true, addr };
  if (!addr) return { ok: false, addr };
  let ok = false;
  // The refusal response is ours (refuse below), so ip-restriction's own is only a marker.
  await ipRestriction(() => addr, { allowList }, () => new Response(null, { status: 403 }))(c, async () => {
    ok = true;
  });
  return { ok, addr };
}

/** Requires an API token allowed to call the model `modelOf` names (null: the route has no model). */
export function tokenAuth(modelOf: (c: Context<Env>) => string | null, opts: TokenAuthOptions = {}): MiddlewareHandler<Env> {
  const clientIp = opts.clientIp ?? socketClientIp;
  return async (c, next) => {
    const store = c.var.services.store;
    const model = modelOf(c);
    let row = await bearerToken(c);
    if (!row) {
      c.header('WWW-Authenticate', 'Bearer');
      refuse(c, 'unauthorized', 'missing or unknown API token: send "Authorization: Bearer sk_..." with a token an admin created at /console/tokens', model, null);
    }
    const now = Date.now();
    if (canExpire(row.status as TokenStatus) && row.expires_at !== null && row.expires_at <= now) {
      store.db.update(apiTokens).set({ status: 'expired', updated_at: now }).where(eq(apiTokens.id, row.id)).run();
      row = { ...row, status: 'expired' };
    }
    if (row.status === 'paused') refuse(c, 'forbidden', `API token ${row.name} is paused; ask an admin to activate it`, model, row);
    if (row.status === 'expired') refuse(c, 'forbidden', `API token ${row.name} expired at ${new Date(row.expires_at ?? now).toISOString()}; ask an admin to extend it`, model, row);
    const view = tokenView(row, now);
    const client = await clientAllowed(c, view.ip_allowlist, clientIp);
    if (!client.ok) refuse(c, 'forbidden', `client address ${client.addr ?? '(unknown)'} is not in API token ${row.name}'s IP allow-list (${view.ip_allowlist.join(', ')})`, model, row);
    if (model !== null && view.allowed_models !== null && !view.allowed_models.includes(model)) {
      refuse(c, 'forbidden', `API token ${row.name} may not call model ${model}; it may call models ${view.allowed_models.join(', ') || '(none)'}`, model, row);
    }
    const admission = opts.count === false ? ({ kind: 'admitted' } as const) : admit(store, row.id, now);
    if (admission.kind === 'over_quota') {
      refuse(c, 'too_many_requests', `API token ${row.name} has used its monthly quota of ${row.monthly_quota} requests; it resets on the 1st of next month (UTC), or an admin can reset it by activating the token`, model, row);
    }
    if (admission.kind === 'over_rate') {
      c.header('Retry-After', String(admission.retryAfterSeconds));
      refuse(c, 'too_many_requests', `API token ${row.name} is limited to ${row.rate_limit_per_minute} requests per minute; retry in ${admission.retryAfterSeconds} s`, model, row);
    }
    c.set('token', { id: row.id, name: row.name });
    await next();
  };
}
