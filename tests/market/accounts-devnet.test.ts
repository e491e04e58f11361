/**
 * The users' and node operators' side of prepaid accounts against a real devnet (accounts.clar
 * with the deployer as bonded settler, as `npm start` sets it up) and a real signer on loopback
 * (SQLite file, HTTP): `market account` deposit / balance / request-withdrawal / withdraw through
 * the CLI's functions, `market submit --prepaid` paying for a result before reading it (twice, so
 * the second payment continues from the first), the client refusing to pay a dishonest signer's
 * forged leaf or authorization, and the node agent refusing a voucher not signed by the settler
 * key, then challenging an honest-looking but unhonoured voucher and claiming the bond's payment.
 *
 * The signer runs without its loops, so nothing settles by itself: that is the signer which
 * stopped settling that a voucher challenge is for.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomPrivateKey } from '@stacks/transactions';
import {
  accountsMessageHash,
  fromVoucherJson,
  leafHash,
  merkleProof,
  merkleRoot,
  payeeVoucherCV,
  prepaidTaskId,
  priceQuoteCV,
  principalOfKey,
  publicKeyOf,
  signAccountsMessage,
  signTaskRequest,
  spendAuthorizationCV,
  taskRequestCV,
  toLeafJson,
  toVoucherJson,
  type ReceiptLeaf,
} from '../../protocol/accounts/index.js';
import {
  createApp,
  createServices,
  openDatabase,
  resolveConfig as signerConfig,
  type Services,
} from '../../signer/index.js';
import { ensureSettler, fundAddress } from '../../scripts/lib/funding.js';
import { loadMarketConfig } from '../../market/config.js';
import { createContext, type Context } from '../../market/context.js';
import {
  balance,
  deposit,
  requestWithdrawal,
  withdraw,
  challengeVoucher,
  challengeReceipt,
} from '../../market/commands/account.js';
import { settleAccountsArgs } from '../../protocol/contracts/accounts.js';
import { submitPrepaid } from '../../market/commands/prepaid.js';
import { DishonestSigner, PrepaidClient } from '../../market/prepaid.js';
import {
  PayeeClient,
  VoucherError,
  saveVoucher,
  loadVoucher,
  watchVoucherOnce,
} from '../../node-agent/accounts/index.js';
import { resolveConfig as agentConfig } from '../../node-agent/config/index.js';
import { call, DEPLOYER, keyOf, mined } from '../devnet/helpers.js';
import { chainFixture, ESCROW, until, type ChainFixture } from '../signer/devnet-fixture.js';
import { TestNode, body } from '../signer/helpers.js';

const CHAIN_ID = 0x80000000;
const MARKET = `${DEPLOYER}.accounts`;

let fx: ChainFixture;
let s: Services;
let server: ReturnType<typeof serve>;
let signerUrl: string;
let dir: string;
let node: TestNode;
let app: ReturnType<typeof createApp>;

/** A market CLI context for a wallet key, with its own data dir. */
function marketCtx(key: string, signer = signerUrl): Context {
  const keyFile = join(dir, `${publicKeyOf(key).slice(2, 12)}.key`);
  writeFileSync(keyFile, key, { mode: 0o600 });
  const config = loadMarketConfig(undefined, {
    node_url: fx.devnet.url,
    signer_url: signer,
    key_file: keyFile,
    network: 'devnet',
    data_dir: join(dir, 'market'),
  });
  return createContext(config, true);
}

/** Runs a command with `--json` and returns what it printed (its last JSON line). */
async function json(run: () => Promise<void>): Promise<any> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  const out = lines.join('').trim().split('\n').at(-1);
  return out ? JSON.parse(out) : null;
}

/** The test node pulls the next task (waiting for one) and posts its signed result. */
async function nodeRunsOne(): Promise<string> {
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
  return task.task_id;
}

/** A loopback HTTP server answering with `handler`'s envelope; records every request. */
async function fakeSigner(
  handler: (method: string, path: string) => { status: number; body: unknown } | null,
): Promise<{ url: string; seen: string[]; close: () => Promise<void> }> {
  const seen: string[] = [];
  const srv: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const r = handler(req.method!, req.url!) ?? {
      status: 404,
      body: { success: false, data: null, error: 'not found', code: 'not_found' },
    };
    res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.body));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((r) => srv.close(() => r())),
  };
}

beforeAll(async () => {
  fx = await chainFixture();
  await ensureSettler(fx.devnet.url, fx.signerKey, fx.signerKey, { bond: 5_000_000n });
  dir = mkdtempSync(join(tmpdir(), 'market-accounts-'));
  const config = signerConfig({
    database: { path: join(dir, 'signer.db') },
    chain: {
      enabled: true,
      network: 'devnet',
      api_url: fx.devnet.url,
      escrow_contract: ESCROW,
      private_key: fx.signerKey,
    },
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
  server = await new Promise((resolve) => {
    const srv = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(srv));
  });
  signerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  node = new TestNode('market-accounts-node', [fx.artifactHash]);
  await fx.bond(node.key);
  const reg = await app.request(...node.request('POST', '/api/v1/nodes/register', node.registration()));
  expect(reg.status).toBe(201);
}, 240_000);

afterAll(async () => {
  (server as { closeAllConnections?: () => void } | undefined)?.closeAllConnections?.();
  if (server) await new Promise<void>((r) => server.close(() => r()));
  await s?.verifier.close();
  s?.store.close();
  await fx?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('market account', () => {
  it('deposits, shows the balance from the chain and the signer, and withdraws only after the dispute window', async () => {
    const ctx = marketCtx(keyOf(fx.devnet, 'wallet_7'));
    const address = ctx.wallet().address;
    const before = await ctx.chain.stxBalance(address);
    const d = await json(() => deposit(ctx, 200_000n));
    expect(d).toMatchObject({ account: address, deposited: '200000', balance: '200000' });
    expect(await ctx.chain.stxBalance(address)).toBeLessThan(before - 200_000n + 1n);

    const b = await json(() => balance(ctx));
    expect(b.chain).toMatchObject({ balance: '200000', spent: '0', withdrawAt: '0' });
    expect(b.signer).toMatchObject({ account: address, balance: '200000', unsettled: '0', available: '200000' });

    await expect(withdraw(ctx)).rejects.toThrow(/no withdrawal was requested/);
    await expect(requestWithdrawal(ctx, 300_000n)).rejects.toThrow(/holds 200000 µSTX/);
    const r = await json(() => requestWithdrawal(ctx, 50_000n));
    const at = BigInt(r.withdraw_at);
    expect(at).toBeGreaterThan(0n);
    // Refused here, before any fee is paid, while the window is open.
    await expect(withdraw(ctx)).rejects.toThrow(new RegExp(`from block ${at}`));
    const pending = await json(() => balance(ctx));
    expect(pending.chain).toMatchObject({ withdrawAmount: '50000', withdrawAt: String(at) });

    const tip = await ctx.chain.tipHeight();
    await fx.advance(Number(at) - tip);
    const w = await json(() => withdraw(ctx));
    expect(w).toMatchObject({ account: address, withdrawn: '50000' });
    expect(await ctx.chain.account(address)).toMatchObject({ balance: 150_000n, withdrawAt: 0n, withdrawAmount: 0n });
  }, 180_000);
});

describe('market submit --prepaid', () => {
  it('runs a task with no transaction: pays for the leaf, then reveals the output, checked against it; the next payment continues from the first', async () => {
    const ctx = marketCtx(keyOf(fx.devnet, 'wallet_6'));
    const account = ctx.wallet().address;
    await json(() => deposit(ctx, 100_000n));
    const input = join(dir, 'input.json');
    writeFileSync(input, JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [0.25] }] }));
    const height = await ctx.chain.tipHeight();

    for (const round of [1n, 2n]) {
      const submitted = json(() => submitPrepaid(ctx, { model: 'mnist', input, wait: true }));
      const ran = await nodeRunsOne();
      const out = await submitted;
      expect(out).toMatchObject({
        task_id: ran,
        account,
        fee: '1000',
        max_fee: '1000',
        output_verified: true,
        node_public_key: node.publicKey,
      });
      expect(out.output).toEqual({ outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [0.5] }] });
      const view = (await json(() => balance(ctx))).signer;
      expect(view.authorization).toMatchObject({ cumulative: String(1000n * round), nonce: String(round) });
      expect(view.owed).toBe(String(1000n * round));
    }
    // The second payment continued from the first authorization, which the client keeps in its
    // state file (and the signer serves with its signature, checked against this key).
    expect(
      JSON.parse(readFileSync(join(dir, 'market', `${account}.authorization.json`), 'utf8')).authorization,
    ).toMatchObject({ cumulative: '2000', nonce: '2' });
    // No transaction was sent from the account.
    expect(await ctx.chain.tipHeight()).toBe(height);
  }, 120_000);

  it('says what to do, by the refusal code, when the deposit does not cover the max fee', async () => {
    const poor = randomPrivateKey();
    await fundAddress(fx.devnet.url, principalOfKey(publicKeyOf(poor), CHAIN_ID), 1_000_000n);
    const ctx = marketCtx(poor);
    await json(() => deposit(ctx, 500n));
    const input = join(dir, 'input-poor.json');
    writeFileSync(input, JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }));
    await expect(submitPrepaid(ctx, { model: 'mnist', input, wait: true })).rejects.toThrow(
      /market account deposit <µSTX>/,
    );
  }, 60_000);
});

describe('the prepaid client and a dishonest signer', () => {
  const userKey = randomPrivateKey();
  const other = randomPrivateKey();
  const client = () =>
    new PrepaidClient({ signerUrl: 'http://127.0.0.1:1', chainId: CHAIN_ID, market: MARKET, privateKey: userKey });

  /** A leaf for `request` as the signer would serve it. */
  function leafOf(
    c: PrepaidClient,
    over: Partial<ReceiptLeaf> = {},
    signWith = userKey,
  ): { taskId: string; leaf: ReceiptLeaf } {
    const signed = c.sign({ modelOutput: 1n, inputHash: 'ab'.repeat(32), maxFee: 1000n });
    const request = { ...signed.request, ...(over.request ?? {}) };
    const leaf: ReceiptLeaf = {
      requestSignature: signTaskRequest(request, CHAIN_ID, signWith),
      node: node.publicKey,
      outputHash: 'cd'.repeat(32),
      fee: over.fee ?? 1000n,
      request,
    };
    return { taskId: prepaidTaskId(accountsMessageHash(taskRequestCV(request), CHAIN_ID)), leaf };
  }

  async function against(
    due: { authorization: unknown; leaves: { taskId: string; leaf: ReceiptLeaf }[] },
    pay: (c: PrepaidClient, ids: string[]) => Promise<unknown>,
  ) {
    const c = client();
    const fake = await fakeSigner((method, path) => {
      if (method === 'GET' && path.endsWith('/due'))
        return {
          status: 200,
          body: {
            success: true,
            data: {
              authorization: due.authorization,
              leaves: due.leaves.map((l) => ({ task_id: l.taskId, leaf: toLeafJson(l.leaf) })),
            },
            error: null,
          },
        };
      if (method === 'POST') return { status: 200, body: { success: true, data: { paid: [] }, error: null } };
      return null;
    });
    try {
      const real = new PrepaidClient({ signerUrl: fake.url, chainId: CHAIN_ID, market: MARKET, privateKey: userKey });
      const err = await pay(
        real,
        due.leaves.map((l) => l.taskId),
      ).then(
        () => null,
        (e: unknown) => e,
      );
      return { err, posted: fake.seen.filter((x) => x.startsWith('POST')), c };
    } finally {
      await fake.close();
    }
  }

  it('takes a quote only for this account and model, at or above the on-chain price, signed by the key it names', async () => {
    const signerKey = randomPrivateKey();
    const account = principalOfKey(publicKeyOf(userKey), CHAIN_ID);
    const serve = (over: Record<string, string>, signWith = signerKey) => {
      const q = {
        account,
        market: MARKET,
        modelOutput: 7n,
        price: 1500n,
        expiry: 2_000_000_000n,
        ...Object.fromEntries(
          Object.entries(over).map(([k, v]) => [k, k === 'account' || k === 'market' ? v : BigInt(v)]),
        ),
      };
      const body = {
        account: q.account,
        market: q.market,
        model_output: String(q.modelOutput),
        price: String(q.price),
        expiry: String(q.expiry),
        signer_public_key: publicKeyOf(signerKey),
        signature: signAccountsMessage(priceQuoteCV(q as never), CHAIN_ID, signWith),
      };
      return fakeSigner((_method, path) =>
        path.startsWith('/api/v1/quote') ? { status: 200, body: { success: true, data: body, error: null } } : null,
      );
    };
    const quoteFrom = async (over: Record<string, string>, signWith?: string, settlerKey?: string) => {
      const fake = await serve(over, signWith);
      try {
        return await new PrepaidClient({
          signerUrl: fake.url,
          chainId: CHAIN_ID,
          market: MARKET,
          privateKey: userKey,
        }).quote(7n, 1000n, settlerKey);
      } finally {
        await fake.close();
      }
    };
    expect(await quoteFrom({})).toMatchObject({ account, price: 1500n, modelOutput: 7n });
    await expect(quoteFrom({ price: '999' })).rejects.toThrow(/below the model's on-chain price 1000/);
    await expect(quoteFrom({ modelOutput: '8' })).rejects.toThrow(DishonestSigner);
    await expect(quoteFrom({}, other)).rejects.toThrow(/not signed by the signer's key/);
    // The key the chain names as settler decides, not the one the response claims.
    await expect(quoteFrom({}, undefined, publicKeyOf(other))).rejects.toThrow(/not signed by the signer's key/);
  });

  it('refuses to pay for a leaf whose request this key never signed, and posts no authorization', async () => {
    const forged = leafOf(client(), {}, other);
    const { err, posted } = await against(
      { authorization: { cumulative: '0', nonce: '0' }, leaves: [forged] },
      (c, ids) => c.pay(ids),
    );
    expect(err).toBeInstanceOf(DishonestSigner);
    expect((err as DishonestSigner).code).toBe('leaf_not_signed');
    expect((err as Error).message).toMatch(/never signed/);
    expect(posted).toEqual([]);
  });

  it("refuses a leaf that charges above the request's max fee", async () => {
    const greedy = leafOf(client(), { fee: 1001n });
    const { err, posted } = await against(
      { authorization: { cumulative: '0', nonce: '0' }, leaves: [greedy] },
      (c, ids) => c.pay(ids),
    );
    expect((err as DishonestSigner).code).toBe('leaf_refused');
    expect((err as Error).message).toMatch(/above its max fee/);
    expect(posted).toEqual([]);
  });

  it('refuses to continue from a latest authorization this key did not sign (a made-up higher cap)', async () => {
    const honest = leafOf(client());
    const fakeAuth = {
      account: principalOfKey(publicKeyOf(userKey), CHAIN_ID),
      market: MARKET,
      cumulative: 1_000_000n,
      nonce: 3n,
      receiptsRoot: '00'.repeat(32),
    };
    const forgedSig = signAccountsMessage(spendAuthorizationCV(fakeAuth), CHAIN_ID, other);
    const served = {
      cumulative: '1000000',
      nonce: '3',
      market: MARKET,
      receipts_root: fakeAuth.receiptsRoot,
      signature: forgedSig,
    };
    const { err, posted } = await against({ authorization: served, leaves: [honest] }, (c, ids) => c.pay(ids));
    expect((err as DishonestSigner).code).toBe('authorization_not_signed');
    expect(posted).toEqual([]);
    // Served without a signature, and not one this client signed: refused too.
    const unsigned = await against(
      { authorization: { cumulative: '1000000', nonce: '3' }, leaves: [honest] },
      (c, ids) => c.pay(ids),
    );
    expect((unsigned.err as DishonestSigner).code).toBe('authorization_not_signed');
    expect(unsigned.posted).toEqual([]);
    // The same leaf with an honest zero start is paid: the refusals above are about what was forged.
    const ok = await against({ authorization: { cumulative: '0', nonce: '0' }, leaves: [honest] }, (c, ids) =>
      c.pay(ids),
    );
    expect(ok.err).toBeNull();
    expect(ok.posted).toHaveLength(1);
  });
});

describe('node-agent vouchers', () => {
  function payeeClient(signer: string, keyFile: string) {
    const cfg = agentConfig({
      agent: { signer, key_file: keyFile, network: 'devnet' },
      chain: { api_url: fx.devnet.url, escrow_contract: ESCROW },
    });
    return {
      cfg,
      client: new PayeeClient(cfg, {
        privateKey: node.key,
        publicKey: node.publicKey,
        address: principalOfKey(node.publicKey, CHAIN_ID),
      }),
    };
  }

  it("refuses a voucher signed by a key other than the settler's, and keeps nothing", async () => {
    const address = principalOfKey(node.publicKey, CHAIN_ID);
    const liar = randomPrivateKey();
    const voucher = { payee: address, market: MARKET, cumulative: 9_999_999n, settleBy: 10n };
    const fake = await fakeSigner((_method, path) =>
      path === `/api/v1/payees/${address}/voucher`
        ? {
            status: 200,
            body: {
              success: true,
              data: toVoucherJson(voucher, signAccountsMessage(payeeVoucherCV(voucher), CHAIN_ID, liar)),
              error: null,
            },
          }
        : null,
    );
    try {
      const { client } = payeeClient(fake.url, join(dir, 'node-a', 'node.key'));
      const err = await client.fetchVoucher(fake.url).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(VoucherError);
      expect((err as Error).message).toMatch(/not signed by the settler key/);
      // What `run` does every voucher_interval_s: the forged voucher is logged as worthless and not saved.
      const logged: string[] = [];
      const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(line) });
      const file = join(dir, 'node-a', 'voucher.json');
      expect(await watchVoucherOnce(client, fake.url, file, log)).toBeNull();
      expect(existsSync(file)).toBe(false);
      expect(logged.join('')).toMatch(/guarantees nothing/);
      // A voucher for another payee is refused as well, even when the settler signed it.
      const elsewhere = { ...voucher, payee: DEPLOYER };
      expect(() =>
        client.check(
          toVoucherJson(elsewhere, signAccountsMessage(payeeVoucherCV(elsewhere), CHAIN_ID, fx.signerKey)),
          publicKeyOf(fx.signerKey),
        ),
      ).toThrow(/not this node's/);
    } finally {
      await fake.close();
    }
  });

  it('refuses a settler-signed voucher whose settle-by is beyond the settle window, which the bond may not outlast', async () => {
    const address = principalOfKey(node.publicKey, CHAIN_ID);
    const { client } = payeeClient(signerUrl, join(dir, 'node-far', 'node.key'));
    const [tip, config] = await Promise.all([client.tipHeight(), client.accountsConfig()]);
    const far = { payee: address, market: MARKET, cumulative: 5n, settleBy: BigInt(tip) + config.settleWindow + 50n };
    const fake = await fakeSigner((_method, path) =>
      path === `/api/v1/payees/${address}/voucher`
        ? {
            status: 200,
            body: {
              success: true,
              data: toVoucherJson(far, signAccountsMessage(payeeVoucherCV(far), CHAIN_ID, fx.signerKey)),
              error: null,
            },
          }
        : null,
    );
    try {
      const logged: string[] = [];
      const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(line) });
      const file = join(dir, 'node-far', 'voucher.json');
      expect(await watchVoucherOnce(client, fake.url, file, log)).toBeNull();
      expect(existsSync(file)).toBe(false);
      expect(logged.join('')).toMatch(/beyond the settle window/);
    } finally {
      await fake.close();
    }
  });

  it("checks and saves the signer's voucher; once its settle-by passes unhonoured, challenges it and claims the bond's payment", async () => {
    const keyFile = join(dir, 'node-b', 'node.key');
    const { client, cfg } = payeeClient(signerUrl, keyFile);
    const v = await client.fetchVoucher(signerUrl);
    // The node ran the two prepaid tasks above: 80 % of 2 x 1,000 (the escrow's default shares).
    expect(v.voucher.cumulative).toBeGreaterThan(0n);
    expect(v.voucher.payee).toBe(client.key.address);
    const file = join(dir, 'node-b', 'voucher.json');
    saveVoucher(file, v);
    expect(loadVoucher(file, client, publicKeyOf(fx.signerKey))!.voucher).toEqual(v.voucher);

    // Too early: the signer still has until settle-by; refused before any transaction (node agent and market alike).
    await expect(client.challenge(v)).rejects.toThrow(new RegExp(`until block ${v.voucher.settleBy}`));
    const ctx = marketCtx(keyOf(fx.devnet, 'wallet_5'));
    await expect(challengeVoucher(ctx, file)).rejects.toThrow(/has until block/);

    // The signer never settles (its loops are off): after settle-by the bond pays the shortfall plus the penalty.
    const tip = await client.tipHeight();
    await fx.advance(Number(v.voucher.settleBy) - tip);
    const before = await client.payee();
    expect(before?.credited ?? 0n).toBe(0n);
    const { paid } = await client.challenge(v);
    expect(paid).toBe(2n * v.voucher.cumulative);
    expect(await client.payee()).toMatchObject({
      credited: v.voucher.cumulative,
      claimable: 2n * v.voucher.cumulative,
    });
    // The same voucher again owes nothing.
    await expect(client.challenge(v)).rejects.toThrow(/nothing is owed/);
    const { amount } = await client.claim();
    expect(amount).toBe(2n * v.voucher.cumulative);
    expect(await client.payee()).toMatchObject({ claimable: 0n, claimed: 2n * v.voucher.cumulative });
    expect(existsSync(file)).toBe(true);
    expect(cfg.client.voucher_interval_s).toBe(300);
    expect(fromVoucherJson(JSON.parse(readFileSync(file, 'utf8'))).voucher.cumulative).toBe(v.voucher.cumulative);
  }, 120_000);
});

describe('market account challenge-receipt', () => {
  it('proves from the published leaves that a settled period charged a request its account never signed, and refuses to challenge an honest leaf', async () => {
    const account = randomPrivateKey();
    const accountAddress = principalOfKey(publicKeyOf(account), CHAIN_ID);
    const base = {
      account: accountAddress,
      market: MARKET,
      modelOutput: 1n,
      inputHash: 'ef'.repeat(32),
      maxFee: 3000n,
      expiry: 4_000_000_000n,
      security: 1n,
    };
    const honestReq = { ...base, nonce: 1n };
    const forgedReq = { ...base, nonce: 2n };
    const honest: ReceiptLeaf = {
      request: honestReq,
      requestSignature: signTaskRequest(honestReq, CHAIN_ID, account),
      node: node.publicKey,
      outputHash: '11'.repeat(32),
      fee: 3000n,
    };
    const forged: ReceiptLeaf = {
      request: forgedReq,
      requestSignature: signTaskRequest(forgedReq, CHAIN_ID, randomPrivateKey()),
      node: node.publicKey,
      outputHash: '22'.repeat(32),
      fee: 3000n,
    };
    const leaves = [honest, forged];
    const hashes = leaves.map(leafHash);
    const root = merkleRoot(hashes);
    // A settler that publishes a root over a leaf nobody signed (no account charged: the leaf is the evidence).
    const { res } = await call(
      fx.devnet,
      fx.signerKey,
      MARKET,
      'settle-accounts',
      settleAccountsArgs({ root, tasks: 2, items: [], credits: [] }),
    );
    if ('reason' in res) throw new Error(`settle-accounts refused: ${res.reason}`);
    await fx.devnet.idle();
    expect((await mined(fx.devnet.url, res.txid)).tx_status).toBe('success');
    const ctx = marketCtx(keyOf(fx.devnet, 'wallet_5'));
    const period = (await ctx.chain.accountsConfig()).lastPeriod;
    const ids = leaves.map((l) => prepaidTaskId(accountsMessageHash(taskRequestCV(l.request), CHAIN_ID)));
    const fake = await fakeSigner((_method, path) => {
      const i = ids.findIndex((id) => path === `/api/v1/periods/7/proof/${id}`);
      if (i < 0) return null;
      return {
        status: 200,
        body: {
          success: true,
          error: null,
          data: {
            period: 7,
            chain_period: Number(period),
            task_id: ids[i],
            leaf: toLeafJson(leaves[i]!),
            leaf_hash: hashes[i],
            proof: merkleProof(hashes, i),
            root,
          },
        },
      };
    });
    try {
      const cli = marketCtx(keyOf(fx.devnet, 'wallet_5'), fake.url);
      await expect(challengeReceipt(cli, 7n, ids[0]!)).rejects.toThrow(/nothing to challenge/);
      const out = await json(() => challengeReceipt(cli, 7n, ids[1]!));
      expect(out).toMatchObject({ period: String(period), task_id: ids[1], paid: '6000' });
      expect(out.reason).toMatch(new RegExp(`not signed by ${accountAddress}`));
      expect(await cli.chain.payee(accountAddress)).toMatchObject({ claimable: 6000n, penalties: 6000n });
      // Each leaf is challenged once.
      await expect(challengeReceipt(cli, 7n, ids[1]!)).rejects.toThrow(/ERR_ALREADY_CHALLENGED/);
    } finally {
      await fake.close();
    }
  }, 120_000);
});

describe('PrepaidClient.runMany', () => {
  it('posts a batch, pays every due leaf of it with one authorization per round, and reveals each output checked', async () => {
    const key = keyOf(fx.devnet, 'wallet_8');
    const ctx = marketCtx(key);
    await json(() => deposit(ctx, 100_000n));
    const c = new PrepaidClient({ signerUrl, chainId: CHAIN_ID, market: MARKET, privateKey: key });
    const items = [1, 2, 3].map((x) => {
      const input = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [x] }] }));
      return {
        signed: c.sign({ modelOutput: 1n, inputHash: createHash('sha256').update(input).digest('hex'), maxFee: 1000n }),
        input,
      };
    });
    const running = c.runMany(items, { pollMs: 50, timeoutMs: 60_000 });
    const ran = new Set<string>();
    while (ran.size < 3) ran.add(await nodeRunsOne());
    const { revealed, failed, authorizations } = await running;
    expect(failed).toEqual([]);
    expect(revealed.map((r) => r.taskId).sort()).toEqual(items.map((i) => i.signed.taskId).sort());
    expect(authorizations).toBeGreaterThanOrEqual(1);
    expect(authorizations).toBeLessThanOrEqual(3);
    const view = await c.accountView();
    expect(view).toMatchObject({ owed: '3000', authorization: { cumulative: '3000', nonce: String(authorizations) } });
  }, 120_000);
});
