/**
 * The policy guard on prepaid requests (POST /api/v1/requests) against a real devnet (accounts.clar
 * deposit, registry model): a request's clear-text input, inline or uploaded before, is guarded at
 * its model's data level once it is signed and priced. It signs its input_hash, so what the level
 * would mask is refused (the item's code policy_refused, rule and path, audited as refuse): nothing
 * accepted, stored, reserved or queued. An L2 model's request is refused while no trusted node
 * serves it, and becomes a trusted_only task once one does.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { principalOfKey, publicKeyOf, signTaskRequest, toTaskRequestJson } from '../../protocol/accounts/index.js';
import { amountArgs } from '../../protocol/contracts/accounts.js';
import { sha256Hex } from '../../protocol/index.js';
import { accountRow } from '../../signer/accounts/index.js';
import { guardAudit, inferenceTasks, inputBlobs, modelPolicies, prepaidReceipts } from '../../signer/db/index.js';
import { createApp, createServices, openDatabase, resolveConfig, type Services } from '../../signer/index.js';
import { setTrusted } from '../../signer/nodes/index.js';
import { leaseUpTo } from '../../signer/tasks/scheduler.js';
import { call, DEPLOYER, keyOf, mined } from '../devnet/helpers.js';
import { chainFixture, ESCROW, type ChainFixture } from './devnet-fixture.js';
import { body, testDatabaseLocation, TestNode, TestRequester } from './helpers.js';

const CHAIN_ID = 0x80000000;
const MARKET = `${DEPLOYER}.accounts`;
const MODEL = 'mnist';
const EMAIL = 'wang.wu@example.com';

let fx: ChainFixture;
let s: Services;
let app: ReturnType<typeof createApp>;
let dir: string;
let key: string;
let account: string;
let nonce = BigInt(Date.now()) * 1000n;

const text = (...data: string[]) =>
  Buffer.from(JSON.stringify({ inputs: [{ name: 'text', shape: [data.length], datatype: 'BYTES', data }] }));

/** A signed request item for `input` (sent inline unless `inline` is false). */
function item(input: Buffer, inline = true) {
  const request = {
    account,
    market: MARKET,
    modelOutput: fx.modelOutput,
    inputHash: createHash('sha256').update(input).digest('hex'),
    maxFee: 5_000n,
    expiry: BigInt(Math.floor(Date.now() / 1000) + 600),
    security: 1n,
    nonce: nonce++,
  };
  return {
    request: toTaskRequestJson(request),
    signature: signTaskRequest(request, CHAIN_ID, key),
    public_key: publicKeyOf(key),
    ...(inline ? { input_base64: input.toString('base64') } : {}),
  };
}

async function post(...items: unknown[]) {
  const res = await app.request('/api/v1/requests', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ requests: items }),
  });
  expect(res.status).toBe(202);
  return (await body(res)).data.results as { code?: string; error?: string; status?: string; task_id?: string }[];
}

const setLevel = (level: string) =>
  s.store.db
    .insert(modelPolicies)
    .values({ model: MODEL, data_level: level, updated_at: Date.now() })
    .onConflictDoUpdate({ target: modelPolicies.model, set: { data_level: level } })
    .run();
/** What an accepted request leaves: tasks, receipts, the account's reservation. */
const taken = () => ({
  tasks: s.store.db.select().from(inferenceTasks).all().length,
  receipts: s.store.db.select().from(prepaidReceipts).all().length,
  reserved: accountRow(s.store, account)?.reserved ?? '0',
});

beforeAll(async () => {
  fx = await chainFixture();
  dir = mkdtempSync(join(tmpdir(), 'guard-prepaid-'));
  const config = resolveConfig({
    database: { path: testDatabaseLocation(dir) },
    chain: { enabled: true, network: 'devnet', escrow_contract: ESCROW, private_key: fx.signerKey },
    scheduler: { prefer_better_node_ms: 0 },
    log: { level: 'silent' },
  });
  s = createServices({
    config,
    store: openDatabase(config.database.path),
    log: pino({ level: 'silent' }),
    escrow: ESCROW,
    chain: fx.chain(),
  });
  app = createApp(s);
  key = keyOf(fx.devnet, 'wallet_6');
  account = principalOfKey(publicKeyOf(key), CHAIN_ID);
  const { res } = await call(fx.devnet, key, MARKET, 'deposit', amountArgs(100_000));
  if ('reason' in res) throw new Error(`deposit refused: ${JSON.stringify(res)}`);
  await fx.devnet.idle();
  expect((await mined(fx.devnet.url, res.txid)).tx_status).toBe('success');
  const node = new TestNode('vetted', [fx.artifactHash]);
  await fx.bond(node.key);
  expect((await app.request(...node.request('POST', '/api/v1/nodes/register', node.registration()))).status).toBe(201);
}, 240_000);

afterAll(async () => {
  await s?.verifier.close();
  s?.store.close();
  await fx?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  s.store.db.delete(modelPolicies).run();
  s.store.db.delete(guardAudit).run();
  setTrusted(s.store, 'vetted', false);
});

describe('the guard on prepaid requests', () => {
  it('refuses what the default level (L1) would mask, since the request signs its input hash: nothing accepted, stored, reserved or queued', async () => {
    const input = text('fine', `mail ${EMAIL}`);
    const before = taken();
    const [out] = await post(item(input));
    expect(out).toMatchObject({ success: false, code: 'policy_refused' });
    expect(out!.error).toContain('email at $.inputs[0].data[1]');
    expect(out!.error).toMatch(/cannot change it/);
    expect(out!.error).not.toContain(EMAIL);
    expect(taken()).toEqual(before);
    expect(s.store.db.select().from(inputBlobs).all()).toEqual([]);
    expect(s.store.db.select().from(guardAudit).all()).toMatchObject([
      { token_id: null, model: MODEL, data_level: 'L1', rule: 'email', path: '$.inputs[0].data[1]', action: 'refuse' },
    ]);
  });

  it("guards an input uploaded before (not inline) at the request's model level; one bad item sinks no other", async () => {
    setLevel('L0');
    const input = text(`call 13812345678`);
    const path = `/api/v1/inputs/${sha256Hex(input)}?model=${MODEL}`;
    const put = await app.request(path, {
      method: 'PUT',
      headers: new TestRequester(key).headers('PUT', path),
      body: input,
    });
    expect(put.status).toBe(201);
    setLevel('L1');
    const clean = text('the weather is fine');
    const [refused, accepted] = await post(item(input, false), item(clean));
    expect(refused).toMatchObject({ code: 'policy_refused' });
    expect(refused!.error).toContain('phone at $.inputs[0].data[0]');
    expect(accepted).toMatchObject({ status: 'accepted' });
    const tasks = s.store.db.select().from(inferenceTasks).all();
    expect(tasks.map((t) => [t.input_hash, t.trusted_only])).toEqual([[sha256Hex(clean), 0]]);
  });

  it('an L2 model: refused (policy_needs_trusted_node) while no trusted node serves it, then a trusted_only task only the trusted node leases', async () => {
    setLevel('L2');
    const before = taken();
    const [refused] = await post(item(text('no personal data here')));
    expect(refused).toMatchObject({ code: 'policy_needs_trusted_node' });
    expect(taken()).toEqual(before);
    setTrusted(s.store, 'vetted', true);
    const [accepted] = await post(item(text('no personal data here either')));
    expect(accepted).toMatchObject({ status: 'accepted' });
    const task = s.store.db
      .select()
      .from(inferenceTasks)
      .all()
      .find((t) => t.task_id === accepted!.task_id)!;
    expect(task.trusted_only).toBe(1);
    const leased = () => leaseUpTo(s, 'vetted', 8, Date.now() + 1_000).map((t) => t.task_id);
    setTrusted(s.store, 'vetted', false);
    expect(leased()).not.toContain(task.task_id);
    setTrusted(s.store, 'vetted', true);
    expect(leased()).toContain(task.task_id);
  });
});
