/** The console's admin account, login, session cookie, rate limit, CSRF protection and guard. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Layout } from '../../signer/console/index.js';
import { adminSessions, adminUsers } from '../../signer/db/index.js';
import { createApp, createServices } from '../../signer/index.js';
import { PG_DIALECT, body, makeSigner, type TestSigner } from './helpers.js';
import { ADMIN, ORIGIN, adminSession, sessionCookieOf, setupToken } from './console-helpers.js';

let t: TestSigner;
afterEach(() => {
  vi.useRealTimers();
  t?.close();
});

const json = (payload: unknown, extra: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', origin: ORIGIN, ...extra },
  body: JSON.stringify(payload),
});
const form = (fields: Record<string, string>, extra: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, ...extra },
  body: new URLSearchParams(fields).toString(),
});

/** Bindings that make the request come from `ip`, as @hono/node-server reports a TCP peer. */
const from = (ip: string) => ({
  incoming: { socket: { remoteAddress: ip, remotePort: 40000, remoteFamily: ip.includes(':') ? 'IPv6' : 'IPv4' } },
});

/** The hash in a PostgreSQL signer's console_setup row (where replicas share the setup token), or null without one. */
const sharedHash = (): string | null =>
  (
    t.s.store.sqlite.prepare('select token_sha256 from console_setup where id = 1').get() as
      | { token_sha256: string }
      | undefined
  )?.token_sha256 ?? null;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('console auth', () => {
  it('initializes the admin once, with a password of at least 10 characters', async () => {
    t = makeSigner();
    const setup_token = setupToken(t.s);
    expect((await t.app.request('/console/login')).headers.get('location')).toBe('/console/init');
    const short = await t.app.request(
      '/api/v1/admin/init',
      json({ username: 'admin', password: 'short', setup_token }),
    );
    expect(short.status).toBe(400);
    expect((await body(short)).error).toMatch(/at least 10 characters/);

    expect((await t.app.request('/api/v1/admin/init', json({ ...ADMIN, setup_token }))).status).toBe(201);
    const again = await t.app.request(
      '/api/v1/admin/init',
      json({ username: 'intruder', password: 'another long password', setup_token }),
    );
    expect(again.status).toBe(409);
    expect((await body(again)).error).toMatch(/already initialized; log in/);
    const page = await t.app.request('/console/init');
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/console/login');
    expect(
      t.s.store.db
        .select()
        .from(adminUsers)
        .all()
        .map((u) => u.username),
    ).toEqual(['admin']);
  });

  it('the init page creates the admin and logs in; the login page refuses a wrong password', async () => {
    t = makeSigner();
    const init = await t.app.request('/console/init', form({ ...ADMIN, token: setupToken(t.s)! }));
    expect(init.status).toBe(303);
    expect(sessionCookieOf(init)).toMatch(/^signer_session=.+/);
    const wrong = await t.app.request('/console/login', form({ username: 'admin', password: 'not the password' }));
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('wrong username or password');
    const right = await t.app.request('/console/login', form(ADMIN));
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe('/console');
  });

  it('refuses a wrong password or unknown user with 401', async () => {
    t = makeSigner();
    await adminSession(t);
    const wrong = await t.app.request('/api/v1/admin/login', json({ username: 'admin', password: 'wrong password!' }));
    expect(wrong.status).toBe(401);
    expect(sessionCookieOf(wrong)).toBe('');
    expect(
      (await t.app.request('/api/v1/admin/login', json({ username: 'nobody', password: ADMIN.password }))).status,
    ).toBe(401);
  });

  it('rate-limits logins after N failures with 429 and Retry-After, even with the right password', async () => {
    t = makeSigner({ console: { login_max_failures: 3, login_window_ms: 600_000 } });
    await adminSession(t);
    for (let i = 0; i < 3; i++)
      expect(
        (await t.app.request('/api/v1/admin/login', json({ username: 'admin', password: `wrong password ${i}` })))
          .status,
      ).toBe(401);
    const limited = await t.app.request('/api/v1/admin/login', json(ADMIN));
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(600);
    expect((await body(limited)).error).toMatch(
      /too many failed logins for admin from your address; try again in 10 minutes/,
    );
  });

  it('init needs the one-time setup token the signer wrote (0600) next to its database; it dies once the admin exists (issue 12, attack 7b)', async () => {
    t = makeSigner();
    const file = join(t.dir, 'console-setup-token');
    let token: string;
    if (PG_DIALECT) {
      // Replicas share no folder: the database keeps the token's sha256, no file is written.
      expect(existsSync(file)).toBe(false);
      expect(sharedHash()).toMatch(/^[0-9a-f]{64}$/);
      token = setupToken(t.s)!;
      expect(sharedHash()).toBe(sha256(token));
    } else {
      expect(statSync(file).mode & 0o777).toBe(0o600);
      token = readFileSync(file, 'utf8').trim();
    }
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Whoever reaches the signer first without the token cannot become the admin, by the API or the page.
    const none = await t.app.request('/api/v1/admin/init', json(ADMIN));
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({
      code: 'setup_token_required',
      error: expect.stringMatching(
        PG_DIALECT ? /setup token.*the log of the signer replica that made it/ : /setup token.*console-setup-token/,
      ),
    });
    const wrong = await t.app.request('/api/v1/admin/init', json({ ...ADMIN, setup_token: 'x'.repeat(43) }));
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({
      code: 'setup_token_invalid',
      error: expect.stringMatching(/does not match/),
    });
    const page = await t.app.request(
      '/console/init',
      form({ username: 'intruder', password: 'a long enough password' }),
    );
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('setup token');
    expect(t.s.store.db.select().from(adminUsers).all()).toEqual([]);
    // The page asks for the token, or carries the one in its URL.
    expect(await (await t.app.request('/console/init')).text()).toMatch(/<input[^>]*id="token"[^>]*name="token"/);
    expect(await (await t.app.request(`/console/init?token=${token}`)).text()).toContain(
      `type="hidden" name="token" value="${token}"`,
    );
    // A restart before the admin exists keeps the same token: the URL printed first still works.
    const again = createServices({ config: t.s.config, store: t.s.store, log: pino({ level: 'silent' }) });
    await again.verifier.close();
    if (PG_DIALECT) expect(sharedHash()).toBe(sha256(token));
    else expect(readFileSync(file, 'utf8').trim()).toBe(token);
    const created = await createApp(again).request('/api/v1/admin/init', json({ ...ADMIN, setup_token: token }));
    expect(created.status).toBe(201);
    // Used once: the file (the row) is gone and the token no longer initializes anything.
    expect(existsSync(file)).toBe(false);
    if (PG_DIALECT) expect(sharedHash()).toBeNull();
    expect(
      (
        await t.app.request(
          '/api/v1/admin/init',
          json({ username: 'intruder', password: 'another long password', setup_token: token }),
        )
      ).status,
    ).toBe(409);
    expect(
      t.s.store.db
        .select()
        .from(adminUsers)
        .all()
        .map((u) => u.username),
    ).toEqual(['admin']);
  });

  it('logs the setup URL at start, and makes no token once an admin exists', async () => {
    t = makeSigner();
    // On PostgreSQL the row makeSigner's start made is removed: the next start is the first replica again.
    if (PG_DIALECT) t.s.store.sqlite.prepare('delete from console_setup').run();
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const fresh = createServices({ config: t.s.config, store: t.s.store, log });
    await fresh.verifier.close();
    if (PG_DIALECT) {
      // The first replica prints the URL; the database keeps only its token's hash.
      const printed = /\/console\/init\?token=([A-Za-z0-9_-]{43})/.exec(lines.join(''))?.[1];
      expect(printed).toBeDefined();
      expect(sharedHash()).toBe(sha256(printed!));
      // Another replica starting keeps that token (the printed URL still works) and says another printed it.
      const others: string[] = [];
      const second = createServices({
        config: t.s.config,
        store: t.s.store,
        log: pino({ level: 'info' }, { write: (line: string) => void others.push(line) }),
      });
      await second.verifier.close();
      expect(sharedHash()).toBe(sha256(printed!));
      expect(others.join('')).toContain('another signer replica made its setup token');
      expect(others.join('')).not.toMatch(/console\/init\?token=[A-Za-z0-9_-]{43}/);
      expect(
        (await createApp(second).request('/api/v1/admin/init', json({ ...ADMIN, setup_token: printed }))).status,
      ).toBe(201);
    } else {
      const token = setupToken(t.s);
      expect(lines.join('')).toContain(`/console/init?token=${token}`);
    }
    await adminSession(t);
    const later = createServices({ config: t.s.config, store: t.s.store, log: pino({ level: 'silent' }) });
    await later.verifier.close();
    expect(later.consoleSetup.pending).toBe(false);
    if (PG_DIALECT) expect(sharedHash()).toBeNull();
    else {
      expect(later.consoleSetup.file).toBe(join(t.dir, 'console-setup-token'));
      expect(existsSync(later.consoleSetup.file!)).toBe(false);
    }
  });

  it('throttles per address and per (username, address): 20 bad logins from A do not lock out the right password from B (issue 12, attack 7a)', async () => {
    t = makeSigner();
    await adminSession(t);
    const login = (ip: string, password: string, username = 'admin') =>
      t.app.request('/api/v1/admin/login', json({ username, password }), from(ip));
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await login('203.0.113.1', `wrong password ${i}`)).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(new Set(statuses.slice(5))).toEqual(new Set([429]));
    // The right password from another address logs in, by the API and by the page.
    const fromB = await login('198.51.100.2', ADMIN.password);
    expect(fromB.status).toBe(200);
    expect(sessionCookieOf(fromB)).toMatch(/^signer_session=.+/);
    const page = await t.app.request('/console/login', form(ADMIN), from('198.51.100.3'));
    expect(page.status).toBe(303);
    // Address A stays throttled, even with the right password, and says when to retry.
    const fromA = await login('203.0.113.1', ADMIN.password);
    expect(fromA.status).toBe(429);
    expect(Number(fromA.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await body(fromA)).error).toMatch(
      /^too many failed logins for admin from your address; try again in 15 minutes/,
    );
  });

  it('an address spraying usernames is throttled after login_max_failures_per_address; IPv6 counts per /64', async () => {
    t = makeSigner({ console: { login_max_failures: 3, login_max_failures_per_address: 6 } });
    await adminSession(t);
    const login = (ip: string, username: string, password = 'wrong password') =>
      t.app.request('/api/v1/admin/login', json({ username, password }), from(ip));
    // Two guesses each for three usernames: six failures, under the pair limit of 3 each.
    for (const user of ['alice', 'bob', 'carol'])
      for (let i = 0; i < 2; i++) expect((await login('203.0.113.9', user)).status).toBe(401);
    expect((await login('203.0.113.9', 'dave')).status).toBe(429);
    // A neighbour address is not affected.
    expect((await login('203.0.113.10', 'admin', ADMIN.password)).status).toBe(200);
    // Rotating addresses inside one IPv6 /64 does not reset the count.
    for (let i = 0; i < 3; i++) expect((await login(`2001:db8:1:2::${i + 1}`, 'admin')).status).toBe(401);
    expect((await login('2001:db8:1:2:ffff::7', 'admin', ADMIN.password)).status).toBe(429);
    expect((await login('2001:db8:1:3::1', 'admin', ADMIN.password)).status).toBe(200);
  });

  it('sets an HttpOnly, SameSite=Strict session cookie, Secure over https', async () => {
    t = makeSigner();
    await t.app.request('/api/v1/admin/init', json({ ...ADMIN, setup_token: setupToken(t.s) }));
    const plain = (await t.app.request('/api/v1/admin/login', json(ADMIN))).headers.getSetCookie()[0];
    expect(plain).toMatch(/^signer_session=[A-Za-z0-9_-]{43};/);
    expect(plain).toMatch(/HttpOnly/);
    expect(plain).toMatch(/SameSite=Strict/);
    expect(plain).toMatch(/Path=\//);
    expect(plain).not.toMatch(/Secure/);
    const tls = await t.app.request(
      'https://localhost/api/v1/admin/login',
      json(ADMIN, { origin: 'https://localhost' }),
    );
    expect(tls.headers.getSetCookie()[0]).toMatch(/Secure/);
  });

  it('stores neither the password nor the session id in plain text', async () => {
    t = makeSigner();
    const { cookie } = await adminSession(t);
    const [user] = t.s.store.db.select().from(adminUsers).all();
    expect(user.password_hash).toMatch(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(user.password_hash).not.toContain(ADMIN.password);
    const sessionId = cookie.split('=')[1];
    const [session] = t.s.store.db.select().from(adminSessions).all();
    expect(session.id_hash).not.toContain(sessionId);
  });

  it('refuses state-changing requests without the right CSRF token or from another origin', async () => {
    t = makeSigner();
    const { cookie, csrf } = await adminSession(t);
    const missing = await t.app.request('/api/v1/admin/logout', {
      method: 'POST',
      headers: { cookie, origin: ORIGIN },
    });
    expect(missing.status).toBe(403);
    expect((await body(missing)).error).toBe('missing or wrong CSRF token; reload the page');
    const wrong = await t.app.request('/console/logout', form({ _csrf: 'x'.repeat(43) }, { cookie }));
    expect(wrong.status).toBe(403);
    const foreign = await t.app.request(
      '/console/logout',
      form({ _csrf: csrf }, { cookie, origin: 'http://evil.example' }),
    );
    expect(foreign.status).toBe(403);
    expect((await body(foreign)).error).toMatch(/another site/);
    // Still logged in after all three.
    expect((await t.app.request('/api/v1/admin/me', { headers: { cookie } })).status).toBe(200);
    const right = await t.app.request('/console/logout', form({ _csrf: csrf }, { cookie }));
    expect(right.status).toBe(303);
  });

  it('without a session: 401 JSON on the admin API, a redirect on pages', async () => {
    t = makeSigner();
    const page = await t.app.request('/console/tokens');
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/console/init');
    await adminSession(t);
    const api = await t.app.request('/api/v1/admin/me');
    expect(api.status).toBe(401);
    expect((await body(api)).error).toMatch(/not logged in.*POST \/api\/v1\/admin\/login/);
    expect((await t.app.request('/console')).headers.get('location')).toBe('/console/login');
    expect((await t.app.request('/api/v1/admin/me', { headers: { cookie: 'signer_session=forged' } })).status).toBe(
      401,
    );
  });

  it('logout ends the session', async () => {
    t = makeSigner();
    const { cookie, headers } = await adminSession(t);
    const me = await t.app.request('/api/v1/admin/me', { headers: { cookie } });
    expect((await body(me)).data.username).toBe('admin');
    const out = await t.app.request('/api/v1/admin/logout', { method: 'POST', headers });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie()[0]).toMatch(/signer_session=;.*Max-Age=0/);
    expect((await t.app.request('/api/v1/admin/me', { headers: { cookie } })).status).toBe(401);
  });

  it('refuses an expired session', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    t = makeSigner({ console: { session_ttl_ms: 3_600_000 } });
    const { cookie } = await adminSession(t);
    vi.setSystemTime(Date.now() + 3_599_000);
    expect((await t.app.request('/api/v1/admin/me', { headers: { cookie } })).status).toBe(200);
    vi.setSystemTime(Date.now() + 2_000);
    expect((await t.app.request('/api/v1/admin/me', { headers: { cookie } })).status).toBe(401);
    expect(t.s.store.db.select().from(adminSessions).all()).toEqual([]);
  });

  it('renders pages in the layout: navigation, logout form and CSRF meta tag only for a logged-in admin', async () => {
    t = makeSigner();
    await adminSession(t);
    const html = await (await t.app.request('/console/login')).text();
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('href="/console/assets/console.css"');
    expect(html).not.toContain('csrf-token');
    expect(html).not.toContain('/console/logout');
    const css = await t.app.request('/console/assets/console.css');
    expect(css.headers.get('content-type')).toMatch(/text\/css/);
    const page = String(
      await Layout({
        title: 'Tokens',
        admin: { id: 1, username: 'admin', csrfToken: 'tok-123' },
        children: 'content',
      }).toString(),
    );
    expect(page).toContain('<meta name="csrf-token" content="tok-123"/>');
    for (const href of ['/console', '/console/models', '/console/tokens', '/docs'])
      expect(page).toContain(`href="${href}"`);
    expect(page).toMatch(
      /<form method="post" action="\/console\/logout"[^>]*><input type="hidden" name="_csrf" value="tok-123"\/>/,
    );
  });
});
