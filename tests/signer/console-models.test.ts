/**
 * Model management in the console: uploads validated in onnxruntime (the bundled PP-OCR models),
 * refused files, the size limit, test inference, the page's plain forms, and publishing on the
 * real devnet (deploy, upgrade, rollback, unpublish) as the catalog then sees it.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { getAddressFromPrivateKey } from '@stacks/transactions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../protocol/index.js';
import { DEFAULT_MODELS } from '../../node-agent/models/defaults.js';
import {
  createApp,
  createServices,
  openDatabase,
  resolveConfig,
  type Services,
  type SignerConfigInput,
} from '../../signer/index.js';
import { adminSession, type AdminSessionHeaders } from './console-helpers.js';
import { chainFixture, type ChainFixture } from './devnet-fixture.js';
import { ESCROW, body, testDatabaseLocation } from './helpers.js';
import { keyOf } from '../devnet/helpers.js';

const CLASSIFIER = readFileSync(DEFAULT_MODELS.classifier.path);
const DETECTOR = readFileSync(DEFAULT_MODELS.detector.path);

interface Console {
  s: Services;
  app: ReturnType<typeof createApp>;
  dir: string;
  auth: AdminSessionHeaders;
  close(): void;
}

/** A signer with a fresh database and models folder, optionally on a chain, with an admin logged in. */
async function consoleSigner(config: SignerConfigInput = {}, fx?: ChainFixture): Promise<Console> {
  const dir = mkdtempSync(join(tmpdir(), 'console-models-'));
  const cfg = resolveConfig({
    ...config,
    database: { path: testDatabaseLocation(dir) },
    models: { dir: join(dir, 'models'), ...config.models },
    log: { level: 'silent' },
  });
  const store = openDatabase(cfg.database.path);
  const chain = fx?.chain() ?? null;
  const s = createServices({ config: cfg, store, log: pino({ level: 'silent' }), escrow: ESCROW, chain });
  const app = createApp(s);
  return {
    s,
    app,
    dir,
    auth: await adminSession({ app, s }),
    close: () => {
      void s.verifier.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function form(fields: Record<string, string | Blob>): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  return f;
}

const onnx = (bytes: Uint8Array, name = 'model.onnx') => new File([new Uint8Array(bytes)], name);

async function upload(t: Console, name: string, bytes: Uint8Array) {
  return t.app.request('/api/v1/admin/models', {
    method: 'POST',
    headers: t.auth.headers,
    body: form({ name, file: onnx(bytes) }),
  });
}

async function post(t: Console, path: string, json?: unknown) {
  const headers = json === undefined ? t.auth.headers : { ...t.auth.headers, 'content-type': 'application/json' };
  return t.app.request(path, { method: 'POST', headers, body: json === undefined ? undefined : JSON.stringify(json) });
}

describe('console models without a chain', () => {
  let t: Console;
  beforeAll(async () => {
    t = await consoleSigner();
  });
  afterAll(() => t?.close());

  it('validates an upload in onnxruntime, records its inputs and outputs, and serves the file to nodes', async () => {
    const res = await upload(t, 'ppocr-cls', CLASSIFIER);
    expect(res.status).toBe(201);
    const m = (await body(res)).data;
    expect(m).toMatchObject({
      name: 'ppocr-cls',
      status: 'validated',
      sha256: DEFAULT_MODELS.classifier.sha256,
      size: CLASSIFIER.length,
      error: null,
    });
    // The classifier declares a dynamic batch, height and width: [N, 3, H, W] float32.
    expect(m.inputs).toEqual([
      { name: 'x', type: 'float32', shape: [expect.any(String), 3, expect.any(String), expect.any(String)] },
    ]);
    expect(m.outputs).toEqual([{ name: 'softmax_0.tmp_0', type: 'float32', shape: [expect.any(String), 2] }]);
    const artifact = await t.app.request(`/api/v1/models/${m.sha256}/artifact`);
    expect(artifact.status).toBe(200);
    expect(Buffer.from(await artifact.arrayBuffer()).equals(CLASSIFIER)).toBe(true);
  });

  it('takes a raw body named with ?name=', async () => {
    const res = await t.app.request('/api/v1/admin/models?name=cls-raw', {
      method: 'POST',
      headers: { ...t.auth.headers, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(CLASSIFIER),
    });
    expect(res.status).toBe(201);
    expect((await body(res)).data).toMatchObject({
      name: 'cls-raw',
      status: 'validated',
      sha256: DEFAULT_MODELS.classifier.sha256,
    });
  });

  it('refuses a file that is not ONNX with a 422 that says so, marks it invalid and stores nothing', async () => {
    const junk = new TextEncoder().encode('this is a text file, not a model');
    const res = await upload(t, 'junk', junk);
    expect(res.status).toBe(422);
    const { error } = await body(res);
    expect(error).toMatch(
      /^junk: not a model onnxruntime can load \(Load model from the file failed:Protobuf parsing failed\.\); upload an ONNX model file \(\.onnx\)$/,
    );
    const rows = (await body(await t.app.request('/api/v1/admin/models', { headers: t.auth.headers }))).data as {
      name: string;
      status: string;
      error: string;
    }[];
    expect(rows.find((r) => r.name === 'junk')).toMatchObject({
      status: 'invalid',
      error: expect.stringMatching(/^onnxruntime could not load this file: /),
    });
    expect((await t.app.request(`/api/v1/models/${sha256Hex(junk)}/artifact`)).status).toBe(404);
    expect(readdirSync(t.s.config.models.dir)).toEqual([`${DEFAULT_MODELS.classifier.sha256}.onnx`]);
    const id = rows.find((r) => r.name === 'junk') as unknown as { id: number };
    expect((await post(t, `/api/v1/admin/models/${id.id}/test`)).status).toBe(409);
  });

  it('refuses bad names and empty files with what to change', async () => {
    expect((await body(await upload(t, 'has space', CLASSIFIER))).error).toMatch(
      /model name "has space" is not allowed: use 1-64 letters/,
    );
    const empty = await upload(t, 'empty', new Uint8Array());
    expect(empty.status).toBe(400);
    expect((await body(empty)).error).toMatch(/file is empty/);
  });

  it('runs a test inference on generated inputs, or on an uploaded OIP input', async () => {
    const generated = await post(t, '/api/v1/admin/models/1/test');
    expect(generated.status).toBe(200);
    const run = (await body(generated)).data;
    expect(run.fed).toEqual([{ name: 'x', type: 'float32', shape: [1, 3, 1, 1] }]);
    expect(run.outputs_summary).toEqual([
      {
        name: 'softmax_0.tmp_0',
        type: 'float32',
        shape: [1, 2],
        size: 2,
        sample: [expect.any(Number), expect.any(Number)],
      },
    ]);
    expect(run.outputs_summary[0].sample[0] + run.outputs_summary[0].sample[1]).toBeCloseTo(1, 4);
    expect(run.infer_ms).toBeGreaterThan(0);

    const image = {
      inputs: [{ name: 'x', shape: [2, 3, 48, 192], datatype: 'FP32', data: new Array(2 * 3 * 48 * 192).fill(0.25) }],
    };
    const uploaded = (await body(await post(t, '/api/v1/admin/models/1/test', image))).data;
    expect(uploaded.outputs_summary[0]).toMatchObject({ shape: [2, 2], size: 4 });

    const wrong = await post(t, '/api/v1/admin/models/1/test', {
      inputs: [{ name: 'image', shape: [1], datatype: 'FP32', data: [1] }],
    });
    expect(wrong.status).toBe(400);
    expect((await body(wrong)).error).toBe('test input "image" is not an input of ppocr-cls; its inputs are x');
  });

  it('says publishing needs the chain', async () => {
    const res = await post(t, '/api/v1/admin/models/1/publish', { price: 1000 });
    expect(res.status).toBe(409);
    expect((await body(res)).error).toMatch(/^publishing needs the chain \(chain.enabled\)/);
  });

  it('needs an admin session', async () => {
    const res = await t.app.request('/api/v1/admin/models', {
      method: 'POST',
      headers: { origin: 'http://localhost' },
      body: form({ name: 'x', file: onnx(CLASSIFIER) }),
    });
    expect(res.status).toBe(401);
    expect((await t.app.request('/console/models')).status).toBe(303);
  });

  it('works from the page with plain forms', async () => {
    const { cookie, csrf } = t.auth;
    const headers = { cookie, origin: 'http://localhost' };
    const up = await t.app.request('/console/models', {
      method: 'POST',
      headers,
      body: form({ _csrf: csrf, name: 'from-page', file: onnx(CLASSIFIER, 'cls.onnx') }),
    });
    expect(up.status).toBe(303);
    const location = new URL(up.headers.get('location')!, 'http://localhost');
    expect(location.searchParams.get('notice')).toMatch(
      /^uploaded from-page \(id \d+\): onnxruntime loaded it; 1 input\(s\), 1 output\(s\)$/,
    );
    const id = /id (\d+)/.exec(location.searchParams.get('notice')!)![1];

    const test = await t.app.request(`/console/models/${id}/test`, {
      method: 'POST',
      headers,
      body: form({ _csrf: csrf }),
    });
    expect(new URL(test.headers.get('location')!, 'http://localhost').searchParams.get('notice')).toMatch(
      /^test of upload \d+: softmax_0.tmp_0 float32 \[1,2\] = /,
    );
    const input = JSON.stringify({
      inputs: [{ name: 'x', shape: [3, 3, 8, 8], datatype: 'FP32', data: new Array(3 * 3 * 8 * 8).fill(0.1) }],
    });
    const withInput = await t.app.request(`/console/models/${id}/test`, {
      method: 'POST',
      headers,
      body: form({ _csrf: csrf, input: new File([input], 'input.json') }),
    });
    expect(new URL(withInput.headers.get('location')!, 'http://localhost').searchParams.get('notice')).toMatch(
      /softmax_0.tmp_0 float32 \[3,2\] = /,
    );

    const page = await t.app.request('/console/models', { headers });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('from-page');
    expect(html).toContain('x: float32 [?, 3, ?, ?]');
    expect(html).toContain('enctype="multipart/form-data"');
    expect(html).toContain('Publishing needs the chain');
  });
});

describe('console upload size limit', () => {
  it('refuses a file over models.max_upload_bytes with 413 and records nothing', async () => {
    const t = await consoleSigner({ models: { max_upload_bytes: 100_000 } });
    try {
      for (const res of [
        await upload(t, 'too-big', CLASSIFIER),
        await t.app.request('/api/v1/admin/models?name=too-big', {
          method: 'POST',
          headers: t.auth.headers,
          body: new Uint8Array(CLASSIFIER),
        }),
      ]) {
        expect(res.status).toBe(413);
        expect((await body(res)).error).toBe(
          'model file is larger than 100000 bytes (models.max_upload_bytes); upload a smaller .onnx or raise the limit',
        );
      }
      expect((await body(await t.app.request('/api/v1/admin/models', { headers: t.auth.headers }))).data).toEqual([]);
    } finally {
      t.close();
    }
  });
});

describe('console models on the devnet', () => {
  let fx: ChainFixture;
  let t: Console;
  beforeAll(async () => {
    fx = await chainFixture();
    t = await consoleSigner({ models: { catalog_cache_ms: 600_000, public_url: 'https://signer.example' } }, fx);
  });
  afterAll(async () => {
    t?.close();
    await fx?.cleanup();
  });

  it('publishes, upgrades, rolls back and unpublishes, as the catalog then reads the chain', async () => {
    const cls = (await body(await upload(t, 'ocr', CLASSIFIER))).data;
    const det = (await body(await upload(t, 'ocr', DETECTOR))).data;
    expect(det.status).toBe('validated');

    const published = await post(t, `/api/v1/admin/models/${cls.id}/publish`, { price: 1000 });
    expect(published.status).toBe(200);
    expect((await body(published)).data).toMatchObject({
      status: 'published',
      version: 1,
      price: '1000',
      publish_txid: expect.stringMatching(/^(0x)?[0-9a-f]{64}$/),
    });
    const owner = fx.chain().address;
    expect(await t.s.catalog.head('ocr')).toMatchObject({
      artifact_hash: DEFAULT_MODELS.classifier.sha256,
      price: '1000',
      version: 1,
      owner,
      uri: `https://signer.example/api/v1/models/${DEFAULT_MODELS.classifier.sha256}/artifact`,
      source: 'chain',
    });

    expect((await body(await post(t, `/api/v1/admin/models/${det.id}/publish`, { price: '2000' }))).data).toMatchObject(
      { status: 'published', version: 2 },
    );
    expect(await t.s.catalog.head('ocr')).toMatchObject({
      artifact_hash: DEFAULT_MODELS.detector.sha256,
      price: '2000',
      version: 2,
    });

    const rolled = await post(t, '/api/v1/admin/models/ocr/rollback', { version: 1 });
    expect(rolled.status).toBe(200);
    expect((await body(rolled)).data).toMatchObject({
      name: 'ocr',
      version: 3,
      artifact_hash: DEFAULT_MODELS.classifier.sha256,
    });
    expect(await t.s.catalog.head('ocr')).toMatchObject({
      artifact_hash: DEFAULT_MODELS.classifier.sha256,
      price: '2000',
      version: 3,
    });
    const versions = (await body(await t.app.request('/api/v1/admin/models/ocr/versions', { headers: t.auth.headers })))
      .data;
    expect(versions.map((v: any) => [v.version, v.artifact_hash, v.live])).toEqual([
      [3, DEFAULT_MODELS.classifier.sha256, true],
      [2, DEFAULT_MODELS.detector.sha256, false],
      [1, DEFAULT_MODELS.classifier.sha256, false],
    ]);
    const rows = (await body(await t.app.request('/api/v1/admin/models', { headers: t.auth.headers }))).data;
    expect(rows.map((r: any) => [r.id, r.status, r.version])).toEqual([
      [det.id, 'unpublished', 2],
      [cls.id, 'published', 3],
    ]);

    const page = await (await t.app.request('/console/models', { headers: { cookie: t.auth.cookie } })).text();
    expect(page).toContain('live: version 3');
    expect(page).toContain('Roll back to this');

    // From the page, unpublishing (permanent) needs the name typed again.
    const pageForm = (confirm: string) =>
      t.app.request('/console/models/ocr/unpublish', {
        method: 'POST',
        headers: { cookie: t.auth.cookie, origin: 'http://localhost' },
        body: form({ _csrf: t.auth.csrf, confirm }),
      });
    const flash = (res: Response) => new URL(res.headers.get('location')!, 'http://localhost').searchParams;
    expect(flash(await pageForm('oc')).get('error')).toBe(
      'ocr was not unpublished: type its name exactly to confirm (retiring is permanent)',
    );
    expect(await t.s.catalog.head('ocr')).toMatchObject({ version: 3 });
    expect(flash(await pageForm('ocr')).get('notice')).toMatch(
      /^unpublished ocr \(version 3 retired, transaction \w+\)$/,
    );
    expect(await t.s.catalog.head('ocr')).toBeNull();
    expect((await t.s.catalog.versions('ocr'))[0]).toMatchObject({ version: 3, retired: true });
    expect((await body(await post(t, '/api/v1/admin/models/ocr/unpublish'))).error).toBe(
      'ocr has no live version on chain to unpublish',
    );
    // A retired name is never deployed again: said before a doomed transaction costs a fee.
    const again = await post(t, `/api/v1/admin/models/${cls.id}/publish`, { price: 5 });
    expect(again.status).toBe(409);
    expect((await body(again)).error).toBe(
      'ocr was published before and retired; the registry never reuses a name, so publish this file under another name',
    );
  });

  it('lists every model on chain with its owner, price and versions, marking the ones this signer owns', async () => {
    const html = await (await t.app.request('/console/models', { headers: { cookie: t.auth.cookie } })).text();
    const row = (name: string) => {
      const m = new RegExp(`<tr id="chain-model-${name}" data-owned="(true|false)">(.*?)</tr>`, 's').exec(html);
      expect(m, `a row for ${name}`).not.toBeNull();
      return {
        owned: m![1] === 'true',
        cells: [...m![2].matchAll(/<td[^>]*>(.*?)<\/td>/gs)].map((c) =>
          c[1]
            .replace(/<[^>]+>/g, ' ')
            .replace(/\s+/g, ' ')
            .trim(),
        ),
      };
    };
    // mnist was deployed by wallet_1 (the fixture), not by the signer's account.
    const wallet1 = getAddressFromPrivateKey(keyOf(fx.devnet, 'wallet_1'), 'testnet');
    const mnist = row('mnist');
    expect(mnist.owned).toBe(false);
    expect(mnist.cells.slice(0, 5)).toEqual(['mnist', wallet1, 'live: v1', '1000', '1']);
    // ocr was published, upgraded, rolled back and retired from the console above.
    const ocr = row('ocr');
    expect(ocr.owned).toBe(true);
    expect(ocr.cells.slice(0, 5)).toEqual(['ocr', `${fx.chain().address} this signer`, 'retired at v3', '2000', '3']);
    expect(html.indexOf('Models on chain')).toBeLessThan(html.indexOf('<h2>Uploads</h2>'));
    // Versions with their controls only for what the signer owns.
    expect(html).toContain('id="versions-ocr"');
    expect(html).not.toContain('id="versions-mnist"');
  });

  it('refuses to change a model another account owns', async () => {
    const mine = (await body(await upload(t, 'mnist', CLASSIFIER))).data;
    const res = await post(t, `/api/v1/admin/models/${mine.id}/publish`, { price: 1 });
    expect(res.status).toBe(409);
    expect((await body(res)).error).toMatch(
      /^mnist is owned on chain by ST\w+, not by this signer's account ST\w+; only its owner can change it$/,
    );
    expect(existsSync(join(t.s.config.models.dir, `${DEFAULT_MODELS.classifier.sha256}.onnx`))).toBe(true);
  });
});
