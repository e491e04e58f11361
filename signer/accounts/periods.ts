/**
 * The period loop's start of a settlement: read the accounts with paid, unsettled receipts,
 * decide whether a period is due, plan it (plan.ts), build `settle-accounts`, and record it —
 * settlements row, prepaid_periods row, receipts' period_id, tasks -> submitted — in one SQL
 * transaction BEFORE broadcasting, as signer/chain/submitter.ts does: after a crash the same
 * transaction is re-checked or re-sent, never built twice for the same receipts.
 */
import { settleAccountsArgs } from '../../protocol/index.js';
import { broadcast, failpoint, type SettlementRow } from '../chain/index.js';
import type { Chain, SignedTx } from '../chain/index.js';
import { prepared } from '../db/index.js';
import { fenced } from '../cluster/index.js';
import type { Services } from '../services.js';
import { transitionFrom } from '../tasks/index.js';
import { accountsContractName } from './chain-state.js';
import type { AccountRow } from './ledger.js';
import { parseShares, planPeriod, type CandidateAccount, type PaidReceipt, type PeriodPlan } from './plan.js';
import { releasePeriod } from './release.js';

/** The `[accounts]` keys the period loop reads (signer/config). */
export type PeriodConfig = Pick<
  Services['config']['accounts'],
  'period_ms' | 'period_amount_ustx' | 'max_accounts_per_tx'
>;

/** The period settings of this signer. */
export function periodConfig(s: Services): PeriodConfig {
  return s.config.accounts;
}

/** Accounts with paid receipts not in any period, and those receipts oldest first. */
export function readCandidates(s: Services): { accounts: CandidateAccount[]; receipts: Map<string, PaidReceipt[]> } {
  const rows = prepared(
    s.store.sqlite,
    `select a.* from prepaid_accounts a where exists (select 1 from prepaid_receipts r where r.account = a.account and r.status = 'paid' and r.period_id is null)`,
  ).all() as AccountRow[];
  const accounts = rows.map(
    (r): CandidateAccount => ({
      account: r.account,
      balance: BigInt(r.balance),
      spent: BigInt(r.spent),
      settledNonce: BigInt(r.settled_nonce),
      authCumulative: BigInt(r.auth_cumulative),
      authNonce: BigInt(r.auth_nonce),
      authRoot: r.auth_root,
      authSignature: r.auth_signature,
      owed: BigInt(r.owed),
      withdrawing: r.withdraw_at !== null,
    }),
  );
  const receipts = new Map<string, PaidReceipt[]>();
  const list = prepared(
    s.store.sqlite,
    "select task_id, account, fee, leaf_hash, shares from prepaid_receipts where status = 'paid' and period_id is null order by paid_at asc, task_id asc",
  ).all() as {
    task_id: string;
    account: string;
    fee: string | null;
    leaf_hash: string | null;
    shares: string | null;
  }[];
  for (const r of list) {
    // A metered receipt (leaf_hash null) is charged without a leaf.
    if (r.fee === null) continue;
    const mine = receipts.get(r.account) ?? [];
    mine.push({ taskId: r.task_id, fee: BigInt(r.fee), leafHash: r.leaf_hash, shares: parseShares(r.shares) });
    receipts.set(r.account, mine);
  }
  return { accounts, receipts };
}

/** What decides whether a period is due, in three aggregate reads (each tick; the full candidates only when due). */
export interface DueSummary {
  /** Paid receipts not in any period, their fees' sum, and the oldest one's paid_at. */
  receipts: number;
  unsettled: bigint;
  oldestPaidAt: number | null;
  /** An account with such receipts asked to withdraw. */
  withdrawing: boolean;
}

/** The due summary from SQLite. */
export function readDueSummary(s: Services): DueSummary {
  const r = prepared(
    s.store.sqlite,
    "select count(*) n, coalesce(sum(cast(fee as integer)), 0) total, min(paid_at) oldest from prepaid_receipts where status = 'paid' and period_id is null",
  ).get() as {
    n: number;
    total: number | bigint;
    oldest: number | null;
  };
  const w = prepared(
    s.store.sqlite,
    "select 1 from prepaid_accounts a where a.withdraw_at is not null and exists (select 1 from prepaid_receipts r where r.account = a.account and r.status = 'paid' and r.period_id is null) limit 1",
  ).get();
  return { receipts: r.n, unsettled: BigInt(r.total), oldestPaidAt: r.oldest, withdrawing: w !== undefined };
}

/**
 * Whether a period is due: an account asked to withdraw (its dispute window is running), the
 * unsettled total reached period_amount_ustx, the oldest paid receipt waited period_ms, or a
 * voucher's settle-by is near (`voucherDue`). Null when not, else why.
 */
export function periodDue(cfg: PeriodConfig, d: DueSummary, now: number, voucherDue = false): string | null {
  if (d.receipts === 0) return null;
  if (d.withdrawing) return 'an account requested a withdrawal';
  if (d.unsettled >= BigInt(cfg.period_amount_ustx)) return `unsettled ${d.unsettled} µSTX reached period_amount_ustx`;
  if (d.oldestPaidAt !== null && now - d.oldestPaidAt >= cfg.period_ms)
    return 'the oldest paid receipt waited period_ms';
  if (voucherDue) return "a payee voucher's settle-by is near";
  return null;
}

/** Stores a built settle-accounts with everything it moves, in one SQL transaction (fenced: the leader's); returns the period id. */
export function recordPeriod(s: Services, tx: SignedTx, plan: PeriodPlan, now = Date.now()): number {
  return fenced(s.store, s.leader.epoch, () => {
    const items = JSON.stringify({
      items: plan.items.map((i) => ({
        ...i,
        cumulative: String(i.cumulative),
        nonce: String(i.nonce),
        spend: String(i.spend),
      })),
      credits: plan.credits.map((c) => ({ payee: c.payee, amount: String(c.amount) })),
      task_ids: plan.taskIds,
      metered_ids: plan.meteredIds,
    });
    const { id } = prepared(
      s.store.sqlite,
      "insert into prepaid_periods (root, tasks, charged, items, txid, status, created_at) values (?, ?, ?, ?, ?, 'built', ?) returning id",
    ).get(plan.root, plan.taskIds.length, plan.charged.toString(), items, tx.txid, now) as { id: number };
    prepared(
      s.store.sqlite,
      "insert into settlements (txid, kind, status, raw, nonce, task_ids, item_count, created_at, updated_at, leader_epoch) values (?, 'settle-accounts', 'built', ?, ?, ?, ?, ?, ?, ?)",
    ).run(
      tx.txid,
      tx.raw,
      tx.nonce.toString(),
      JSON.stringify(plan.taskIds),
      plan.taskIds.length,
      now,
      now,
      s.leader.epoch,
    );
    const claim = prepared(
      s.store.sqlite,
      "update prepaid_receipts set period_id = ? where task_id = ? and status = 'paid' and period_id is null",
    );
    const status = prepared(s.store.sqlite, 'select status from inference_tasks where task_id = ?');
    for (const taskId of plan.taskIds) {
      // Read before an await: a receipt taken meanwhile refuses the whole record.
      if (claim.run(id, taskId).changes !== 1)
        throw new Error(`receipt of task ${taskId} is no longer paid and unsettled`);
      if ((status.get(taskId) as { status: string } | undefined)?.status === 'completed') {
        transitionFrom(
          s.store,
          taskId,
          'completed',
          'submitted',
          { reason: `in settle-accounts tx ${tx.txid} (period ${id})`, txid: tx.txid, now },
          { settlement_txid: tx.txid },
        );
      }
    }
    // Metered receipts: claimed for the period; their direct tasks are never settled on chain.
    for (const taskId of plan.meteredIds)
      if (claim.run(id, taskId).changes !== 1)
        throw new Error(`metered receipt of task ${taskId} is no longer paid and unsettled`);
    return id;
  });
}

/** Plans, builds, records and broadcasts the next period when one is due; returns its txid. */
export async function startPeriod(
  s: Services,
  chain: Chain,
  now = Date.now(),
  voucherDue = false,
): Promise<string | null> {
  const cfg = periodConfig(s);
  const why = periodDue(cfg, readDueSummary(s), now, voucherDue);
  if (!why) return null;
  const candidates = readCandidates(s);
  const { plan, skipped } = planPeriod(candidates.accounts, candidates.receipts, {
    maxItems: cfg.max_accounts_per_tx,
    maxCredits: 200,
  });
  for (const k of skipped) s.log.warn({ account: k.account, reason: k.reason }, 'account left out of this period');
  if (!plan) return null;
  const tx = await chain.buildContractCall(
    accountsContractName(s),
    'settle-accounts',
    settleAccountsArgs({ root: plan.root, tasks: plan.taskIds.length, items: plan.items, credits: plan.credits }),
  );
  const id = recordPeriod(s, tx, plan, now);
  failpoint('period-after-record');
  s.log.info(
    {
      period: id,
      txid: tx.txid,
      accounts: plan.items.length,
      tasks: plan.taskIds.length,
      metered: plan.meteredIds.length,
      charged: plan.charged.toString(),
      why,
    },
    'period recorded',
  );
  const row = prepared(s.store.sqlite, 'select * from settlements where txid = ?').get(tx.txid) as SettlementRow;
  await broadcast(s, chain, row, now, (r, reason, at) => releasePeriod(s, r, 'dropped', reason, at));
  return tx.txid;
}
