/**
 * The policy guard on PUT /api/v1/inputs/{sha256}: the input's hash is fixed (on chain, or signed
 * before the task), so personal data is refused at upload (422 policy_refused naming rule and field
 * path), never masked, and nothing is stored; before the task is submitted that is before any fee.
 * The level is the stricter of `?model=` (which `market submit` sends) and the models of the chain
 * tasks waiting for the input, else the default. A binary tensor blob's numbers are not text: only
 * its JSON header is read. An input that only encrypted tasks wait for is not read.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeBinaryInputs, privacyCode, sha256Hex } from '../../protocol/index.js';
import { guardAudit, inputBlobs } from '../../signer/db/index.js';
import { setTrusted } from '../../signer/nodes/index.js';
import { walletFromKey } from '../../market/keys.js';
import { SignerClient, SignerRefusal } from '../../market/signer-client.js';
import {
  addTasks,
  body,
  makeSigner,
  publishConsoleModel,
  register,
  TestNode,
  TestRequester,
  type TestSigner,
  setModelLevel,
  textInput,
} from './helpers.js';

const EMAIL = 'li.si@example.cn';
const json = textInput;

let t: TestSigner;
const requester = new TestRequester();
const setLevel = (model: string, level: string) => setModelLevel(t, model, level);
const stored = () => t.s.store.db.select({ sha256: inputBlobs.sha256 }).from(inputBlobs).all();
const audit = () => t.s.store.db.select().from(guardAudit).all();

/** PUT an input: signed by the requester (before its task), or unsigned (a chain task already waits for it). */
function put(bytes: Uint8Array, o: { model?: string; signed?: boolean } = {}) {
  const path = `/api/v1/inputs/${sha256Hex(bytes)}${o.model ? `?model=${o.model}` : ''}`;
  const headers = o.signed === false ? {} : requester.headers('PUT', path);
  return t.app.request(path, { method: 'PUT', headers, body: Buffer.from(bytes) });
}

beforeEach(() => {
  t = makeSigner();
});
afterEach(() => t.close());

describe('the guard on input uploads', () => {
  it('refuses what the default level (L1) would mask: 422 policy_refused with rule and path, nothing stored, audited as refuse', async () => {
    const bytes = json('hello', `write to ${EMAIL}`);
    const res = await put(bytes);
    expect(res.status).toBe(422);
    const b = await body(res);
    expect(b.code).toBe('policy_refused');
    expect(b.error).toContain('email at $.inputs[0].data[1]');
    expect(b.error).toMatch(/would be masked on a direct call.*cannot change it/);
    expect(b.error).not.toContain(EMAIL);
    expect(stored()).toEqual([]);
    expect(audit()).toMatchObject([
      {
        token_id: null,
        model: '(none named)',
        request_id: `input:${sha256Hex(bytes)}`,
        data_level: 'L1',
        rule: 'email',
        path: '$.inputs[0].data[1]',
        action: 'refuse',
      },
    ]);
    expect(JSON.stringify(audit())).not.toContain('li.si');
  });

  it("?model= names the level: an L0 model's input passes (audited as pass) and is stored; a clean input always is", async () => {
    setLevel('open-model', 'L0');
    const bytes = json(`ask ${EMAIL}`);
    expect((await put(bytes, { model: 'open-model' })).status).toBe(201);
    expect(audit().map((a) => `${a.model} ${a.data_level} ${a.action}`)).toEqual(['open-model L0 pass']);
    expect((await put(json('nothing personal'))).status).toBe(201);
    expect(stored()).toHaveLength(2);
  });

  it("a chain task already waiting sets the level too: an L2 task's input is refused whatever ?model= says", async () => {
    setLevel('open-model', 'L0');
    setLevel('model-a', 'L2');
    const bytes = json('call me on 13812345678');
    addTasks(t, { inputHash: sha256Hex(bytes), model: 'model-a' });
    const res = await put(bytes, { model: 'open-model', signed: false });
    expect(res.status).toBe(422);
    expect((await body(res)).error).toMatch(/data level L2 .*phone at \$\.inputs\[0\]\.data\[0\]/);
    expect(audit()).toMatchObject([{ model: 'open-model, model-a', data_level: 'L2', action: 'refuse' }]);
    expect(stored()).toEqual([]);
  });

  it('a binary tensor blob: its numbers are not read, its JSON header is', async () => {
    const data = new Float32Array([13812345678, 4111111111111111, 10.1, 2.3]);
    const numbers = encodeBinaryInputs([{ name: 'x', datatype: 'FP32', shape: [1, 4], data }]);
    expect((await put(numbers)).status).toBe(201);
    const named = encodeBinaryInputs([{ name: `x-${EMAIL}`, datatype: 'FP32', shape: [1, 4], data }]);
    const res = await put(named);
    expect(res.status).toBe(422);
    expect((await body(res)).error).toContain('email at $.inputs[0].name');
  });

  it('an input that carries the fields of a cipher object beside its own is read like any other', async () => {
    const cipher = { iv: 'aa', ephemeralPK: 'bb', cipherText: 'cc', mac: 'dd' };
    const disguised = Buffer.from(
      JSON.stringify({ ...cipher, inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [`to ${EMAIL}`] }] }),
    );
    const res = await put(disguised);
    expect(res.status).toBe(422);
    expect((await body(res)).error).toContain('email at $.inputs[0].data[0]');
    expect(stored()).toEqual([]);
    // A cipher object alone (@stacks/encryption's fields, nothing else) is not text to read.
    const alone = Buffer.from(JSON.stringify({ ...cipher, wasString: false, cipherTextEncoding: 'base64' }));
    expect((await put(alone)).status).toBe(201);
  });

  it('an input an encrypted task names is refused in clear before it is read (it travels sealed)', async () => {
    const bytes = json(`sealed ${EMAIL}`);
    addTasks(t, { inputHash: sha256Hex(bytes), privacy: privacyCode('encrypted') });
    const res = await put(bytes, { signed: false });
    expect((await body(res)).code).toBe('sealed_input_required');
    expect(audit()).toEqual([]);
  });

  it('an L2 model with no trusted node serving it: 503 policy_needs_trusted_node before any fee; accepted once one is', async () => {
    publishConsoleModel(t, 'sensitive');
    setLevel('sensitive', 'L2');
    await register(t, new TestNode('vetted'));
    const bytes = json('a clean input');
    const res = await put(bytes, { model: 'sensitive' });
    expect(res.status).toBe(503);
    expect((await body(res)).code).toBe('policy_needs_trusted_node');
    setTrusted(t.s.store, 'vetted', true);
    expect((await put(bytes, { model: 'sensitive' })).status).toBe(201);
  });

  it("market's client sends ?model=, so the model's level applies to what `market submit` uploads", async () => {
    setLevel('open-model', 'L0');
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const srv = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(srv));
    });
    try {
      const client = new SignerClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      const wallet = walletFromKey(requester.key, 'devnet');
      const bytes = json(`from ${EMAIL}`);
      const refused = await client.putInput(bytes, wallet).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(SignerRefusal);
      expect((refused as SignerRefusal).code).toBe('policy_refused');
      expect(await client.putInput(bytes, wallet, 'open-model')).toBe(sha256Hex(bytes));
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
