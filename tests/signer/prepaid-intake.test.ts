/**
 * Prepaid intake, pay-then-reveal and quotes against a real devnet (real accounts.clar deposits,
 * withdrawal requests, registry and escrow reads) and a signer on a real SQLite file, through
 * `app.request`: every refusal code of POST /api/v1/requests, duplicates, a node running a prepaid
 * task (never put in complete-tasks), the result withheld (402) until an authorization pays for
 * it, every refusal of a bad authorization, and expiry releasing the reservation.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { randomPrivateKey } from '@stacks/transactions';
import {
  accountsMessageHash,
  authorizeLeaves,
  encodeAccountsMessage,
  fromLeafJson,
  fromTaskRequestJson,
  leafHash,
  merkleRoot,
  prepaidTaskId,
  principalOfKey,
  priceQuoteCV,
  publicKeyOf,
  signAccountsMessage,
  signTaskRequest,
  spendAuthorizationCV,
  taskRequestCV,
  toAuthorizationJson,
  toTaskRequestJson,
  type ReceiptLeafJson,
  type TaskRequest,
} from '../../protocol/accounts/index.js';
import { amountArgs } from '../../protocol/contracts/accounts.js';
import { verifyEncodedFast } from '../../signer/auth/verify.js';
import { submitBatch } from '../../signer/chain/submitter.js';
import { createApp, createServices, openDatabase, resolveConfig, type Services } from '../../signer/index.js';
import { accountRow, receiptOf } from '../../signer/accounts/index.js';
import { getTask } from '../../signer/tasks/state.js';
import { call, DEPLOYER, keyOf, mined } from '../devnet/helpers.js';
import { chainFixture, ESCROW, type ChainFixture } from './devnet-fixture.js';
import { body, PG_DIALECT, testDatabaseLocation, TestNode, TestRequester } from './helpers.js';
import { buildEnvelope, sealedInputPath, sealTo } from '../../protocol/index.js';

const CHAIN_ID = 0x80000000;
const MARKET = `${DEPLOYER}.accounts`;

let fx: ChainFixture;
let s: Services;
let app: ReturnType<typeof createApp>;
let dir: string;
let node: TestNode;

/** A dev wallet as a prepaid account. */
class Account {
  readonly publicKey: string;
  readonly address: string;
  nonce = BigInt(Date.now()) * 1000n;
  constructor(readonly key: string) {
    this.publicKey = publicKeyOf(key);
    this.address = principalOfKey(this.publicKey, CHAIN_ID);
  }
}
let alice: Account;
let bob: Account;
let carol: Account;
let poor: Account;

async function contractCall(key: string, fn: string, args: Parameters<typeof amountArgs>[0]) {
  const { res } = await call(fx.devnet, key, MARKET, fn, amountArgs(args));
  if ('reason' in res) throw new Error(`${fn} refused: ${JSON.stringify(res)}`);
  await fx.devnet.idle();
  const tx = await mined(fx.devnet.url, res.txid);
  if (tx.tx_status !== 'success') throw new Error(`${fn}: ${tx.tx_status} ${tx.tx_result?.repr ?? ''}`);
}

function inputOf(x: number): Buffer {
  return Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [x] }] }));
}

/** A signed request item; `over` changes the request, `o` the item (signing key, public key, input). */
function item(
  a: Account,
  over: Partial<TaskRequest> = {},
  o: { signKey?: string; publicKey?: string; input?: Buffer | null; quote?: unknown } = {},
) {
  const input = o.input === undefined ? inputOf(Math.random()) : o.input;
  const request: TaskRequest = {
    account: a.address,
    market: MARKET,
    modelOutput: fx.modelOutput,
    inputHash: createHash('sha256')
      .update(input ?? Buffer.from(String(Math.random())))
      .digest('hex'),
    maxFee: 5_000n,
    expiry: BigInt(Math.floor(Date.now() / 1000) + 600),
    security: 1n,
    nonce: a.nonce++,
    ...over,
  };
  return {
    request: toTaskRequestJson(request),
    signature: signTaskRequest(request, CHAIN_ID, o.signKey ?? a.key),
    public_key: o.publicKey ?? a.publicKey,
    ...(input ? { input_base64: input.toString('base64') } : {}),
    ...(o.quote ? { quote: o.quote } : {}),
  };
}

const taskIdOf = (it: { request: Parameters<typeof fromTaskRequestJson>[0] }) =>
  prepaidTaskId(accountsMessageHash(taskRequestCV(fromTaskRequestJson(it.request)), CHAIN_ID));

async function post(items: unknown[]) {
  const res = await app.request('/api/v1/requests', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ requests: items }),
  });
  return { status: res.status, json: await body(res) };
}

async function signedGet(key: string, path: string) {
  const res = await app.request(path, { headers: new TestRequester(key).headers('GET', path) });
  return { status: res.status, json: await body(res) };
}

async function payFor(
  a: Account,
  taskIds: string[],
  leaves: ReceiptLeafJson[],
  prev: { cumulative: bigint; nonce: bigint },
  signKey = a.key,
  tweak: (x: ReturnType<typeof authorizeLeaves>['authorization']) => void = () => {},
) {
  const { authorization } = authorizeLeaves(prev, leaves.map(fromLeafJson), MARKET, CHAIN_ID, a.key);
  tweak(authorization);
  const signature = signAccountsMessage(spendAuthorizationCV(authorization), CHAIN_ID, signKey);
  const res = await app.request(`/api/v1/accounts/${a.address}/authorizations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ authorization: toAuthorizationJson(authorization, signature), task_ids: taskIds }),
  });
  return { status: res.status, json: await body(res) };
}

/** The node pulls one task and posts its signed result. */
async function runOne(expectTask: string) {
  const pulled = await app.request(...node.request('GET', `/api/v1/nodes/${node.nodeId}/tasks`));
  expect(pulled.status).toBe(200);
  const task = (await body(pulled)).data;
  expect(task.task_id).toBe(expectTask);
  const res = await app.request(...node.request('POST', '/api/v1/tasks/complete', node.result(task)));
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  fx = await chainFixture();
  dir = mkdtempSync(join(tmpdir(), 'prepaid-intake-'));
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
  alice = new Account(keyOf(fx.devnet, 'wallet_6'));
  bob = new Account(keyOf(fx.devnet, 'wallet_7'));
  carol = new Account(keyOf(fx.devnet, 'wallet_8'));
  poor = new Account(keyOf(fx.devnet, 'wallet_4'));
  await contractCall(alice.key, 'deposit', 100_000);
  await contractCall(bob.key, 'deposit', 100_000);
  await contractCall(carol.key, 'deposit', 100_000);
  await contractCall(carol.key, 'request-withdrawal', 50_000);
  await contractCall(poor.key, 'deposit', 6_000);
  node = new TestNode('prepaid-node', [fx.artifactHash]);
  await fx.bond(node.key);
  const reg = await app.request(...node.request('POST', '/api/v1/nodes/register', node.registration()));
  expect(reg.status).toBe(201);
}, 240_000);

afterAll(async () => {
  await s?.verifier.close();
  s?.store.close();
  await fx?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('POST /api/v1/requests', () => {
  it('accepts a signed request as a prepaid task with a running receipt and its max fee reserved; the same request again is a duplicate, another with its nonce is refused', async () => {
    const it1 = item(alice);
    const { status, json } = await post([it1]);
    expect(status).toBe(202);
    const id = taskIdOf(it1);
    expect(json.data.results).toEqual([{ task_id: id, status: 'accepted' }]);
    const task = getTask(s.store, id)!;
    expect(task).toMatchObject({
      source: 'prepaid',
      status: 'pending',
      user_address: alice.address,
      fee: '1000',
      artifact_hash: fx.artifactHash,
      deadline: null,
      chain_task_id: null,
    });
    expect(receiptOf(s.store, id)).toMatchObject({ status: 'running', account: alice.address, max_fee: '5000' });
    expect(accountRow(s.store, alice.address)).toMatchObject({
      reserved: '5000',
      balance: '100000',
      public_key: alice.publicKey,
    });
    expect((await post([it1])).json.data.results).toEqual([{ task_id: id, status: 'duplicate' }]);
    const again = item(alice, { nonce: BigInt(it1.request.nonce) });
    const r = (await post([again])).json.data.results[0];
    expect(r).toMatchObject({ index: 0, success: false, code: 'nonce_used' });
    expect(accountRow(s.store, alice.address)!.reserved).toBe('5000');
    // Run it, so that later tests start from an empty queue.
    await runOne(id);
  });

  it('refuses each bad item with its own code, and accepts the good ones of the same call', async () => {
    const good = item(alice);
    const expired = item(alice, { expiry: BigInt(Math.floor(Date.now() / 1000) - 1) });
    const items = [
      { request: { ...good.request, security: '2' }, signature: good.signature, public_key: good.public_key },
      item(alice, {}, { publicKey: bob.publicKey }),
      item(alice, { market: `${DEPLOYER}.other-market` }),
      item(alice, {}, { signKey: bob.key }),
      expired,
      item(alice, { modelOutput: 999n }),
      item(alice, { maxFee: 999n }),
      item(
        alice,
        {},
        { quote: { price: '1', expiry: String(Math.floor(Date.now() / 1000) + 60), signature: '00'.repeat(65) } },
      ),
      item(alice, {}, { input: null }),
      { ...item(alice), input_base64: inputOf(42).toString('base64') },
      item(poor, { maxFee: 7_000n }),
      item(carol),
      item(new Account(randomPrivateKey())),
      good,
    ];
    const { status, json } = await post(items);
    expect(status).toBe(202);
    const codes = json.data.results.map((r: { code?: string; status?: string }) => r.code ?? r.status);
    expect(codes).toEqual([
      'request_invalid',
      'account_key_mismatch',
      'wrong_market',
      'request_signature_invalid',
      'request_expired',
      'model_not_live',
      'max_fee_too_low',
      'quote_invalid',
      'input_missing',
      'input_mismatch',
      'insufficient_deposit',
      'account_withdrawing',
      'insufficient_deposit',
      'accepted',
    ]);
    json.data.results
      .slice(0, -1)
      .forEach((r: { index: number; error: string }, i: number) =>
        expect(r).toMatchObject({ index: i, success: false, error: expect.any(String) }),
      );
    expect(json.data.results.at(-1).task_id).toBe(taskIdOf(good));
    // Only the good one reserved anything; the refused ones left no task.
    expect(accountRow(s.store, alice.address)!.reserved).toBe('10000');
    expect(getTask(s.store, taskIdOf(items[1] as ReturnType<typeof item>))).toBeUndefined();
    await runOne(taskIdOf(good));
  });

  it('takes an input stored before (no input_base64), reserves up to the deposit and then refuses', async () => {
    const input = inputOf(7);
    const first = item(poor, { maxFee: 5_000n }, { input });
    expect((await post([first])).json.data.results[0].status).toBe('accepted');
    const second = item(poor, { maxFee: 1_000n, inputHash: first.request.input_hash }, { input: null });
    const third = item(poor, { maxFee: 1_000n, inputHash: first.request.input_hash }, { input: null });
    const r = (await post([second, third])).json.data.results;
    expect(r[0].status).toBe('accepted');
    expect(r[1]).toMatchObject({ code: 'insufficient_deposit' });
    expect(r[1].error).toMatch(/can cover 0/);
    expect(accountRow(s.store, poor.address)!.reserved).toBe('6000');
    for (const it of [first, second]) await runOne(taskIdOf(it));
  });

  it('refuses more than max_requests_per_call items and an empty list', async () => {
    const many = Array.from({ length: 101 }, () => ({}));
    const res = await post(many);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(/at most 100/);
    expect((await post([])).status).toBe(400);
  });
});

describe('quotes', () => {
  it('signs the on-chain price for an account and model; a request with the quote is charged its price, a quote for another account is refused', async () => {
    const res = await app.request(`/api/v1/quote?account=${bob.address}&model_output=${fx.modelOutput}`);
    expect(res.status).toBe(200);
    const q = (await body(res)).data;
    expect(q).toMatchObject({
      account: bob.address,
      market: MARKET,
      model_output: '1',
      price: '1000',
      onchain_price: '1000',
    });
    const quote = {
      account: bob.address,
      market: MARKET,
      modelOutput: 1n,
      price: BigInt(q.price),
      expiry: BigInt(q.expiry),
    };
    expect(
      verifyEncodedFast(encodeAccountsMessage(priceQuoteCV(quote), CHAIN_ID), q.signature, publicKeyOf(fx.signerKey)),
    ).toBe(true);
    const withQuote = item(
      bob,
      { security: 3n, maxFee: 3_000n },
      { quote: { price: q.price, expiry: q.expiry, signature: q.signature } },
    );
    const forAlice = item(alice, {}, { quote: { price: q.price, expiry: q.expiry, signature: q.signature } });
    const r = (await post([withQuote, forAlice])).json.data.results;
    expect(r[0].status).toBe('accepted');
    expect(getTask(s.store, taskIdOf(withQuote))).toMatchObject({ fee: '3000', security: 3, runs_needed: 3 });
    expect(r[1]).toMatchObject({ code: 'quote_invalid' });
    expect((await app.request(`/api/v1/quote?account=${bob.address}&model_output=999`)).status).toBe(404);
    // Level 3 with one node never completes here: let it expire through the tick below.
    s.store.sqlite
      .prepare(
        PG_DIALECT
          ? "update prepaid_receipts set request = jsonb_set(request::jsonb, '{expiry}', to_jsonb('1'::text))::text where task_id = ?"
          : "update prepaid_receipts set request = json_set(request, '$.expiry', '1') where task_id = ?",
      )
      .run(taskIdOf(withQuote));
    expect(s.accounts!.tick().expired).toContain(taskIdOf(withQuote));
  });
});

describe('pay, then reveal', () => {
  it('turns a completed prepaid task into a due receipt, never settles it through complete-tasks, and reveals it only to its account once paid', async () => {
    const it1 = item(bob);
    const it2 = item(bob);
    await post([it1, it2]);
    const [id1, id2] = [taskIdOf(it1), taskIdOf(it2)];
    const path1 = `/api/v1/requests/${id1}/result`;
    // Before a node ran it.
    expect((await signedGet(bob.key, path1)).json.code).toBe('result_not_ready');
    await runOne(id1);
    await runOne(id2);
    expect(getTask(s.store, id1)!.status).toBe('completed');
    expect(receiptOf(s.store, id1)).toMatchObject({ status: 'due', fee: '1000', node_key: node.publicKey });
    // The chain submitter never picks a prepaid task.
    expect(await submitBatch(s, fx.chain(), Date.now() + 3_600_000)).toBeNull();
    expect(getTask(s.store, id1)!.status).toBe('completed');
    expect(getTask(s.store, id1)!.settlement_txid).toBeNull();

    // Not paid: 402 with the leaf; another account and an unsigned read are refused.
    const unpaid = await signedGet(bob.key, path1);
    expect(unpaid.status).toBe(402);
    expect(unpaid.json).toMatchObject({ success: false, code: 'payment_required' });
    expect(leafHash(fromLeafJson(unpaid.json.data.leaf))).toBe(receiptOf(s.store, id1)!.leaf_hash);
    expect(unpaid.json.data.output).toBeUndefined();
    expect((await signedGet(alice.key, path1)).json.code).toBe('not_requester');
    expect((await app.request(path1)).status).toBe(401);
    expect((await signedGet(alice.key, `/api/v1/accounts/${bob.address}/due`)).json.code).toBe('not_requester');

    const due = await signedGet(bob.key, `/api/v1/accounts/${bob.address}/due`);
    expect(due.status).toBe(200);
    expect(due.json.data.authorization).toEqual({ cumulative: '0', nonce: '0' });
    const leaves = due.json.data.leaves as { task_id: string; leaf: ReceiptLeafJson }[];
    expect(leaves.map((l) => l.task_id)).toEqual([id1, id2]);
    const ids = leaves.map((l) => l.task_id);
    const ls = leaves.map((l) => l.leaf);
    const zero = { cumulative: 0n, nonce: 0n };

    // Every bad authorization is refused and changes nothing.
    expect(
      (
        await payFor(
          bob,
          ids,
          ls,
          zero,
          bob.key,
          (a) => (a.receiptsRoot = merkleRoot([ls[1], ls[0]].map((l) => leafHash(fromLeafJson(l))))),
        )
      ).json.code,
    ).toBe('root_mismatch');
    expect((await payFor(bob, ids, ls, zero, bob.key, (a) => (a.cumulative = 1_999n))).json.code).toBe('cap_too_low');
    expect((await payFor(bob, ids, ls, zero, bob.key, (a) => (a.nonce = 0n))).json.code).toBe('nonce_too_low');
    expect((await payFor(bob, ids, ls, zero, alice.key)).json.code).toBe('authorization_invalid');
    expect((await payFor(bob, ids, ls, zero, bob.key, (a) => (a.market = `${DEPLOYER}.elsewhere`))).json.code).toBe(
      'wrong_market',
    );
    expect((await payFor(bob, [id1, id1], [ls[0], ls[0]], zero)).status).toBe(400);
    expect(receiptOf(s.store, id1)!.status).toBe('due');
    expect(accountRow(s.store, bob.address)).toMatchObject({ owed: '0', auth_nonce: '0' });

    // Paying the first only: the second stays withheld.
    const paid = await payFor(bob, [id1], [ls[0]], zero);
    expect(paid.status).toBe(200);
    expect(paid.json.data.account).toMatchObject({ owed: '1000', authorization: { cumulative: '1000', nonce: '1' } });
    const shown = await signedGet(bob.key, path1);
    expect(shown.status).toBe(200);
    expect(shown.json.data).toMatchObject({
      task_id: id1,
      output_hash: receiptOf(s.store, id1)!.output_hash,
      leaf: ls[0],
    });
    expect(shown.json.data.output).toEqual(
      node.result({ task_id: id1, chain_task_id: null, input_hash: it1.request.input_hash }).output,
    );
    expect((await signedGet(bob.key, `/api/v1/requests/${id2}/result`)).status).toBe(402);

    // The same receipt cannot be paid twice (nor with the next nonce).
    const twice = await payFor(bob, [id1], [ls[0]], { cumulative: 1000n, nonce: 1n });
    expect(twice.json.code).toBe('not_due');
    expect(accountRow(s.store, bob.address)).toMatchObject({ owed: '1000', auth_cumulative: '1000', auth_nonce: '1' });

    // The second, on top of the first.
    expect((await payFor(bob, [id2], [ls[1]], { cumulative: 1000n, nonce: 1n })).status).toBe(200);
    const row = accountRow(s.store, bob.address)!;
    expect(row).toMatchObject({ owed: '2000', auth_cumulative: '2000', auth_nonce: '2' });
    // Credits owed to payees add up to the fees, the node's share at the node key's principal.
    const credits = s.store.sqlite.prepare('select payee, owed from payee_credits').all() as {
      payee: string;
      owed: string;
    }[];
    const nodePayee = principalOfKey(node.publicKey, CHAIN_ID);
    expect(credits.find((c) => c.payee === nodePayee)).toBeDefined();
    const shares = [id1, id2].flatMap(
      (id) => JSON.parse(receiptOf(s.store, id)!.shares!) as { payee: string; amount: string }[],
    );
    expect(shares.reduce((t, x) => t + BigInt(x.amount), 0n)).toBe(2000n);

    // The public view.
    const view = (await body(await app.request(`/api/v1/accounts/${bob.address}`))).data;
    expect(view).toMatchObject({
      account: bob.address,
      balance: '100000',
      owed: '2000',
      unsettled: '2000',
      authorization: { cumulative: '2000', nonce: '2' },
    });
    expect(BigInt(view.available)).toBe(100_000n - 2_000n - BigInt(view.reserved));
  });

  it('fails a request whose expiry passes before a node runs it, releasing its reservation', async () => {
    const before = BigInt(accountRow(s.store, alice.address)!.reserved);
    const soon = item(alice, { expiry: BigInt(Math.floor(Date.now() / 1000) + 2) });
    expect((await post([soon])).json.data.results[0].status).toBe('accepted');
    const id = taskIdOf(soon);
    expect(BigInt(accountRow(s.store, alice.address)!.reserved)).toBe(before + 5000n);
    expect(s.accounts!.tick(Date.now()).expired).toEqual([]);
    const later = s.accounts!.tick(Date.now() + 3_000);
    expect(later.expired).toEqual([id]);
    expect(getTask(s.store, id)).toMatchObject({ status: 'failed' });
    expect(getTask(s.store, id)!.error).toMatch(/expired/);
    expect(receiptOf(s.store, id)!.status).toBe('failed');
    expect(BigInt(accountRow(s.store, alice.address)!.reserved)).toBe(before);
    const r = await signedGet(alice.key, `/api/v1/requests/${id}/result`);
    expect(r.status).toBe(410);
    expect(r.json.code).toBe('request_failed');
  });
});

describe('throughput', () => {
  it('takes an encrypted request whose input the account sealed to reserved nodes, runs it on those only, as ciphertext', async () => {
    const env = buildEnvelope(inputOf(3), { replyTo: alice.publicKey });
    const sealedItem = (input: Buffer | null) => ({
      ...item(alice, { inputHash: env.inputHash }, { input }),
      privacy: 'encrypted',
    });
    const early = (await post([sealedItem(null), sealedItem(Buffer.from(env.bytes))])).json.data.results;
    expect(early[0]).toMatchObject({ code: 'input_missing' });
    expect(early[1]).toMatchObject({ code: 'request_invalid' });
    const requester = new TestRequester(alice.key);
    const reserve = await app.request('/api/v1/reservations', {
      method: 'POST',
      headers: { ...requester.headers('POST', '/api/v1/reservations'), 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mnist', nodes: 1 }),
    });
    const r = (await body(reserve)).data;
    expect(r.nodes).toEqual([{ node_id: node.nodeId, public_key: node.publicKey }]);
    const put = `${sealedInputPath(env.inputHash, node.nodeId)}?reservation=${r.reservation_id}`;
    const uploaded = await app.request(put, {
      method: 'PUT',
      headers: requester.headers('PUT', put),
      body: Buffer.from(await sealTo(node.publicKey, env.bytes)),
    });
    expect(uploaded.status).toBe(201);
    const ok = sealedItem(null);
    expect((await post([ok])).json.data.results[0].status).toBe('accepted');
    const id = taskIdOf(ok);
    expect(getTask(s.store, id)).toMatchObject({ privacy: 'encrypted', input_hash: env.inputHash });
    const pulled = (await body(await app.request(...node.request('GET', `/api/v1/nodes/${node.nodeId}/tasks`)))).data;
    expect(pulled).toMatchObject({ task_id: id, input_url: sealedInputPath(env.inputHash) });
    expect(pulled.input).toBeUndefined();
    // The node answers with an error report: the task leaves the queue for the tests after this one.
    const report = { ...node.result(pulled, null), error: 'ciphertext_invalid: a test report' };
    const failed = await app.request(...node.request('POST', '/api/v1/tasks/complete', report));
    expect(failed.status).toBe(200);
  });

  it("accepts 1,000 signed requests in 10 calls of 100 (signature checks included), all recorded once (their rate is bench:accounts' intake figure)", async () => {
    const busy = new Account(keyOf(fx.devnet, 'wallet_1'));
    await contractCall(busy.key, 'deposit', 2_000_000);
    const input = inputOf(1234);
    await post([item(busy, { maxFee: 1_000n }, { input })]);
    const inputHash = createHash('sha256').update(input).digest('hex');
    const calls = Array.from({ length: 10 }, () =>
      Array.from({ length: 100 }, () => item(busy, { maxFee: 1_000n, inputHash }, { input: null })),
    );
    const results = [];
    for (const batch of calls) {
      const res = await post(batch);
      expect(res.status).toBe(202);
      results.push(...res.json.data.results);
    }
    expect(results.filter((r: { status?: string }) => r.status === 'accepted')).toHaveLength(1_000);
    expect(
      (
        s.store.sqlite
          .prepare("select count(*) as n from prepaid_receipts where account = ? and status = 'running'")
          .get(busy.address) as { n: number }
      ).n,
    ).toBe(1_001);
    expect(accountRow(s.store, busy.address)!.reserved).toBe('1001000');
  }, 120_000);

  it('reads an account it does not track from the chain at most once per account_cache_ms, however often anyone asks', async () => {
    const stranger = principalOfKey(publicKeyOf(randomPrivateKey()), CHAIN_ID);
    const reads = vi.spyOn(s.accounts!.view.chain, 'callReadOnly');
    try {
      for (let i = 0; i < 5; i++) expect((await app.request(`/api/v1/accounts/${stranger}`)).status).toBe(404);
      expect(reads.mock.calls.filter(([, fn]) => fn === 'get-account')).toHaveLength(1);
    } finally {
      reads.mockRestore();
    }
  });
});
