/**
 * Per-route body limits (signer/http/limits.ts): every route that takes a body declares its limit,
 * refuses one byte over it with 413 payload_too_large and a message saying what to do, and takes a
 * body of exactly its limit. Each limit here has its own size, so a route with the wrong one fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBodyLimit } from '../../signer/http/limits.js';
import { requestsBodyBytes } from '../../signer/http/routes/requests.js';
import { adminSession, ORIGIN } from './console-helpers.js';
import { makeSigner, type TestSigner } from './helpers.js';

const DEFAULT = 1_500;
const UPLOAD = 2_048;
const FORM_OVERHEAD = 64 * 1024;
const INFERENCE = 4_096;
const ACCOUNTS = { max_requests_per_call: 2, max_inline_input_bytes: 1_000 };

let t: TestSigner;
let cookie: string;
beforeAll(async () => {
  t = makeSigner({
    server: { body_limit_bytes: DEFAULT },
    models: { max_upload_bytes: UPLOAD },
    inference: { max_body_bytes: INFERENCE },
    accounts: ACCOUNTS,
  });
  cookie = (await adminSession(t)).cookie;
});
afterAll(() => t.close());

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Every (method, path) the app serves with a body method, and whether its chain has a body limit. */
function bodyRoutes(): Map<string, boolean> {
  const routes = new Map<string, boolean>();
  for (const r of t.app.routes) {
    if (!BODY_METHODS.has(r.method)) continue;
    const key = `${r.method} ${r.path}`;
    routes.set(key, (routes.get(key) ?? false) || isBodyLimit(r.handler));
  }
  return routes;
}

/** The limit a route should have: its own for model files, inference and prepaid requests, else the default. */
function expectedLimit(method: string, path: string): number {
  if (method === 'PUT' && path.endsWith('/artifact')) return UPLOAD;
  if (path === '/api/v1/admin/models' || path === '/console/models') return UPLOAD + FORM_OVERHEAD;
  if (/\/(batch-)?infer$/.test(path)) return INFERENCE;
  if (path === '/api/v1/requests') return requestsBodyBytes(ACCOUNTS);
  return DEFAULT;
}

/** A concrete URL for a route pattern. */
const urlOf = (path: string) =>
  path
    .replace(/:(sha256|artifact_hash)/, 'a'.repeat(64))
    .replace(/:id\{[^}]*\}/, '1')
    .replace(/:[A-Za-z0-9_]+/g, '1');

/** A request with `size` bytes of body, streamed (no content-length) unless `withLength`. */
function send(method: string, path: string, size: number, withLength = false) {
  const headers: Record<string, string> = { cookie, origin: ORIGIN, 'content-type': 'application/json' };
  if (withLength) headers['content-length'] = String(size);
  return t.app.request(urlOf(path), { method, headers, body: 'x'.repeat(size) });
}

describe('per-route body limits', () => {
  it('every route that takes a body declares its limit', () => {
    const routes = bodyRoutes();
    expect(routes.size).toBeGreaterThan(35);
    expect([...routes].filter(([, limited]) => !limited).map(([route]) => route)).toEqual([]);
  });

  it('each route refuses one byte over its limit with 413 and takes a body at its limit', async () => {
    const wrong: string[] = [];
    for (const route of bodyRoutes().keys()) {
      const [method, path] = route.split(' ');
      const max = expectedLimit(method, path);
      const over = await send(method, path, max + 1);
      const body = (await over.json()) as { code?: string; error: string };
      // The Open Inference Protocol routes answer in its own shape, {error}.
      const refused =
        over.status === 413 &&
        (path.startsWith('/v2/') ? /inference\.max_body_bytes/.test(body.error) : body.code === 'payload_too_large');
      if (!refused) wrong.push(`${route}: ${max + 1} bytes gave ${over.status} ${JSON.stringify(body)}`);
      const at = await send(method, path, max);
      if (at.status === 413) wrong.push(`${route}: ${max} bytes (the limit) gave 413`);
    }
    expect(wrong).toEqual([]);
  });

  it('says what to do instead, with the size and the setting', async () => {
    const res = await send('POST', '/api/v1/nodes/heartbeat', DEFAULT + 1, true);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({
      success: false,
      data: null,
      code: 'payload_too_large',
      error: `body is larger than ${DEFAULT} bytes (server.body_limit_bytes); upload large inputs with PUT /api/v1/inputs/{sha256} in one piece no larger than that`,
    });
    const infer = await send('POST', '/api/v1/models/m/infer', INFERENCE + 1, true);
    expect(await infer.json()).toMatchObject({
      code: 'payload_too_large',
      error: expect.stringContaining('send fewer or smaller inputs'),
    });
  });

  it("applies a console route's limit before the guard reads a posted form", async () => {
    // A logged-in form post without the x-csrf-token header: the guard would read the whole form for its _csrf field.
    const form = new FormData();
    form.set('_csrf', 'whatever');
    form.set('file', new File([new Uint8Array(UPLOAD + FORM_OVERHEAD + 1)], 'big.onnx'));
    const res = await t.app.request('/console/models', {
      method: 'POST',
      headers: { cookie, origin: ORIGIN },
      body: form,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({
      code: 'payload_too_large',
      error: expect.stringContaining(`larger than ${UPLOAD} bytes (models.max_upload_bytes)`),
    });
  });
});
