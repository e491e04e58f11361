/**
 * `tokenAuth`: the API-token guard of direct inference. It refuses, in this order: a missing or
 * unknown token (401), a paused (403) or expired (403) token, a client address outside the
 * token's IP allow-list (403), a model the token may not call (403), a spent monthly quota (429),
 * and a spent per-minute rate (429 with Retry-After). An admitted request is counted and
 * `c.var.token` set; each refusal is written to inference_logs as `rejected`. A batch route
 * guards with `count: false` and spends one request per item with `spendRequests`.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { HTTPException } from 'hono/http-exception';
import { ipRestriction } from 'hono/ip-restriction';
import { eq } from 'drizzle-orm';
import { socketClientIp, type ClientIpResolver } from '../console/index.js';
import { apiTokens, inferenceLogs } from '../db/index.js';
import { ApiError, type ErrorCode } from '../errors.js';
import type { Env } from '../http/index.js';
import { admit, type Admission } from './admission.js';
import { tokenHash, tokenView, type TokenRow } from './service.js';
import { canExpire, type TokenStatus } from './state.js';

/** Options of `tokenAuth`. */
export interface TokenAuthOptions {
  /** Where the client address comes from; the TCP peer by default. Tests under `app.request` pass their own. */
  clientIp?: ClientIpResolver;
  /** Count the request against the rate and the monthly quota (default). Polling for a result already paid for passes false. */
  count?: boolean;
}

function refuse(
  c: Context<Env>,
  code: ErrorCode,
  message: string,
  model: string | null,
  token: TokenRow | null,
): never {
  const err = new ApiError(code, message);
  c.var.services.store.db
    .insert(inferenceLogs)
    .values({
      request_id: c.var.requestId ?? '',
      token_id: token?.id ?? null,
      model: model ?? '',
      status: 'rejected',
      http_status: err.status,
      error: message,
      created_at: Date.now(),
    })
    .run();
  throw err;
}

// hono's bearer-auth parses the header; verifyToken finds the row by the token's sha256 (a
// lookup by a hash of 256 random bits leaks nothing useful through timing).
async function bearerToken(c: Context<Env>): Promise<TokenRow | null> {
  let row: TokenRow | null = null;
  const verify = bearerAuth<Env>({
    verifyToken: (token) => {
      row =
        c.var.services.store.db
          .select()
          .from(apiTokens)
          .where(eq(apiTokens.token_hash, tokenHash(token)))
          .get() ?? null;
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

async function clientAllowed(
  c: Context<Env>,
  allowList: string[],
  clientIp: ClientIpResolver,
): Promise<{ ok: boolean; addr: string | undefined }> {
  const addr = clientIp(c);
  if (allowList.length === 0) return { ok: true, addr };
  if (!addr) return { ok: false, addr };
  let ok = false;
  // The refusal response is ours (refuse below), so ip-restriction's own is only a marker.
  await ipRestriction(
    () => addr,
    { allowList },
    () => new Response(null, { status: 403 }),
  )(c, async () => {
    ok = true;
  });
  return { ok, addr };
}

/** Why an admission refused `items` requests (and a Retry-After header when waiting helps), or null when it admitted them. */
function admissionRefusal(c: Context<Env>, a: Admission, items: number): { code: ErrorCode; message: string } | null {
  const row = a.row;
  if (a.kind === 'over_quota') {
    if (a.remaining === 0) {
      return {
        code: 'too_many_requests',
        message: `API token ${row.name} has used its monthly quota of ${row.monthly_quota} requests; it resets on the 1st of next month (UTC), or an admin can reset it by activating the token`,
      };
    }
    return {
      code: 'too_many_requests',
      message: `API token ${row.name}: ${a.remaining} of its monthly quota of ${row.monthly_quota} requests remain, and each request of a batch counts: this batch of ${items} was refused whole and nothing was spent; send at most ${a.remaining}`,
    };
  }
  if (a.kind === 'over_rate') {
    const rate = row.rate_limit_per_minute;
    // A batch larger than the rate itself never fits a minute: no Retry-After for a client to loop on.
    if (items > rate)
      return {
        code: 'too_many_requests',
        message: `API token ${row.name} is limited to ${rate} requests per minute and each request of a batch counts: send at most ${rate} requests per batch (this one has ${items}; nothing was spent)`,
      };
    c.header('Retry-After', String(a.retryAfterSeconds));
    if (items === 1)
      return {
        code: 'too_many_requests',
        message: `API token ${row.name} is limited to ${rate} requests per minute; retry in ${a.retryAfterSeconds} s`,
      };
    return {
      code: 'too_many_requests',
      message: `API token ${row.name}: ${a.remaining} of its ${rate} requests per minute remain, and this batch of ${items} was refused whole (nothing was spent); retry in ${a.retryAfterSeconds} s or send at most ${a.remaining}`,
    };
  }
  return null;
}

/**
 * Spends `items` requests of the rate and monthly quota of the token `tokenAuth({count: false})`
 * admitted, all or none: a batch route calls it once it knows how many requests the batch
 * carries. A refusal is a 429 ApiError (the route's meterRefusals logs it).
 */
export function spendRequests(c: Context<Env>, items: number): void {
  const refusal = admissionRefusal(c, admit(c.var.services.store, c.var.token.id, Date.now(), items), items);
  if (refusal) throw new ApiError(refusal.code, refusal.message);
}

/** Requires an API token allowed to call the model `modelOf` names (null: the route has no model). */
export function tokenAuth(
  modelOf: (c: Context<Env>) => string | null,
  opts: TokenAuthOptions = {},
): MiddlewareHandler<Env> {
  const clientIp = opts.clientIp ?? socketClientIp;
  return async (c, next) => {
    const store = c.var.services.store;
    const model = modelOf(c);
    let row = await bearerToken(c);
    if (!row) {
      c.header('WWW-Authenticate', 'Bearer');
      refuse(
        c,
        'unauthorized',
        'missing or unknown API token: send "Authorization: Bearer sk_..." with a token an admin created at /console/tokens',
        model,
        null,
      );
    }
    const now = Date.now();
    if (canExpire(row.status as TokenStatus) && row.expires_at !== null && row.expires_at <= now) {
      store.db.update(apiTokens).set({ status: 'expired', updated_at: now }).where(eq(apiTokens.id, row.id)).run();
      row = { ...row, status: 'expired' };
    }
    if (row.status === 'paused')
      refuse(c, 'forbidden', `API token ${row.name} is paused; ask an admin to activate it`, model, row);
    if (row.status === 'expired')
      refuse(
        c,
        'forbidden',
        `API token ${row.name} expired at ${new Date(row.expires_at ?? now).toISOString()}; ask an admin to extend it`,
        model,
        row,
      );
    const view = tokenView(row, now);
    const client = await clientAllowed(c, view.ip_allowlist, clientIp);
    if (!client.ok)
      refuse(
        c,
        'forbidden',
        `client address ${client.addr ?? '(unknown)'} is not in API token ${row.name}'s IP allow-list (${view.ip_allowlist.join(', ')})`,
        model,
        row,
      );
    if (model !== null && view.allowed_models !== null && !view.allowed_models.includes(model)) {
      refuse(
        c,
        'forbidden',
        `API token ${row.name} may not call model ${model}; it may call models ${view.allowed_models.join(', ') || '(none)'}`,
        model,
        row,
      );
    }
    if (opts.count !== false) {
      const refusal = admissionRefusal(c, admit(store, row.id, now), 1);
      if (refusal) refuse(c, refusal.code, refusal.message, model, row);
    }
    c.set('token', { id: row.id, name: row.name });
    await next();
  };
}
