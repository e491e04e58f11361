/**
 * The dashboard's Accounts section on seeded rows: each account's deposit, unsettled spend and
 * last confirmed settlement, the periods list, and the page's tables; the settler's bond is
 * absent (not invented) without a chain, and its read failure is said when the chain is away.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Cl, randomPrivateKey, serializeCV } from '@stacks/transactions';
import { accountViews } from '../../signer/dashboard/accounts.js';
import { dashboardSnapshot } from '../../signer/dashboard/index.js';
import { planPeriod } from '../../signer/accounts/plan.js';
import { readCandidates, recordPeriod } from '../../signer/accounts/periods.js';
import { confirmPeriod } from '../../signer/accounts/settler.js';
import type { SettlementRow } from '../../signer/chain/submitter.js';
import { StacksApiChain } from '../../signer/chain/stacks-api.js';
import { createServices, openDatabase, resolveConfig } from '../../signer/index.js';
import { ESCROW, body, makeSigner, testDatabaseLocation, type TestSigner } from './helpers.js';
import { adminSession } from './console-helpers.js';
import { TestAccount } from './prepaid-fixture.js';

const PAYEES = {
  node: 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG',
  owner: 'ST2JHG361ZXG51QTKY2NQCVBPPRRE2KZB1HR05NNC',
  treasury: 'ST2NEB84ASENDXKYGJPQW86YXQCEFEX2ZQPG87ND',
};
const NOW = Date.UTC(2026, 0, 5, 12, 0, 30);

let t: TestSigner;
beforeEach(() => {
  t = makeSigner();
});
afterEach(() => t.close());

/** Alice: 3 receipts settled in period 1 and 2 more paid since; Bob: 1 paid, never settled. */
function seed(): { alice: TestAccount; bob: TestAccount; period: number; txid: string } {
  const alice = new TestAccount();
  const bob = new TestAccount();
  alice.open(t.s, 50_000n);
  bob.open(t.s, 7_000_000n);
  alice.pay(t.s, 3, 1000n, PAYEES);
  const c = readCandidates(t.s);
  const { plan } = planPeriod(c.accounts, c.receipts, { maxItems: 200, maxCredits: 200 });
  const txid = 'ab'.repeat(32);
  const period = recordPeriod(t.s, { txid, nonce: 1n, raw: '00' }, plan!, NOW - 2_000);
  const row = t.s.store.sqlite.prepare('select * from settlements where txid = ?').get(txid) as SettlementRow;
  confirmPeriod(
    t.s,
    row,
    12,
    serializeCV(Cl.ok(Cl.tuple({ period: Cl.uint(1), charged: Cl.uint(3000) }))),
    NOW - 1_000,
  );
  alice.pay(t.s, 2, 1000n, PAYEES);
  bob.pay(t.s, 1, 2500n, PAYEES);
  t.s.store.sqlite.prepare('update prepaid_accounts set withdraw_at = 140 where account = ?').run(bob.address);
  return { alice, bob, period, txid };
}

describe('accounts section', () => {
  it("shows each account's deposit, unsettled spend and last settlement, the most unsettled first", () => {
    const { alice, bob, period, txid } = seed();
    expect(accountViews(t.s)).toEqual([
      {
        account: bob.address,
        balance: '7000000',
        spent: '0',
        unsettled: '2500',
        reserved: '0',
        withdraw_at: 140,
        last_settlement: null,
      },
      {
        account: alice.address,
        balance: '47000',
        spent: '3000',
        unsettled: '2000',
        reserved: '0',
        withdraw_at: null,
        last_settlement: { period, chain_period: 1, txid, at: NOW - 1_000 },
      },
    ]);
  });

  it('is in the snapshot with the periods, and no settler without a chain', async () => {
    const { period } = seed();
    const snap = await dashboardSnapshot(t.s, NOW);
    expect(snap.accounts.periods).toMatchObject([
      { id: period, status: 'confirmed', chain_period: 1, tasks: 3, charged: '3000' },
    ]);
    expect(snap.accounts.accounts).toHaveLength(2);
    expect([snap.accounts.settler, snap.accounts.settler_error]).toEqual([null, null]);
  });

  it("says the settler's bond could not be read when the chain is away, and shows the rest", async () => {
    const store = openDatabase(testDatabaseLocation());
    const chain = new StacksApiChain({
      apiUrl: 'http://127.0.0.1:9',
      network: 'devnet',
      escrowContract: ESCROW,
      privateKey: randomPrivateKey(),
    });
    const s = createServices({
      config: resolveConfig({ log: { level: 'silent' } }),
      store,
      chain,
      log: pino({ level: 'silent' }),
    });
    try {
      new TestAccount().open(s, 5n);
      const snap = await dashboardSnapshot(s, NOW);
      expect(snap.accounts.settler).toBeNull();
      expect(snap.accounts.settler_error).toMatch(/bond could not be read from the chain/);
      expect(snap.accounts.accounts.map((a) => a.balance)).toEqual(['5']);
    } finally {
      await s.verifier.close();
      store.close();
    }
  });

  it('renders the Accounts tables on the console page and serves them in the admin JSON', async () => {
    const { alice, period } = seed();
    const { headers } = await adminSession(t);
    const html = await (await t.app.request('/console', { headers })).text();
    const section = html.slice(html.indexOf('<section id="accounts">'));
    expect(section).toContain('<h2>Accounts</h2>');
    expect(section).toContain(alice.address);
    expect(section).toContain('0.047 STX');
    expect(section).toContain(`href="/api/v1/periods/${period}"`);
    expect(section).toMatch(/id="periods-table"/);
    const { data } = await body(await t.app.request('/api/v1/admin/dashboard', { headers }));
    expect(data.accounts.accounts.map((a: { account: string }) => a.account)).toContain(alice.address);
  });
});
