/**
 * The policy guard on direct inference: a token's input is guarded at the stricter of the token's
 * and the model's data level before it queues. L1 masks personal data (the node gets the masked
 * input), L2 refuses it with a 422 naming rule and field; every finding is in the audit log
 * without its value.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { guardAudit, inferenceTasks, inputBlobs, modelPolicies } from '../../signer/db/index.js';
import { adminSession } from './console-helpers.js';
import { setTrusted } from '../../signer/nodes/index.js';
import { body, makeSigner, publishConsoleModel, register, TestNode, type TestSigner } from './helpers.js';

const MODEL = 'text-model';
const EMAIL = 'zhang_san@example.com';
const text = (...data: string[]) => ({ inputs: [{ name: 'text', shape: [data.length], datatype: 'BYTES', data }] });

let t: TestSigner;
let admin: Awaited<ReturnType<typeof adminSession>>;

async function mintToken(settings: Record<string, unknown> = {}): Promise<string> {
  const res = await t.app.request('/api/v1/admin/tokens', {
    method: 'POST',
    headers: { ...admin.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'guarded', rate_limit_per_minute: 0, ...settings }),
  });
  expect(res.status).toBe(201);
  return (await body(res)).data.token as string;
}

const infer = (token: string, payload: unknown, path = `/api/v1/models/${MODEL}/infer?async=1`) =>
  t.app.request(path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
const audit = () => t.s.store.db.select().from(guardAudit).all();
const queuedInputs = () =>
  t.s.store.db
    .select({ data: inputBlobs.data })
    .from(inferenceTasks)
    .innerJoin(inputBlobs, eq(inputBlobs.sha256, inferenceTasks.input_hash))
    .all()
    .map((r) => Buffer.from(r.data).toString('utf8'));

beforeEach(async () => {
  t = makeSigner({ inference: { queue_size: 8, timeout_ms: 10_000 } });
  admin = await adminSession(t);
  publishConsoleModel(t, MODEL, {
    inputs: [{ name: 'text', type: 'string', shape: ['batch'] }],
    outputs: [{ name: 'label', type: 'float32', shape: ['batch'] }],
  });
});
afterEach(() => {
  t.s.inference.close();
  t.close();
});

describe('the guard on direct inference', () => {
  it('at the default level (L1) masks an e-mail: the queued input holds the tag, the audit log the rule and path', async () => {
    const token = await mintToken();
    const res = await infer(token, text(`write to ${EMAIL}`, 'nothing personal'));
    expect(res.status).toBe(202);
    const [queued] = queuedInputs();
    expect(queued).toContain('write to [email]');
    expect(queued).not.toContain(EMAIL);
    expect(audit()).toMatchObject([
      { model: MODEL, data_level: 'L1', rule: 'email', path: '$.inputs[0].data[0]', action: 'mask' },
    ]);
    expect(JSON.stringify(audit())).not.toContain('zhang_san');
  });

  it('a token at L2 is refused with 422 policy_refused naming the rule and field; nothing queues', async () => {
    const token = await mintToken({ data_level: 'L2' });
    const res = await infer(token, text('id 11010519491231002X', `mail ${EMAIL}`));
    expect(res.status).toBe(422);
    const b = await body(res);
    expect(b.code).toBe('policy_refused');
    expect(b.error).toMatch(/data level L2 .*cn_id at \$\.inputs\[0\]\.data\[0\], email at \$\.inputs\[0\]\.data\[1\]/);
    expect(b.error).not.toContain(EMAIL);
    expect(t.s.store.db.select().from(inferenceTasks).all()).toEqual([]);
    expect(audit().map((a) => `${a.rule} ${a.action} ${a.data_level}`)).toEqual(['cn_id refuse L2', 'email refuse L2']);
  });

  it("the model's level applies when it is stricter than the token's, and a clean input passes untouched", async () => {
    t.s.store.db.insert(modelPolicies).values({ model: MODEL, data_level: 'L2', updated_at: Date.now() }).run();
    const token = await mintToken({ data_level: 'L0' });
    expect((await infer(token, text('call 13812345678'))).status).toBe(422);
    // L2 in clear text runs on trusted nodes only (guard-trusted.test.ts): one serves the model here.
    await register(t, new TestNode('vetted'));
    setTrusted(t.s.store, 'vetted', true);
    expect((await infer(token, text('the weather is fine'))).status).toBe(202);
    expect(queuedInputs()).toEqual([expect.stringContaining('the weather is fine')]);
  });

  it('a token at L0 on an L0 model lets personal data pass, and still audits it', async () => {
    t.s.store.db.insert(modelPolicies).values({ model: MODEL, data_level: 'L0', updated_at: Date.now() }).run();
    const token = await mintToken({ data_level: 'L0' });
    expect((await infer(token, text(`from 10.1.2.3 to ${EMAIL}`))).status).toBe(202);
    expect(queuedInputs()[0]).toContain(EMAIL);
    expect(audit().map((a) => `${a.rule} ${a.action}`)).toEqual(['ip pass', 'email pass']);
  });

  it('guards each request of a batch, with its index in the path', async () => {
    const token = await mintToken({ data_level: 'L2' });
    const res = await infer(
      token,
      { requests: [text('fine'), text(`mail ${EMAIL}`)] },
      `/api/v1/models/${MODEL}/batch-infer`,
    );
    expect(res.status).toBe(422);
    expect((await body(res)).error).toContain('email at $.requests[1].inputs[0].data[0]');
  });

  it('a token data level other than L0, L1, L2 is refused, saying which are allowed', async () => {
    const res = await t.app.request('/api/v1/admin/tokens', {
      method: 'POST',
      headers: { ...admin.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bad', data_level: 'L3' }),
    });
    expect(res.status).toBe(400);
    expect((await body(res)).error).toMatch(/data_level.*L0.*L1.*L2/);
  });
});
