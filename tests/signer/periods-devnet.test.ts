/**
 * The period loop against a devnet: real deposits, authorizations signed by account keys, and
 * settle-accounts confirmed on chain by the signer as settler (ensureSettler, as `npm start`
 * does). Payees are credited on chain exactly what the books say; a period whose transaction
 * aborts puts its receipts back; a withdrawal request is settled at once; vouchers verify with
 * the settler's key and promise each payee its cumulative owed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cl, fetchCallReadOnlyFunction } from '@stacks/transactions';
import {
  accountsMessageHash,
  fromVoucherJson,
  payeeVoucherCV,
  publicKeyOf,
  verifyAccountsMessage,
} from '../../protocol/accounts/index.js';
import { amountArgs, decodeAccount, decodePayee, decodePeriod } from '../../protocol/contracts/index.js';
import { accountsTick, followPeriods } from '../../signer/accounts/settler.js';
import { startPeriod } from '../../signer/accounts/periods.js';
import { accountsSection } from '../../signer/dashboard/accounts.js';
import type { StacksApiChain } from '../../signer/chain/stacks-api.js';
import { getTask } from '../../signer/tasks/state.js';
import { createApp, createServices, openDatabase, resolveConfig, type Services } from '../../signer/index.js';
import { ensureSettler, fundAddress } from '../../scripts/lib/funding.js';
import { call, mined } from '../devnet/helpers.js';
import { chainFixture, ESCROW, until, type ChainFixture } from './devnet-fixture.js';
import { body } from './helpers.js';
import { CHAIN_ID, MARKET, TestAccount } from './prepaid-fixture.js';

const NODE = 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG';
const OWNER = 'ST2JHG361ZXG51QTKY2NQCVBPPRRE2KZB1HR05NNC';
const TREASURY = 'ST2NEB84ASENDXKYGJPQW86YXQCEFEX2ZQPG87ND';
const PAYEES = { node: NODE, owner: OWNER, treasury: TREASURY };

let fx: ChainFixture;
let chain: StacksApiChain;
let s: Services;
let app: ReturnType<typeof createApp>;
let dir: string;
/** The account whose first period aborts. */
let carol: TestAccount;

beforeAll(async () => {
  fx = await chainFixture();
  await ensureSettler(fx.devnet.url, fx.signerKey, fx.signerKey);
  chain = fx.chain();
  dir = mkdtempSync(join(tmpdir(), 'periods-devnet-'));
  const config = resolveConfig({
    database: { path: join(dir, 'signer.db') },
    chain: {
      enabled: true,
      network: 'devnet',
      api_url: fx.devnet.url,
      escrow_contract: ESCROW,
      private_key: fx.signerKey,
    },
    accounts: { period_ms: 3_600_000, period_amount_ustx: 5_000 },
    submitter: { drop_after_ms: 1_000 },
  });
  s = createServices({
    config,
    store: openDatabase(config.database.path),
    log: pino({ level: 'silent' }),
    chainId: chain.chainId,
    escrow: ESCROW,
    chain,
  });
  app = createApp(s);
}, 120_000);
afterAll(async () => {
  if (s) {
    await s.verifier.close();
    s.store.close();
  }
  await fx?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

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
const payee = async (who: string) => decodePayee(await read('get-payee', [Cl.principal(who)]));
const onChain = async (who: string) => decodeAccount(await read('get-account', [Cl.principal(who)]));
const sql = <T>(q: string, ...args: unknown[]) => s.store.sqlite.prepare(q).all(...args) as T[];

/** A funded account key that deposited `amount` on chain, with its mirror row. */
async function depositor(amount: bigint): Promise<TestAccount> {
  const a = new TestAccount();
  await fundAddress(fx.devnet.url, a.address, amount + 1_000_000n);
  await deposit(a, amount);
  a.open(s, 0n);
  return a;
}
async function deposit(a: TestAccount, amount: bigint): Promise<void> {
  const { res } = await call(fx.devnet, a.key, MARKET, 'deposit', amountArgs(amount));
  if ('reason' in res) throw new Error(`deposit refused: ${res.reason}`);
  expect((await mined(fx.devnet.url, res.txid)).tx_status).toBe('success');
}
/** Ticks the period loop until `done` holds. */
async function tickUntil(what: string, done: () => boolean) {
  await until(
    what,
    async () => {
      await accountsTick(s, chain);
      await fx.devnet.idle();
      return done();
    },
    60_000,
  );
}
const periods = () =>
  sql<{ id: number; status: string; chain_period: number | null; charged: string; root: string; txid: string }>(
    'select id, status, chain_period, charged, root, txid from prepaid_periods order by id',
  );

describe('settle-accounts on a devnet', () => {
  it('settles two accounts in one transaction: charged on chain, payees credited what the books owe, receipts and tasks settled', async () => {
    const alice = await depositor(100_000n);
    const bob = await depositor(100_000n);
    const ids = [...alice.pay(s, 3, 1000n, PAYEES), ...bob.pay(s, 2, 1500n, PAYEES)];
    await tickUntil('period 1 confirmed', () => periods()[0]?.status === 'confirmed');
    const [p] = periods();
    expect(p).toMatchObject({ chain_period: 1, charged: '6000' });
    const published = decodePeriod(await read('get-period', [Cl.uint(1) as never]));
    expect(published).toMatchObject({ root: p!.root, tasks: 5n, charged: 6000n });
    expect(await onChain(alice.address)).toMatchObject({ balance: 97_000n, spent: 3000n, nonce: 1n });
    expect(await onChain(bob.address)).toMatchObject({ balance: 97_000n, spent: 3000n, nonce: 1n });
    // 80 % / 15 % / 5 % of each fee.
    expect((await payee(NODE))?.credited).toBe(4800n);
    expect((await payee(OWNER))?.credited).toBe(900n);
    expect((await payee(TREASURY))?.credited).toBe(300n);
    for (const who of [NODE, OWNER, TREASURY]) {
      const books = sql<{ owed: string; credited: string }>(
        'select owed, credited from payee_credits where payee = ?',
        who,
      )[0]!;
      expect(books.credited).toBe(books.owed);
      expect(BigInt(books.credited)).toBe((await payee(who))!.credited);
    }
    for (const id of ids) expect(getTask(s.store, id)?.status).toBe('settled');
    expect(sql("select status from prepaid_receipts where status <> 'settled'")).toEqual([]);
    expect(
      sql<{ spent: string; settled_nonce: string }>(
        'select spent, settled_nonce from prepaid_accounts where account = ?',
        alice.address,
      )[0],
    ).toMatchObject({ spent: '3000', settled_nonce: '1' });
    const shown = await body(await app.request(`/api/v1/payees/${NODE}`));
    expect(shown.data).toMatchObject({ owed: '4800', credited: '4800', unsettled: '0', claimable: '4800' });
    // The dashboard reads the settler's bond (ensureSettler posted 10 STX) and the challenges proven (none).
    const section = await accountsSection(s, 10);
    expect(section.settler).toEqual({ bond: '10000000', challenges_proven: '0', unlock_at: '0' });
    expect(section.accounts.find((a) => a.account === alice.address)?.last_settlement).toMatchObject({
      chain_period: 1,
    });
  }, 120_000);

  it('signs vouchers the contract would check: the settler key, this market, the cumulative owed, settle-by = tip + settle-window', async () => {
    const res = await body(await app.request(`/api/v1/payees/${NODE}/voucher`));
    expect(res.success).toBe(true);
    const { voucher, signature } = fromVoucherJson({
      payee: res.data.payee,
      market: res.data.market,
      cumulative: res.data.cumulative,
      settle_by: res.data.settle_by,
      signature: res.data.signature,
    });
    expect(voucher).toMatchObject({ payee: NODE, market: MARKET, cumulative: 4800n });
    expect(res.data.public_key).toBe(publicKeyOf(fx.signerKey));
    expect(verifyAccountsMessage(payeeVoucherCV(voucher), CHAIN_ID, signature, publicKeyOf(fx.signerKey))).toBe(true);
    const tip = await chain.tipHeight();
    expect(Number(voucher.settleBy)).toBeGreaterThanOrEqual(tip + 20 - 1);
    expect(Number(voucher.settleBy)).toBeLessThanOrEqual(tip + 20);
    // The contract hashes the very same voucher.
    const hash = await read('voucher-hash', [
      Cl.tuple({
        payee: Cl.principal(NODE),
        cumulative: Cl.uint(voucher.cumulative),
        'settle-by': Cl.uint(voucher.settleBy),
      }) as never,
    ]);
    expect(Buffer.from((hash as { value: string }).value.replace(/^0x/, ''), 'hex').toString('hex')).toBe(
      accountsMessageHash(payeeVoucherCV(voucher), CHAIN_ID),
    );
  }, 60_000);

  it('a period whose transaction aborts on chain puts its receipts back as paid, and its tasks back to completed', async () => {
    carol = await depositor(1000n);
    // The mirror believes a deposit the chain never saw (fresh, so it is not re-read): settle-accounts will charge above the balance.
    s.store.sqlite
      .prepare('update prepaid_accounts set balance = ?, read_at = ? where account = ?')
      .run('1000000', Date.now() + 3_600_000, carol.address);
    const ids = carol.pay(s, 2, 1000n, PAYEES);
    // 2,000 is below period_amount_ustx: an hour later the oldest receipt has waited period_ms.
    expect(await startPeriod(s, chain)).toBeNull();
    expect(await startPeriod(s, chain, Date.now() + 3_600_000)).not.toBeNull();
    // Only followed (not ticked): a tick would start the same doomed period again at once.
    await until(
      'period 2 failed',
      async () => {
        await followPeriods(s, chain);
        await fx.devnet.idle();
        return periods()[1]?.status === 'failed';
      },
      60_000,
    );
    const failed = periods()[1]!;
    expect(
      sql<{ status: string; reason: string }>('select status, reason from settlements where txid = ?', failed.txid)[0],
    ).toMatchObject({ status: 'aborted', reason: expect.stringMatching(/3021/) });
    expect(sql('select distinct status, period_id from prepaid_receipts where account = ?', carol.address)).toEqual([
      { status: 'paid', period_id: null },
    ]);
    for (const id of ids) expect(getTask(s.store, id)?.status).toBe('completed');
    expect(await onChain(carol.address)).toMatchObject({ balance: 1000n, spent: 0n });
    expect((await payee(NODE))?.credited).toBe(4800n);
  }, 120_000);

  it('an account that requests a withdrawal is settled at once, and the re-read balance settles what it covers', async () => {
    const dave = await depositor(50_000n);
    dave.pay(s, 2, 1000n, PAYEES);
    const before = periods().length;
    // 4,000 unsettled (dave's and carol's) is below period_amount_ustx and young: no period yet.
    s.store.sqlite.prepare('update prepaid_accounts set read_at = 0').run();
    await accountsTick(s, chain);
    expect(periods().length).toBe(before);
    const { res } = await call(fx.devnet, dave.key, MARKET, 'request-withdrawal', amountArgs(10_000n));
    if ('reason' in res) throw new Error(res.reason);
    await mined(fx.devnet.url, res.txid);
    // Mirrors older than 10 s are re-read: the withdrawal request and carol's real balance are seen.
    s.store.sqlite.prepare('update prepaid_accounts set read_at = 0').run();
    await tickUntil('withdrawal settled', () => periods().length > before && periods().at(-1)!.status === 'confirmed');
    const last = periods().at(-1)!;
    const items = JSON.parse(
      sql<{ items: string }>('select items from prepaid_periods where id = ?', last.id)[0]!.items,
    ) as { items: { account: string; spend: string }[] };
    // The withdrawing account first; carol, whose balance covers one of her six receipts, settles that one.
    expect(items.items.map((i) => [i.account, i.spend])).toEqual([
      [dave.address, '2000'],
      [carol.address, '1000'],
    ]);
    expect(await onChain(dave.address)).toMatchObject({ spent: 2000n, balance: 48_000n, withdrawAmount: 10_000n });
    expect(
      sql<{ n: number }>(
        "select count(*) n from prepaid_receipts where account = ? and status = 'paid'",
        carol.address,
      )[0]!.n,
    ).toBe(1);
  }, 120_000);
});
