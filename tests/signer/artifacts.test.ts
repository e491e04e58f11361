/**
 * Model files: stored under the sha256 of their bytes, served back to nodes, bounded in size, and
 * only from someone who answers for them (issue 12, attack 6): an admin here (signer without a
 * chain); the model's on-chain owner in tests/signer/access-devnet.test.ts.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../../protocol/index.js';
import { adminSession } from './console-helpers.js';
import { TestRequester, body, makeSigner, type TestSigner } from './helpers.js';

let t: TestSigner;
afterEach(() => t?.close());

const put = (path: string, bytes: Uint8Array, headers: Record<string, string> = {}) =>
  t.app.request(path, { method: 'PUT', body: bytes as BodyInit, headers });
const modelsDir = () => join(mkdtempSync(join(tmpdir(), 'artifacts-')), 'models');

describe('PUT /api/v1/models/{sha256}/artifact', () => {
  it('refuses an anonymous upload with upload_signature_required and stores nothing', async () => {
    const dir = modelsDir();
    t = makeSigner({ models: { dir } });
    const bytes = randomBytes(10_000);
    const res = await put(`/api/v1/models/${sha256Hex(bytes)}/artifact`, bytes);
    expect(res.status).toBe(401);
    const b = await body(res);
    expect(b.code).toBe('upload_signature_required');
    expect(b.error).toMatch(/on-chain owner .* admin/);
    expect((await t.app.request(`/api/v1/models/${sha256Hex(bytes)}/artifact`)).status).toBe(404);
    expect(() => readdirSync(dir)).toThrow(/ENOENT/);
  });

  it('stores an admin upload larger than the request body limit and serves the same bytes', async () => {
    t = makeSigner({ server: { body_limit_bytes: 4096 }, models: { dir: modelsDir() } });
    const { headers } = await adminSession({ app: t.app, s: t.s });
    const bytes = randomBytes(100_000);
    const hash = sha256Hex(bytes);
    const res = await put(`/api/v1/models/${hash}/artifact`, bytes, headers);
    expect(res.status).toBe(201);
    expect((await body(res)).data).toMatchObject({ artifact_hash: hash, stored: true });
    const again = await put(`/api/v1/models/${hash}/artifact`, bytes, headers);
    expect(again.status).toBe(200);
    expect((await body(again)).data.stored).toBe(false);
    const got = await t.app.request(`/api/v1/models/${hash}/artifact`);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
    // A session without its CSRF token is refused, as on every console route.
    expect((await put(`/api/v1/models/${hash}/artifact`, bytes, { cookie: headers.cookie })).status).toBe(403);
    // every other route keeps the small limit
    expect((await put(`/api/v1/inputs/${sha256Hex(bytes)}`, bytes)).status).toBe(413);
  });

  it('refuses bytes that do not hash to the path, empty bodies and files over the limit', async () => {
    t = makeSigner({ models: { max_upload_bytes: 2048, dir: modelsDir() } });
    const { headers } = await adminSession({ app: t.app, s: t.s });
    const bytes = randomBytes(1000);
    const wrong = await put(`/api/v1/models/${sha256Hex('other')}/artifact`, bytes, headers);
    expect(wrong.status).toBe(400);
    expect((await body(wrong)).error).toMatch(/body sha256 is [0-9a-f]{64}/);
    expect((await put(`/api/v1/models/${sha256Hex('')}/artifact`, new Uint8Array(), headers)).status).toBe(400);
    const big = randomBytes(4096);
    const tooBig = await put(`/api/v1/models/${sha256Hex(big)}/artifact`, big, headers);
    expect(tooBig.status).toBe(413);
    expect((await body(tooBig)).error).toMatch(/max_upload_bytes/);
    expect((await t.app.request(`/api/v1/models/${sha256Hex(bytes)}/artifact`)).status).toBe(404);
  });

  it('without a chain, a signed upload cannot be checked against an owner: artifact_not_registered', async () => {
    t = makeSigner({ models: { dir: modelsDir() } });
    const bytes = randomBytes(1000);
    const path = `/api/v1/models/${sha256Hex(bytes)}/artifact?model=m`;
    const res = await put(path, bytes, new TestRequester().headers('PUT', path));
    expect(res.status).toBe(409);
    expect(await body(res)).toMatchObject({
      code: 'artifact_not_registered',
      error: expect.stringMatching(/through the console/),
    });
  });
});
