/** API tokens: the admin API and pages, the token state machine, and the tokenAuth guard's refusals and counters. */
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp, createServices, openDatabase, type Services } from '../../signer/index.js';
import { apiTokens, inferenceLogs } from '../../signer/db/index.js';
import { tokenAuth } from '../../signer/tokens/index.js';
import { adminSession, ORIGIN, type AdminSessionHeaders } from './console-helpers.js';
import { body, ESCROW, makeSigner, type TestSigner } from './helpers.js';

let t: TestSigner;
let admin: AdminSessionHeaders;
afterEach(() => {
  vi.useRealTimers();
  t?.close();
});

/** A signer with a test route `POST /test/{model}` behind tokenAuth; the client address comes from x-test-ip. */
function withTestRoute(app: ReturnType<typeof createApp>) {
  app.post(
    '/test/:model',
    tokenAuth((c) => c.req.param('model') ?? null, { clientIp: (c) => c.req.header('x-test-ip') }),
    (c) => c.json({ token: c.var.token }),
  );
  // The default resolver: the TCP peer, over real HTTP.
  app.post(
    '/socket/:model',
    tokenAuth((c) => c.req.param('model') ?? null),
    (c) => c.json({ token: c.var.token }),
  );
  return app;
}

async function setup() {
  t = makeSigner();
  withTestRoute(t.app);
  admin = await adminSession(t);
}

const api = (method: string, path: string, payload?: unknown) =>
  t.app.request(path, {
    method,
    headers: { ...admin.headers, 'content-type': 'application/json' },
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });

async function newToken(settings: Record<string, unknown> = {}): Promise<{ id: number; token: string }> {
  const res = await api('POST', '/api/v1/admin/tokens', { name: 'client-a', ...settings });
  expect(res.status).toBe(201);
  const { data } = await body(res);
  return { id: data.id, token: data.token };
}

const call = (app: ReturnType<typeof createApp>, token: string | null, model = 'model-a', ip = '203.0.113.7') =>
  app.request(`/test/${model}`, {
    method: 'POST',
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'x-test-ip': ip },
  });

const flashError = (res: Response) => new URL(res.headers.get('location')!, ORIGIN).searchParams.get('error');

async function refusal(res: Response, status: number, reason: RegExp) {
  expect(res.status).toBe(status);
  expect((await body(res)).error).toMatch(reason);
}

describe('API token admin', () => {
  it('creates a token shown once, stores only its hash, lists and edits it; needs an admin session', async () => {
    await setup();
    expect((await t.app.request('/api/v1/admin/tokens')).status).toBe(401);
    const { id, token } = await newToken({
      allowed_models: ['model-a'],
      ip_allowlist: ['10.0.0.0/8'],
      monthly_quota: 100,
    });
    expect(token).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    const [row] = t.s.store.db.select().from(apiTokens).all();
    expect(JSON.stringify(row)).not.toContain(token);
    const listed = (await body(await api('GET', '/api/v1/admin/tokens'))).data;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      id,
      name: 'client-a',
      prefix: token.slice(0, 10),
      status: 'active',
      allowed_models: ['model-a'],
      ip_allowlist: ['10.0.0.0/8'],
      monthly_quota: 100,
    });
    expect(JSON.stringify(listed)).not.toContain(token);
    const edited = await api('PATCH', `/api/v1/admin/tokens/${id}`, {
      name: 'renamed',
      allowed_models: null,
      rate_limit_per_minute: 5,
    });
    expect((await body(edited)).data).toMatchObject({
      name: 'renamed',
      allowed_models: null,
      rate_limit_per_minute: 5,
    });
    await refusal(
      await api('PATCH', `/api/v1/admin/tokens/${id}`, { ip_allowlist: ['10.0.0.0/33'] }),
      400,
      /ip_allowlist\.0: must be an IP address .* or CIDR range/,
    );
    await refusal(
      await api('POST', '/api/v1/admin/tokens', { name: 'old', expires_at: Date.now() - 1000 }),
      400,
      /in the past/,
    );
    await refusal(await api('GET', '/api/v1/admin/tokens/999'), 404, /no API token with id 999/);
    expect((await api('DELETE', `/api/v1/admin/tokens/${id}`)).status).toBe(200);
    expect((await body(await api('GET', '/api/v1/admin/tokens'))).data).toEqual([]);
  });

  it('follows the token state machine; illegal moves are 409 with the reason', async () => {
    await setup();
    const { id } = await newToken();
    await refusal(
      await api('POST', `/api/v1/admin/tokens/${id}/activate`),
      409,
      /cannot activate a token that is active: it can be paused or deleted/,
    );
    expect((await body(await api('POST', `/api/v1/admin/tokens/${id}/pause`))).data.status).toBe('paused');
    await refusal(await api('POST', `/api/v1/admin/tokens/${id}/pause`), 409, /cannot pause a token that is paused/);
    expect((await body(await api('POST', `/api/v1/admin/tokens/${id}/activate`))).data.status).toBe('active');
  });

  it('creates, pauses and activates tokens from the console pages', async () => {
    await setup();
    const form = (path: string, fields: Record<string, string>) =>
      t.app.request(path, {
        method: 'POST',
        headers: { cookie: admin.cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: admin.csrf, ...fields }).toString(),
      });
    const created = await form('/console/tokens', {
      name: 'web',
      allowed_models: 'model-a, model-b',
      ip_allowlist: '127.0.0.1',
      rate_limit_per_minute: '10',
      monthly_quota: '0',
      expires_at: '',
    });
    expect(created.status).toBe(201);
    const html = await created.text();
    const token = /<code id="new-token-value">(sk_[A-Za-z0-9_-]+)<\/code>/.exec(html)?.[1];
    expect(token).toBeDefined();
    expect(html).toContain('<meta name="csrf-token"');
    const [row] = t.s.store.db.select().from(apiTokens).all();
    expect(row).toMatchObject({
      name: 'web',
      allowed_models: '["model-a","model-b"]',
      ip_allowlist: '["127.0.0.1"]',
      rate_limit_per_minute: 10,
      expires_at: null,
    });
    const list = await (await t.app.request('/console/tokens', { headers: { cookie: admin.cookie } })).text();
    expect(list).toContain('model-a, model-b');
    expect(list).not.toContain(token!);
    const paused = await form(`/console/tokens/${row.id}/pause`, {});
    expect(paused.status).toBe(303);
    expect(paused.headers.get('location')).toBe('/console/tokens?notice=paused+web');
    const again = await form(`/console/tokens/${row.id}/pause`, {});
    expect(flashError(again)).toMatch(/^cannot pause a token that is paused/);
    const activated = await form(`/console/tokens/${row.id}/activate`, {});
    expect(activated.headers.get('location')).toBe(`/console/tokens/${row.id}?notice=activated+web`);
    expect(t.s.store.db.select().from(apiTokens).get()!.status).toBe('active');
    const bad = await form('/console/tokens', { name: 'x', ip_allowlist: 'not-an-ip' });
    expect(flashError(bad)).toMatch(/ip_allowlist\.0: must be an IP address/);
  });
});

describe('tokenAuth', () => {
  it('refuses a missing or unknown token with 401 and admits a valid one', async () => {
    await setup();
    const { token } = await newToken();
    await refusal(await call(t.app, null), 401, /missing or unknown API token.*Authorization: Bearer/);
    await refusal(await call(t.app, `sk_${'A'.repeat(43)}`), 401, /missing or unknown API token/);
    const res = await call(t.app, token);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ token: { id: 1, name: 'client-a' } });
  });

  it('refuses a paused token with 403', async () => {
    await setup();
    const { id, token } = await newToken();
    await api('POST', `/api/v1/admin/tokens/${id}/pause`);
    await refusal(await call(t.app, token), 403, /API token client-a is paused; ask an admin to activate it/);
    await api('POST', `/api/v1/admin/tokens/${id}/activate`);
    expect((await call(t.app, token)).status).toBe(200);
  });

  it('refuses an expired token with 403, marks it expired, and reactivates it only with a future expiry', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    await setup();
    const { id, token } = await newToken({ expires_at: Date.now() + 60_000 });
    expect((await call(t.app, token)).status).toBe(200);
    vi.setSystemTime(Date.now() + 61_000);
    await refusal(await call(t.app, token), 403, /API token client-a expired at .*; ask an admin to extend it/);
    expect(t.s.store.db.select().from(apiTokens).get()!.status).toBe('expired');
    await refusal(await api('POST', `/api/v1/admin/tokens/${id}/pause`), 409, /cannot pause a token that is expired/);
    await refusal(
      await api('POST', `/api/v1/admin/tokens/${id}/activate`),
      409,
      /activate it with a new expires_at in the future/,
    );
    const renewed = await api('POST', `/api/v1/admin/tokens/${id}/activate`, {
      expires_at: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect((await body(renewed)).data.status).toBe('active');
    expect((await call(t.app, token)).status).toBe(200);
  });

  it('refuses a client address outside the IP allow-list with 403 (IPs and CIDR ranges)', async () => {
    await setup();
    const { token } = await newToken({ ip_allowlist: ['10.1.0.0/16', '2001:db8::1'] });
    await refusal(
      await call(t.app, token, 'model-a', '203.0.113.7'),
      403,
      /client address 203\.0\.113\.7 is not in API token client-a's IP allow-list \(10\.1\.0\.0\/16, 2001:db8::1\)/,
    );
    expect((await call(t.app, token, 'model-a', '10.1.200.3')).status).toBe(200);
    expect((await call(t.app, token, 'model-a', '2001:db8::1')).status).toBe(200);
  });

  it('takes the client address from the TCP connection over real HTTP, ignoring X-Forwarded-For', async () => {
    await setup();
    const local = await newToken({ ip_allowlist: ['127.0.0.0/8', '::1'] });
    const remote = await newToken({ ip_allowlist: ['10.0.0.0/8'] });
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const srv = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(srv));
    });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/socket/model-a`;
      const send = (token: string) =>
        fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '10.0.0.1' } });
      expect((await send(local.token)).status).toBe(200);
      await refusal(
        await send(remote.token),
        403,
        /client address 127\.0\.0\.1 is not in API token client-a's IP allow-list/,
      );
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('refuses a model the token may not call with 403 naming the models it may call', async () => {
    await setup();
    const { token } = await newToken({ allowed_models: ['model-a', 'model-b'] });
    await refusal(
      await call(t.app, token, 'model-c'),
      403,
      /API token client-a may not call model model-c; it may call models model-a, model-b/,
    );
    expect((await call(t.app, token, 'model-b')).status).toBe(200);
  });

  it('refuses calls over the per-minute rate with 429 and Retry-After until the window ends', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    await setup();
    const { token } = await newToken({ rate_limit_per_minute: 2 });
    expect((await call(t.app, token)).status).toBe(200);
    vi.setSystemTime(Date.now() + 20_000);
    expect((await call(t.app, token)).status).toBe(200);
    const limited = await call(t.app, token);
    await refusal(limited, 429, /limited to 2 requests per minute; retry in 40 s/);
    expect(limited.headers.get('retry-after')).toBe('40');
    vi.setSystemTime(Date.now() + 40_000);
    expect((await call(t.app, token)).status).toBe(200);
  });

  it('moves a token over its monthly quota to over_limit (429) until an admin resets it or the month ends', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2026, 0, 30, 12));
    await setup();
    const { id, token } = await newToken({ monthly_quota: 2 });
    expect((await call(t.app, token)).status).toBe(200);
    expect((await call(t.app, token)).status).toBe(200);
    expect((await body(await api('GET', `/api/v1/admin/tokens/${id}`))).data).toMatchObject({
      status: 'over_limit',
      usage: { month: '2026-01', month_count: 2, total_count: 2 },
    });
    await refusal(
      await call(t.app, token),
      429,
      /used its monthly quota of 2 requests; it resets on the 1st of next month \(UTC\), or an admin can reset it/,
    );
    await refusal(
      await api('POST', `/api/v1/admin/tokens/${id}/pause`),
      409,
      /cannot pause a token that is over_limit/,
    );
    expect((await body(await api('POST', `/api/v1/admin/tokens/${id}/activate`))).data).toMatchObject({
      status: 'active',
      usage: { month_count: 0 },
    });
    expect((await call(t.app, token)).status).toBe(200);
    expect((await call(t.app, token)).status).toBe(200);
    expect((await call(t.app, token)).status).toBe(429);
    vi.setSystemTime(Date.UTC(2026, 1, 1, 0, 0, 1));
    expect((await call(t.app, token)).status).toBe(200);
    admin = await adminSession(t.app); // the admin's session has expired meanwhile
    expect((await body(await api('GET', `/api/v1/admin/tokens/${id}`))).data).toMatchObject({
      status: 'active',
      usage: { month: '2026-02', month_count: 1, total_count: 5 },
    });
  });

  it('writes each refusal, and only refusals, to inference_logs as rejected', async () => {
    await setup();
    const { id, token } = await newToken({ allowed_models: ['model-a'] });
    await call(t.app, token);
    await call(t.app, token, 'model-z');
    await call(t.app, 'sk_unknown', 'model-a');
    const rows = t.s.store.db.select().from(inferenceLogs).all();
    expect(
      rows.map((r) => ({ token_id: r.token_id, model: r.model, status: r.status, http_status: r.http_status })),
    ).toEqual([
      { token_id: id, model: 'model-z', status: 'rejected', http_status: 403 },
      { token_id: null, model: 'model-a', status: 'rejected', http_status: 401 },
    ]);
    expect(rows[0].error).toMatch(/may not call model model-z/);
  });

  it('keeps the counters across a restart: the month count continues and a spent quota stays spent', async () => {
    await setup();
    const { token } = await newToken({ monthly_quota: 3 });
    expect((await call(t.app, token)).status).toBe(200);
    expect((await call(t.app, token)).status).toBe(200);
    const path = t.s.config.database.path;
    void t.s.verifier.close();
    t.s.store.close();

    const reopened = (): Services =>
      createServices({ config: t.s.config, store: openDatabase(path), log: pino({ level: 'silent' }), escrow: ESCROW });
    let s = reopened();
    let app = withTestRoute(createApp(s));
    expect(s.store.db.select().from(apiTokens).get()).toMatchObject({
      month_count: 2,
      total_count: 2,
      status: 'active',
    });
    expect((await call(app, token)).status).toBe(200);
    expect((await call(app, token)).status).toBe(429);
    void s.verifier.close();
    s.store.close();

    s = reopened();
    app = withTestRoute(createApp(s));
    await refusal(await call(app, token), 429, /monthly quota of 3/);
    expect(s.store.db.select().from(apiTokens).get()).toMatchObject({
      month_count: 3,
      total_count: 3,
      status: 'over_limit',
    });
    void s.verifier.close();
    s.store.close();
    rmSync(t.dir, { recursive: true, force: true });
    t = { ...t, close: () => {} };
  });
});
