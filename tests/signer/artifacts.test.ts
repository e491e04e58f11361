/** Model files: stored under the sha256 of their bytes, served back to nodes, bounded in size. */
import { describe, it, expect, afterEach } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../../protocol/index.js';
import { body, makeSigner, type TestSigner } from './helpers.js';

let t: TestSigner;
afterEach(() => t?.close());

const put = (path: string, bytes: Uint8Array) => t.app.request(path, { method: 'PUT', body: bytes as BodyInit });

describe('PUT /api/v1/models/{sha256}/artifact', () => {
  it('stores a model file larger than the request body limit and serves the same bytes', async () => {
    t = makeSigner({ server: { body_limit_bytes: 4096 }, models: { dir: join(mkdtempSync(join(tmpdir(), 'artifacts-')), 'models') } });
    const bytes = randomBytes(100_000);
    const hash = sha256Hex(bytes);
    const res = await put(`/api/v1/models/${hash}/artifact`, bytes);
    expect(res.status).toBe(201);
    expect((await body(res)).data).toMatchObject({ artifact_hash: hash, stored: true });
    const again = await put(`/api/v1/models/${hash}/artifact`, bytes);
    expect(again.status).toBe(200);
    expect((await body(again)).data.stored).toBe(false);
    const got = await t.app.request(`/api/v1/models/${hash}/artifact`);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
    // every other route keeps the small limit
    expect((await put(`/api/v1/inputs/${sha256Hex(bytes)}`, bytes)).status).toBe(413);
  });

  it('refuses bytes that do not hash to the path, empty bodies and files over the limit', async () => {
    t = makeSigner({ models: { max_upload_bytes: 2048, dir: join(mkdtempSync(join(tmpdir(), 'artifacts-')), 'models') } });
    const bytes = randomBytes(1000);
    const wrong = await put(`/api/v1/models/${sha256Hex('other')}/artifact`, bytes);
    expect(wrong.status).toBe(400);
    expect((await body(wrong)).error).toMatch(/body sha256 is [0-9a-f]{64}/);
    expect((await put(`/api/v1/models/${sha256Hex('')}/artifact`, new Uint8Array())).status).toBe(400);
    const big = randomBytes(4096);
    const tooBig = await put(`/api/v1/models/${sha256Hex(big)}/artifact`, big);
    expect(tooBig.status).toBe(413);
    expect((await body(tooBig)).error).toMatch(/max_upload_bytes/);
    expect((await t.app.request(`/api/v1/models/${sha256Hex(bytes)}/artifact`)).status).toBe(404);
  });
});
