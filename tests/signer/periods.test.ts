/**
 * The period loop without a chain: planning (which accounts, what spend, which leaves, what
 * credits), when a period is due, and the books a recorded, confirmed or failed settle-accounts
 * leaves in SQLite; and the public period routes (data availability) whose proofs must lead to
 * the published root.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cl, serializeCV } from '@stacks/transactions';
import { EMPTY_ROOT, fromLeafJson, leafHash, merkleRoot, rootFromProof } from '../../protocol/accounts/index.js';
import { planPeriod, receiptsToSettle, type CandidateAccount, type PaidReceipt } from '../../signer/accounts/plan.js';
import { periodDue, readCandidates, readDueSummary, recordPeriod } from '../../signer/accounts/periods.js';
import { releasePeriod } from '../../signer/accounts/release.js';
import { confirmPeriod } from '../../signer/accounts/settler.js';
import type { SettlementRow } from '../../signer/chain/submitter.js';
import { getTask } from '../../signer/tasks/state.js';
import { body, makeSigner, type TestSigner } from './helpers.js';
import { TestAccount } from './prepaid-fixture.js';

const NODE = 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG';
const OWNER = 'ST2JHG361ZXG51QTKY2NQCVBPPRRE2KZB1HR05NNC';
const TREASURY = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM';
const PAYEES = { node: NODE, owner: OWNER, treasury: TREASURY };

function account(a: Partial<CandidateAccount> & { account: string }): CandidateAccount {
  return {
    balance: 10_000n,
    spent: 0n,
    settledNonce: 0n,
    authCumulative: 1_000n,
    authNonce: 1n,
    authRoot: EMPTY_ROOT,
    authSignature: 'aa'.repeat(65),
    owed: 1_000n,
    withdrawing: false,
    ...a,
  };
}
function receipt(taskId: string, fee: bigint, payees: [string, bigint][] = [[NODE, fee]]): PaidReceipt {
  return {
    taskId,
    fee,
    leafHash: taskId.padStart(64, '0'),
    shares: payees.map(([payee, amount]) => ({ payee, amount })),
  };
}

describe('planning a period', () => {
  it('charges each account the fees of its receipts, credits the shares, and the credits add up to the charge', () => {
    const a = account({ account: 'SP1A', owed: 300n, authCumulative: 500n, spent: 0n });
    const b = account({ account: 'SP1B', owed: 250n, authCumulative: 250n, spent: 50n, authNonce: 4n });
    const receipts = new Map([
      [
        'SP1A',
        [
          receipt('1', 100n, [
            [NODE, 80n],
            [OWNER, 20n],
          ]),
          receipt('2', 200n, [
            [NODE, 160n],
            [TREASURY, 40n],
          ]),
        ],
      ],
      [
        'SP1B',
        [
          receipt('3', 200n, [
            [NODE, 150n],
            [OWNER, 50n],
          ]),
        ],
      ],
    ]);
    const { plan, skipped } = planPeriod([b, a], receipts, { maxItems: 200, maxCredits: 200 });
    expect(skipped).toEqual([]);
    // The most owed first: A (300 unsettled) before B (200).
    expect(plan!.items.map((i) => [i.account, i.spend, i.nonce])).toEqual([
      ['SP1A', 300n, 1n],
      ['SP1B', 250n, 4n],
    ]);
    expect(plan!.taskIds).toEqual(['1', '2', '3']);
    expect(plan!.root).toBe(merkleRoot(plan!.leafHashes));
    expect(plan!.charged).toBe(500n);
    expect(Object.fromEntries(plan!.credits.map((c) => [c.payee, c.amount]))).toEqual({
      [NODE]: 390n,
      [OWNER]: 70n,
      [TREASURY]: 40n,
    });
    expect(plan!.credits.reduce((t, c) => t + BigInt(c.amount), 0n)).toBe(plan!.charged);
  });

  it('puts an account that asked to withdraw first, and stops at max accounts per transaction', () => {
    const accounts = ['SP1A', 'SP1B', 'SP1C'].map((id, i) =>
      account({ account: id, owed: BigInt(100 * (i + 1)), withdrawing: id === 'SP1A' }),
    );
    const receipts = new Map(
      accounts.map((a) => [a.account, [receipt(a.account.slice(-1).charCodeAt(0).toString(), a.owed)]]),
    );
    const { plan } = planPeriod(accounts, receipts, { maxItems: 2, maxCredits: 200 });
    expect(plan!.items.map((i) => i.account)).toEqual(['SP1A', 'SP1C']);
  });

  it('settles only the receipts the cap and the balance cover, and stops at a receipt whose shares do not add up to its fee', () => {
    const list = [receipt('1', 100n), receipt('2', 100n), receipt('3', 100n)];
    expect(
      receiptsToSettle(account({ account: 'SP1A', owed: 300n, authCumulative: 200n }), list).take.map((r) => r.taskId),
    ).toEqual(['1', '2']);
    expect(
      receiptsToSettle(account({ account: 'SP1A', owed: 300n, authCumulative: 300n, balance: 150n }), list).take.map(
        (r) => r.taskId,
      ),
    ).toEqual(['1']);
    const bad = receiptsToSettle(account({ account: 'SP1A', owed: 300n, authCumulative: 300n }), [
      list[0]!,
      receipt('9', 100n, [[NODE, 99n]]),
      list[2]!,
    ]);
    expect(bad.take.map((r) => r.taskId)).toEqual(['1']);
    expect(bad.reason).toMatch(/task 9 splits 99 .* fee is 100/);
  });

  it('leaves out accounts with no authorization and those whose payees pass the credit limit; nothing to do is null', () => {
    const none = account({ account: 'SP1A', authSignature: null });
    const many = account({ account: 'SP1B', owed: 300n });
    const receipts = new Map([
      ['SP1A', [receipt('1', 100n)]],
      [
        'SP1B',
        [
          receipt('2', 300n, [
            [NODE, 100n],
            [OWNER, 100n],
            [TREASURY, 100n],
          ]),
        ],
      ],
    ]);
    const { plan, skipped } = planPeriod([none, many], receipts, { maxItems: 200, maxCredits: 2 });
    expect(plan).toBeNull();
    expect(skipped.map((k) => k.account).sort()).toEqual(['SP1A', 'SP1B']);
  });
});

let t: TestSigner;
beforeEach(() => {
  t = makeSigner();
});
afterEach(() => t.close());

const cfg = { period_ms: 60_000, period_amount_ustx: 10_000, max_accounts_per_tx: 200 };
const fakeTx = (n: number) => ({ txid: n.toString(16).padStart(64, '0'), nonce: BigInt(n), raw: '00' });
const settlement = (txid: string) =>
  t.s.store.sqlite.prepare('select * from settlements where txid = ?').get(txid) as SettlementRow;

describe('when a period is due', () => {
  it('after period_ms since the oldest paid receipt, at period_amount_ustx, or at once for a withdrawal', () => {
    const alice = new TestAccount();
    alice.open(t.s);
    expect(periodDue(cfg, readDueSummary(t.s), Date.now())).toBeNull();
    alice.pay(t.s, 2, 1000n, PAYEES, undefined, 1_000);
    const c = readDueSummary(t.s);
    expect(c).toEqual({ receipts: 2, unsettled: 2000n, oldestPaidAt: 1_000, withdrawing: false });
    expect(periodDue(cfg, c, 1_000 + 59_999)).toBeNull();
    expect(periodDue(cfg, c, 1_000 + 60_000)).toMatch(/period_ms/);
    expect(periodDue({ ...cfg, period_amount_ustx: 2000 }, c, 1_000)).toMatch(/period_amount_ustx/);
    t.s.store.sqlite.prepare('update prepaid_accounts set withdraw_at = 99').run();
    expect(periodDue(cfg, readDueSummary(t.s), 1_000)).toMatch(/withdrawal/);
    expect(periodDue(cfg, { ...c, oldestPaidAt: 1_000 }, 2_000, true)).toMatch(/voucher/);
  });
});

describe('the books of a period', () => {
  function recordOne() {
    const alice = new TestAccount();
    alice.open(t.s, 50_000n);
    const ids = alice.pay(t.s, 3, 1000n, PAYEES);
    const c = readCandidates(t.s);
    const { plan } = planPeriod(c.accounts, c.receipts, { maxItems: 200, maxCredits: 200 });
    const tx = fakeTx(1);
    const id = recordPeriod(t.s, tx, plan!, 5_000);
    return { alice, ids, plan: plan!, tx, id };
  }
  const receipts = () =>
    t.s.store.sqlite.prepare('select status, period_id from prepaid_receipts order by task_id').all();

  it('records the period, the transaction and the receipts in it before any broadcast; tasks are submitted', () => {
    const { ids, tx, id, plan } = recordOne();
    expect(settlement(tx.txid)).toMatchObject({
      kind: 'settle-accounts',
      status: 'built',
      task_ids: JSON.stringify(plan.taskIds),
    });
    expect(
      t.s.store.sqlite.prepare('select status, txid, tasks, charged, root from prepaid_periods where id = ?').get(id),
    ).toEqual({ status: 'built', txid: tx.txid, tasks: 3, charged: '3000', root: plan.root });
    expect(receipts()).toEqual(ids.map(() => ({ status: 'paid', period_id: id })));
    for (const task of ids)
      expect(getTask(t.s.store, task)).toMatchObject({ status: 'submitted', settlement_txid: tx.txid });
    // A receipt in a period is not planned again.
    expect(readCandidates(t.s).accounts).toEqual([]);
  });

  it('on confirmation: receipts and tasks settled, payees credited, the account mirror advanced, the contract period kept', () => {
    const { alice, ids, tx, id } = recordOne();
    const result = serializeCV(Cl.ok(Cl.tuple({ period: Cl.uint(7), charged: Cl.uint(3000) })));
    confirmPeriod(t.s, settlement(tx.txid), 42, result, 6_000);
    expect(
      t.s.store.sqlite.prepare('select status, chain_period, confirmed_at from prepaid_periods where id = ?').get(id),
    ).toEqual({ status: 'confirmed', chain_period: 7, confirmed_at: 6_000 });
    expect(receipts()).toEqual(ids.map(() => ({ status: 'settled', period_id: id })));
    for (const task of ids) expect(getTask(t.s.store, task)?.status).toBe('settled');
    expect(t.s.store.sqlite.prepare('select payee, owed, credited from payee_credits order by payee').all()).toEqual([
      { payee: TREASURY, owed: '150', credited: '150' },
      { payee: NODE, owed: '2400', credited: '2400' },
      { payee: OWNER, owed: '450', credited: '450' },
    ]);
    expect(
      t.s.store.sqlite
        .prepare('select balance, spent, settled_nonce from prepaid_accounts where account = ?')
        .get(alice.address),
    ).toEqual({ balance: '47000', spent: '3000', settled_nonce: '1' });
  });

  it('on abort: the receipts leave the period still paid, the tasks go back to completed, and the next plan carries them again', () => {
    const { ids, tx, id, plan } = recordOne();
    t.s.store.sqlite.prepare('update prepaid_accounts set read_at = 5000').run();
    releasePeriod(t.s, settlement(tx.txid), 'aborted', '(err u3021)', 6_000);
    expect(settlement(tx.txid)).toMatchObject({ status: 'aborted', reason: '(err u3021)' });
    expect(t.s.store.sqlite.prepare('select status from prepaid_periods where id = ?').get(id)).toEqual({
      status: 'failed',
    });
    expect(receipts()).toEqual(ids.map(() => ({ status: 'paid', period_id: null })));
    for (const task of ids)
      expect(getTask(t.s.store, task)).toMatchObject({ status: 'completed', settlement_txid: null });
    // Its accounts are read from the chain again before the next period.
    expect(t.s.store.sqlite.prepare('select read_at from prepaid_accounts').all()).toEqual([{ read_at: null }]);
    const c = readCandidates(t.s);
    expect(planPeriod(c.accounts, c.receipts, { maxItems: 200, maxCredits: 200 }).plan?.root).toBe(plan.root);
  });

  it('serves periods, their leaves, and proofs that lead to the published root', async () => {
    const { id, plan, ids } = recordOne();
    const list = await body(await t.app.request('/api/v1/periods'));
    expect(list.data.periods).toMatchObject([{ id, root: plan.root, tasks: 3, charged: '3000', status: 'built' }]);
    const detail = await body(await t.app.request(`/api/v1/periods/${id}`));
    expect(detail.data.leaf_hashes).toEqual(plan.leafHashes);
    expect(detail.data.credits.reduce((s: bigint, c: { amount: string }) => s + BigInt(c.amount), 0n)).toBe(3000n);
    for (const task of ids) {
      const res = await body(await t.app.request(`/api/v1/periods/${id}/proof/${task}`));
      expect(res.success).toBe(true);
      expect(res.data.status).toBe('built');
      expect(leafHash(fromLeafJson(res.data.leaf))).toBe(res.data.leaf_hash);
      expect(rootFromProof(res.data.leaf_hash, res.data.proof)).toBe(plan.root);
    }
    expect((await t.app.request(`/api/v1/periods/${id}/proof/12345`)).status).toBe(404);
    expect((await t.app.request('/api/v1/periods/99')).status).toBe(404);
    expect((await body(await t.app.request('/api/v1/periods?limit=0'))).error).toMatch(/limit/);
    expect((await body(await t.app.request(`/api/v1/periods?after=${id}`))).data.periods).toEqual([]);
  });

  it('lists the period and payee routes in /openapi.json', async () => {
    const doc = (await (await t.app.request('/openapi.json')).json()) as { paths: Record<string, unknown> };
    for (const p of [
      '/api/v1/periods',
      '/api/v1/periods/{id}',
      '/api/v1/periods/{id}/proof/{task_id}',
      '/api/v1/payees/{principal}',
      '/api/v1/payees/{principal}/voucher',
    ])
      expect(doc.paths).toHaveProperty([p]);
  });

  it('shows a payee its books; a voucher needs a chain', async () => {
    recordOne();
    const res = await body(await t.app.request(`/api/v1/payees/${NODE}`));
    expect(res.data).toMatchObject({
      payee: NODE,
      owed: '2400',
      credited: '0',
      unsettled: '2400',
      claimable: null,
      chain: null,
    });
    const v = await t.app.request(`/api/v1/payees/${NODE}/voucher`);
    expect(v.status).toBe(503);
    expect((await t.app.request('/api/v1/payees/nobody')).status).toBe(400);
  });
});
