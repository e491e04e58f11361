/**
 * Prepaid pieces that need no chain: the price formula (tiers, demand, never below the on-chain
 * price), the split of a fee among payees (adds up to the fee, dust to the treasury, payees
 * merged), routes refusing on a signer without accounts, the body limit of POST /api/v1/requests,
 * and the OpenAPI document listing the routes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes, randomInt } from 'node:crypto';
import { randomPrivateKey } from '@stacks/transactions';
import {
  encodeAccountsMessage,
  principalOfKey,
  publicKeyOf,
  taskRequestCV,
  toTaskRequestJson,
  type TaskRequest,
} from '../../protocol/accounts/index.js';
import { encodeTaskRequest } from '../../signer/accounts/encode.js';
import { demandBps, priceOf, sharesOf, tierDiscountBps } from '../../signer/accounts/index.js';
import { resolveConfig } from '../../signer/index.js';
import { requestsBodyBytes } from '../../signer/http/routes/requests.js';
import { body, makeSigner, type TestSigner } from './helpers.js';

const CHAIN_ID = 0x80000000;
const cfg = resolveConfig({}).accounts;

describe('prices', () => {
  it('applies the highest tier reached and the demand surcharge by queue depth, never below the on-chain price', () => {
    const tiers = [
      { volume_ustx: 1_000_000_000, discount_bps: 1_000 },
      { volume_ustx: 100, discount_bps: 500 },
    ];
    expect(tierDiscountBps(tiers, 99n)).toBe(0);
    expect(tierDiscountBps(tiers, 100n)).toBe(500);
    expect(tierDiscountBps(tiers, 1_000_000_000n)).toBe(1_000);
    expect(demandBps(cfg, 0)).toBe(0);
    expect(demandBps(cfg, 1_000)).toBe(0);
    expect(demandBps(cfg, 1_001)).toBe(1_000);
    expect(demandBps(cfg, 2_500)).toBe(2_000);
    expect(demandBps(cfg, 1_000_000)).toBe(cfg.demand_max_bps);
    // A discount alone never takes the price below the chain's.
    expect(priceOf(1_000n, 0, 1_000)).toBe(1_000n);
    // +20 % demand, -10 % tier: 1000 x 1.2 x 0.9 = 1080.
    expect(priceOf(1_000n, 2_000, 1_000)).toBe(1_080n);
    expect(priceOf(1_000n, 10_000, 0)).toBe(2_000n);
  });
});

describe('fee shares', () => {
  const ctx = {
    expiry: '0',
    owner: 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG',
    owner_bps: '1000',
    treasury_bps: '500',
    treasury: 'ST2JHG361ZXG51QTKY2NQCVBPPRRE2KZB1HR05NNC',
  };
  const k1 = `02${'11'.repeat(32)}`;
  const k2 = `03${'22'.repeat(32)}`;
  const k3 = `02${'33'.repeat(32)}`;
  const sum = (shares: { amount: string }[]) => shares.reduce((t, x) => t + BigInt(x.amount), 0n);

  it('splits a fee as the escrow does, the node share among the majority, dust to the treasury; the parts add up to the fee', () => {
    const one = sharesOf(1_000n, ctx, [k1], CHAIN_ID);
    expect(one).toEqual([
      { payee: principalOfKey(k1, CHAIN_ID), amount: '850' },
      { payee: ctx.owner, amount: '100' },
      { payee: ctx.treasury, amount: '50' },
    ]);
    const three = sharesOf(1_001n, ctx, [k1, k2, k3], CHAIN_ID);
    expect(sum(three)).toBe(1_001n);
    // node cut 1001 - 100 - 50 = 851, 283 each, 2 of dust to the treasury.
    expect(three.filter((x) => x.amount === '283')).toHaveLength(3);
    expect(three.find((x) => x.payee === ctx.treasury)!.amount).toBe('52');
    for (const fee of [0n, 1n, 7n, 999_999_937n]) expect(sum(sharesOf(fee, ctx, [k1, k2], CHAIN_ID))).toBe(fee);
  });

  it('merges payees that coincide (the owner is the treasury)', () => {
    const merged = sharesOf(1_000n, { ...ctx, treasury: ctx.owner }, [k1], CHAIN_ID);
    expect(merged).toEqual([
      { payee: principalOfKey(k1, CHAIN_ID), amount: '850' },
      { payee: ctx.owner, amount: '150' },
    ]);
  });
});

describe('a signer without accounts', () => {
  let t: TestSigner;
  afterEach(() => t.close());

  it('answers 404 accounts_disabled on every prepaid route', async () => {
    t = makeSigner();
    expect(t.s.accounts).toBeNull();
    const account = 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG';
    const calls: [string, RequestInit?][] = [
      [
        '/api/v1/requests',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests: [{}] }) },
      ],
      [`/api/v1/accounts/${account}`],
      [`/api/v1/quote?account=${account}&model_output=1`],
      ['/api/v1/requests/2535301200456458802993406410753/result'],
    ];
    for (const [path, init] of calls) {
      const res = await t.app.request(path, init);
      expect(res.status, path).toBe(404);
      expect((await body(res)).code, path).toBe('accounts_disabled');
    }
  });

  it('sizes the body limit of POST /api/v1/requests for max_requests_per_call inline inputs, and refuses a larger body with 413', async () => {
    t = makeSigner({ accounts: { max_requests_per_call: 2, max_inline_input_bytes: 3_000 } });
    const limit = requestsBodyBytes(t.s.config.accounts);
    expect(limit).toBe(2 * (2_048 + 4_000));
    expect(requestsBodyBytes(cfg)).toBeGreaterThan(100 * 87_000);
    const big = JSON.stringify({ requests: [{ pad: 'x'.repeat(limit) }] });
    const res = await t.app.request('/api/v1/requests', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(big.length) },
      body: big,
    });
    expect(res.status).toBe(413);
    expect((await body(res)).error).toMatch(/max_requests_per_call/);
  });

  it('lists the prepaid routes in /openapi.json, the reads of results and due leaves requester-signed', async () => {
    t = makeSigner();
    const doc = (await (await t.app.request('/openapi.json')).json()) as {
      paths: Record<string, Record<string, { security?: unknown }>>;
    };
    for (const [p, m] of [
      ['/api/v1/requests', 'post'],
      ['/api/v1/requests/{task_id}/result', 'get'],
      ['/api/v1/accounts/{account}', 'get'],
      ['/api/v1/accounts/{account}/due', 'get'],
      ['/api/v1/accounts/{account}/authorizations', 'post'],
      ['/api/v1/quote', 'get'],
    ]) {
      expect(doc.paths[p]?.[m], `${m} ${p}`).toBeDefined();
    }
    expect(doc.paths['/api/v1/requests/{task_id}/result']!.get!.security).toEqual([{ requesterSignature: [] }]);
    expect(doc.paths['/api/v1/accounts/{account}/due']!.get!.security).toEqual([{ requesterSignature: [] }]);
  });
});

describe('request encoding', () => {
  it('builds the same SIP-018 bytes as stacks.js for any request', () => {
    const key = randomPrivateKey();
    const account = principalOfKey(publicKeyOf(key), CHAIN_ID);
    for (let i = 0; i < 50; i++) {
      const r: TaskRequest = {
        account: i % 2 ? account : 'SP2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKNRV9EJ7',
        market:
          i % 3
            ? 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.accounts'
            : 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.a-much-longer-market-name',
        modelOutput: BigInt(randomInt(1_000_000)),
        inputHash: randomBytes(32).toString('hex'),
        maxFee: i === 0 ? (1n << 128n) - 1n : BigInt(randomInt(281474976710655)),
        expiry: BigInt(randomInt(2_000_000_000)),
        security: [1n, 3n, 5n][i % 3]!,
        nonce: BigInt(`0x${randomBytes(15).toString('hex')}`),
      };
      expect(
        encodeTaskRequest(toTaskRequestJson(r), CHAIN_ID).equals(encodeAccountsMessage(taskRequestCV(r), CHAIN_ID)),
      ).toBe(true);
    }
    // Around the encoder's switch from Number to BigInt (14 to 15 digits) and the ends of a uint.
    for (const v of [
      0n,
      1n,
      99_999_999_999_999n,
      100_000_000_000_000n,
      (1n << 48n) - 1n,
      1n << 48n,
      (1n << 64n) - 1n,
      1n << 64n,
      (1n << 128n) - 1n,
    ]) {
      const r: TaskRequest = {
        account,
        market: 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.accounts',
        modelOutput: v,
        inputHash: randomBytes(32).toString('hex'),
        maxFee: v,
        expiry: v,
        security: 1n,
        nonce: v,
      };
      expect(
        encodeTaskRequest(toTaskRequestJson(r), CHAIN_ID).equals(encodeAccountsMessage(taskRequestCV(r), CHAIN_ID)),
      ).toBe(true);
    }
  });
});
