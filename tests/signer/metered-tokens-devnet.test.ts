/**
 * API tokens bound to a prepaid account (signer/accounts/metered.ts) against a devnet (real
 * deposits, registry price and escrow terms, settle-accounts confirmed on chain) and a signer on
 * a real SQLite file served on loopback, a node that pulls and signs results, and the market CLI's
 * `account allow` signing the allowance: refused before an allowance, admitted within it, a batch
 * above the headroom refused whole, a success charged exactly the price with the payees' shares, a
 * failed call charged nothing, metered receipts settled on chain outside the period root, and an
 * unbound token unchanged.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Cl, fetchCallReadOnlyFunction } from '@stacks/transactions';
import { EMPTY_ROOT, merkleRoot, principalOfKey, publicKeyOf } from '../../protocol/accounts/index.js';
import { amountArgs, decodeAccount, decodePayee, decodePeriod } from '../../protocol/contracts/index.js';
import { accountsTick } from '../../signer/accounts/settler.js';
import { accountRow } from '../../signer/accounts/index.js';
import type { StacksApiChain } from '../../signer/chain/stacks-api.js';
import { createApp, createServices, openDatabase, resolveConfig, type Services } from '../../signer/index.js';
import { ensureSettler, fundAddress } from '../../scripts/lib/funding.js';
import { loadMarketConfig } from '../../market/config.js';
import { createContext } from '../../market/context.js';
import { allow } from '../../market/commands/account.js';
import { PrepaidClient } from '../../market/prepaid.js';
import { call, mined } from '../devnet/helpers.js';
import { adminSession } from './console-helpers.js';
import { chainFixture, ESCROW, until, type ChainFixture } from './devnet-fixture.js';
import { body, TestNode, TestRequester } from './helpers.js';
import { CHAIN_ID, MARKET, TestAccount } from './prepaid-fixture.js';

const PRICE = 1000n;
const input = (x: number) => ({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [x, x + 1] }] });

let fx: ChainFixture;
let chain: StacksApiChain;
let s: Services;
let app: ReturnType<typeof createApp>;
let server: ReturnType<typeof serve>;
let signerUrl: string;
let dir: string;
let node: TestNode;
let alice: TestAccount;
let admin: Awaited<ReturnType<typeof adminSession>>;
/** alice's bound token, and an unbound one. */
let bound: string;
let boundId: number;
let unbound: string;
/** Metered receipts charged so far. */
const charged: string[] = [];

const sql = <T>(q: string, ...args: unknown[]) => s.store.sqlite.prepare(q).all(...args) as T[];
const read = async (fn: string, args: ReturnType<typeof Cl.principal>[] = []) =>
  fetchCallReadOnlyFunction({
    contractAddress: MARKET.split('.')[0]!,
    contractName: 'accounts',
    functionName: fn,
    functionArgs: args,
    senderAddress: MARKET.split('.')[0]!,
    network: 'testnet',
    client: { baseUrl: fx.devnet.url },
  });

async function mint(
  settings: Record<string, unknown>,
): Promise<{ token: string; id: number; status: number; json: Awaited<ReturnType<typeof body>> }> {
  const res = await app.request('/api/v1/admin/tokens', {
    method: 'POST',
    headers: { ...admin.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ rate_limit_per_minute: 0, ...settings }),
  });
  const json = await body(res);
  return { token: json.data?.token, id: json.data?.id, status: res.status, json };
}

const auth = (tok: string) => ({ authorization: `Bearer ${tok}`, 'content-type': 'application/json' });
const infer = (tok: string, payload: unknown, query = '') =>
  app.request(`/api/v1/models/mnist/infer${query}`, {
    method: 'POST',
    headers: auth(tok),
    body: JSON.stringify(payload),
  });
const batch = (tok: string, n: number) =>
  app.request('/api/v1/models/mnist/batch-infer', {
    method: 'POST',
    headers: auth(tok),
    body: JSON.stringify({ requests: Array.from({ length: n }, (_, i) => input(i)) }),
  });
const oip = (tok: string, payload: unknown) =>
  app.request('/v2/models/mnist/infer', { method: 'POST', headers: auth(tok), body: JSON.stringify(payload) });
const directTasks = () => sql<{ n: number }>("select count(*) n from inference_tasks where source = 'direct'")[0]!.n;

/** The node pulls one task (waiting for one) and posts its signed result. */
async function serveOne(): Promise<string> {
  const task = await until(
    'a task to pull',
    async () => {
      const res = await app.request(...node.request('GET', `/api/v1/nodes/${node.nodeId}/tasks`));
      return res.status === 200 ? (await body(res)).data : null;
    },
    30_000,
  );
  const res = await app.request(...node.request('POST', '/api/v1/tasks/complete', node.result(task)));
  expect(res.status).toBe(200);
  return task.task_id as string;
}

/** The signer's public view of alice's account. */
async function view(who = alice.address) {
  return (await body(await app.request(`/api/v1/accounts/${who}`))).data;
}

/** `market account allow <µSTX>` as alice's wallet (its JSON output). */
async function allowCli(key: string, amount: bigint): Promise<any> {
  const keyFile = join(dir, `${publicKeyOf(key).slice(2, 12)}.key`);
  writeFileSync(keyFile, key, { mode: 0o600 });
  const config = loadMarketConfig(undefined, {
    node_url: fx.devnet.url,
    signer_url: signerUrl,
    key_file: keyFile,
    network: 'devnet',
    data_dir: join(dir, 'market'),
  });
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await allow(createContext(config, true), amount);
  } finally {
    spy.mockRestore();
  }
  return JSON.parse(lines.join('').trim().split('\n').at(-1)!);
}

async function depositor(amount: bigint): Promise<TestAccount> {
  const a = new TestAccount();
  await fundAddress(fx.devnet.url, a.address, amount + 1_000_000n);
  const { res } = await call(fx.devnet, a.key, MARKET, 'deposit', amountArgs(amount));
  if ('reason' in res) throw new Error(`deposit refused: ${res.reason}`);
  expect((await mined(fx.devnet.url, res.txid)).tx_status).toBe('success');
  return a;
}

beforeAll(async () => {
  fx = await chainFixture();
  await ensureSettler(fx.devnet.url, fx.signerKey, fx.signerKey);
  dir = mkdtempSync(join(tmpdir(), 'metered-tokens-'));
  const config = resolveConfig({
    database: { path: join(dir, 'signer.db') },
    chain: {
      enabled: true,
      network: 'devnet',
      api_url: fx.devnet.url,
      escrow_contract: ESCROW,
      private_key: fx.signerKey,
    },
    accounts: { period_ms: 3_600_000, period_amount_ustx: 1_000_000_000 },
    scheduler: { prefer_better_node_ms: 0, max_attempts: 1 },
    log: { level: 'silent' },
  });
  chain = fx.chain();
  s = createServices({
    config,
    store: openDatabase(config.database.path),
    log: pino({ level: 'silent' }),
    chainId: chain.chainId,
    escrow: ESCROW,
    chain,
  });
  app = createApp(s);
  server = await new Promise((resolve) => {
    const srv = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(srv));
  });
  signerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  node = new TestNode('metered-node', [fx.artifactHash]);
  await fx.bond(node.key);
  expect((await app.request(...node.request('POST', '/api/v1/nodes/register', node.registration()))).status).toBe(201);
  alice = await depositor(100_000n);
  admin = await adminSession({ app, s });
}, 240_000);

afterAll(async () => {
  s?.inference.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await s?.verifier.close();
  s?.store.close();
  await fx?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('binding a token to a prepaid account', () => {
  it('the admin API takes a Stacks principal as the account, and refuses anything else', async () => {
    const bad = await mint({ name: 'bad', account: 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AH' });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/account.*Stacks principal/);
    const ok = await mint({ name: 'alice-metered', account: alice.address });
    expect(ok.status).toBe(201);
    expect(ok.json.data.account).toBe(alice.address);
    bound = ok.token;
    boundId = ok.id;
    const plain = await mint({ name: 'plain' });
    expect(plain.json.data.account).toBeNull();
    unbound = plain.token;
    // Unbinding and binding again through PATCH.
    const patch = (account: unknown) =>
      app.request(`/api/v1/admin/tokens/${boundId}`, {
        method: 'PATCH',
        headers: { ...admin.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ account }),
      });
    expect((await body(await patch(null))).data.account).toBeNull();
    expect((await patch('not-a-principal')).status).toBe(400);
    expect((await body(await patch(alice.address))).data.account).toBe(alice.address);
  });

  it('an unbound token behaves as before: served, and nothing is charged to any account', async () => {
    const pending = infer(unbound, input(1));
    const taskId = await serveOne();
    const res = await pending;
    expect(res.status).toBe(200);
    expect((await body(res)).data.task_id).toBe(taskId);
    expect(sql('select * from prepaid_receipts')).toEqual([]);
  });

  it('refuses a bound token with 402 allowance_exhausted before the account signed an allowance, on every direct route, creating no task', async () => {
    const before = directTasks();
    const res = await infer(bound, input(2));
    expect(res.status).toBe(402);
    const b = await body(res);
    expect(b.code).toBe('allowance_exhausted');
    expect(b.error).toMatch(/market account allow/);
    expect((await batch(bound, 2)).status).toBe(402);
    const o = await oip(bound, input(2));
    expect(o.status).toBe(402);
    expect(((await o.json()) as { error: string }).error).toMatch(/allowance/);
    expect(directTasks()).toBe(before);
    expect(sql('select * from prepaid_receipts')).toEqual([]);
    // The refusals are in the token's usage rows.
    expect(
      sql<{ n: number }>(
        "select count(*) n from inference_logs where token_id = ? and status = 'rejected' and http_status = 402",
        boundId,
      )[0]!.n,
    ).toBe(3);
  });

  it('`market account allow` signs an allowance (empty root, cap = last + µSTX); a call is then served and charged exactly the price, with the payees credited their shares', async () => {
    const out = await allowCli(alice.key, 3000n);
    expect(out).toMatchObject({ account: alice.address, cumulative: '3000', nonce: '1', headroom: '3000' });
    expect(accountRow(s.store, alice.address)).toMatchObject({
      auth_cumulative: '3000',
      auth_nonce: '1',
      auth_root: EMPTY_ROOT,
      owed: '0',
    });
    const pending = infer(bound, input(3));
    const taskId = await serveOne();
    expect((await pending).status).toBe(200);
    charged.push(taskId);
    const receipt = sql<{
      status: string;
      fee: string;
      leaf_hash: string | null;
      shares: string;
      request: string;
      account: string;
    }>('select * from prepaid_receipts where task_id = ?', taskId)[0]!;
    expect(receipt).toMatchObject({ status: 'paid', fee: PRICE.toString(), leaf_hash: null, account: alice.address });
    expect(JSON.parse(receipt.request)).toMatchObject({
      kind: 'metered',
      token_id: boundId,
      model_output: '1',
      price: '1000',
    });
    // Shares as the escrow splits a fee, by its current bps.
    const terms = await s.accounts!.view.terms();
    const owner = (await s.accounts!.view.output(1n))!.owner;
    const ownerPart = (PRICE * terms.ownerBps) / 10_000n;
    const nodePart = PRICE - ownerPart - (PRICE * terms.treasuryBps) / 10_000n;
    const nodePayee = principalOfKey(node.publicKey, CHAIN_ID);
    const shares = new Map(
      (JSON.parse(receipt.shares) as { payee: string; amount: string }[]).map((x) => [x.payee, BigInt(x.amount)]),
    );
    expect(shares.get(nodePayee)).toBe(nodePart);
    expect(shares.get(owner)).toBe(ownerPart);
    expect([...shares.values()].reduce((a, b) => a + b, 0n)).toBe(PRICE);
    const owed = (p: string) => sql<{ owed: string }>('select owed from payee_credits where payee = ?', p)[0]?.owed;
    expect(owed(nodePayee)).toBe(nodePart.toString());
    expect(owed(owner)).toBe(ownerPart.toString());
    expect(accountRow(s.store, alice.address)).toMatchObject({ owed: '1000', reserved: '0' });
    expect((await view()).allowance).toEqual({ cap: '3000', running: '0', headroom: '2000' });
    // The call's result is the token holder's, not served as a prepaid request's to the account.
    const path = `/api/v1/requests/${taskId}/result`;
    expect((await app.request(path, { headers: new TestRequester(alice.key).headers('GET', path) })).status).toBe(404);
  }, 60_000);

  it('refuses a batch larger than the headroom whole (nothing queued or reserved), and takes one that fits exactly', async () => {
    const before = directTasks();
    const res = await batch(bound, 3);
    expect(res.status).toBe(402);
    const b = await body(res);
    expect(b.code).toBe('allowance_exhausted');
    expect(b.error).toMatch(/batch of 3/);
    expect(directTasks()).toBe(before);
    expect(accountRow(s.store, alice.address)).toMatchObject({ owed: '1000', reserved: '0' });
    const pending = batch(bound, 2);
    const ids = [await serveOne(), await serveOne()];
    const done = await body(await pending);
    expect(done.data.results.map((r: { success: boolean }) => r.success)).toEqual([true, true]);
    charged.push(...ids);
    expect(accountRow(s.store, alice.address)).toMatchObject({ owed: '3000', reserved: '0' });
    // The headroom is spent: the next call waits for a higher cap.
    expect((await body(await infer(bound, input(9)))).code).toBe('allowance_exhausted');
  }, 60_000);

  it('holds a running call against the headroom, and a call that times out releases it and charges nothing', async () => {
    const client = new PrepaidClient({
      signerUrl,
      chainId: CHAIN_ID,
      market: MARKET,
      privateKey: alice.key,
      stateFile: join(dir, 'market', `${alice.address}.authorization.json`),
    });
    // Continues from the allowance the CLI signed (served with its signature, checked as this key's).
    const r = await client.allow(1500n);
    expect(r.cumulative).toBe(4500n);
    const res = await infer(bound, { ...input(4), timeout_ms: 400 }, '?async=1');
    expect(res.status).toBe(202);
    const taskId = (await body(res)).data.task_id as string;
    expect((await view()).allowance).toEqual({ cap: '4500', running: '1000', headroom: '500' });
    expect(accountRow(s.store, alice.address)!.reserved).toBe('1000');
    // Nobody serves it: it times out.
    await until(
      'the call timed out',
      () =>
        sql<{ status: string }>('select status from prepaid_receipts where task_id = ?', taskId)[0]?.status ===
        'failed',
      10_000,
    );
    expect(accountRow(s.store, alice.address)).toMatchObject({ owed: '3000', reserved: '0' });
    expect((await view()).allowance).toEqual({ cap: '4500', running: '0', headroom: '1500' });
  }, 60_000);

  it('refuses with insufficient_deposit when the allowance covers a call but the deposit does not', async () => {
    const bob = await depositor(500n);
    const client = new PrepaidClient({ signerUrl, chainId: CHAIN_ID, market: MARKET, privateKey: bob.key });
    await client.allow(10_000n);
    const tok = await mint({ name: 'bob-metered', account: bob.address });
    const res = await infer(tok.token, input(5));
    expect(res.status).toBe(402);
    expect((await body(res)).code).toBe('insufficient_deposit');
    expect(sql('select * from prepaid_receipts where account = ?', bob.address)).toEqual([]);
  }, 60_000);

  it('a period settles metered receipts on chain (spent = what the calls cost) under the allowance, and its root holds only the signed leaves', async () => {
    // One signed prepaid leaf beside the metered receipts, paid by an authorization continuing from the allowance.
    const row = accountRow(s.store, alice.address)!;
    alice.cumulative = BigInt(row.auth_cumulative);
    alice.nonce = BigInt(row.auth_nonce);
    const nodePayee = principalOfKey(node.publicKey, CHAIN_ID);
    const [leafTask] = alice.pay(s, 1, 700n, { node: nodePayee, owner: nodePayee, treasury: nodePayee });
    const leafHash = sql<{ leaf_hash: string }>(
      'select leaf_hash from prepaid_receipts where task_id = ?',
      leafTask,
    )[0]!.leaf_hash;
    const nodeOwed = BigInt(
      sql<{ owed: string }>('select owed from payee_credits where payee = ?', nodePayee)[0]!.owed,
    );
    // 3,700 unsettled: due once it reaches period_amount_ustx.
    s.config.accounts.period_amount_ustx = 3_000;
    await until(
      'the period confirmed',
      async () => {
        await accountsTick(s, chain);
        await fx.devnet.idle();
        return sql<{ status: string }>("select status from prepaid_periods where status = 'confirmed'").length === 1;
      },
      60_000,
    );
    const [p] = sql<{ id: number; root: string; tasks: number; charged: string; chain_period: number; items: string }>(
      'select * from prepaid_periods',
    );
    expect(p!.charged).toBe('3700');
    expect(p!.root).toBe(merkleRoot([leafHash]));
    expect(p!.tasks).toBe(1);
    const stored = JSON.parse(p!.items) as { task_ids: string[]; metered_ids: string[] };
    expect(stored.task_ids).toEqual([leafTask]);
    expect([...stored.metered_ids].sort()).toEqual([...charged].sort());
    const onChain = decodePeriod(await read('get-period', [Cl.uint(p!.chain_period) as never]));
    expect(onChain).toMatchObject({ root: merkleRoot([leafHash]), tasks: 1n, charged: 3700n });
    expect(await decodeAccount(await read('get-account', [Cl.principal(alice.address)]))).toMatchObject({
      spent: 3700n,
      balance: 96_300n,
    });
    // The node principal was credited on chain exactly what the books owe it.
    expect(decodePayee(await read('get-payee', [Cl.principal(nodePayee)]))!.credited).toBe(nodeOwed);
    expect(
      sql("select distinct status from prepaid_receipts where account = ? and status <> 'failed'", alice.address),
    ).toEqual([{ status: 'settled' }]);
    // The direct tasks themselves are never settled on chain.
    for (const id of charged)
      expect(sql<{ status: string }>('select status from inference_tasks where task_id = ?', id)[0]!.status).toBe(
        'completed',
      );
  }, 120_000);
});
