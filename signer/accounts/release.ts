/**
 * Releasing a failed settle-accounts: its receipts leave the period (still paid) and its tasks go
 * back to completed, so the next period carries them again. Apart from settler.ts because the
 * period loop (periods.ts) releases a period it could not broadcast, and settler.ts starts periods.
 */
import { setStatus, type SettlementRow } from '../chain/index.js';
import { atomic, prepared } from '../db/index.js';
import type { Services } from '../services.js';
import { transitionFrom } from '../tasks/index.js';

/** What a period row stored of its items and credits (decimal strings). */
export interface StoredPeriod {
  items: {
    account: string;
    cumulative: string;
    nonce: string;
    receiptsRoot: string;
    signature: string;
    spend: string;
  }[];
  credits: { payee: string; amount: string }[];
  task_ids: string[];
  /** Metered receipts charged without a leaf (absent in periods recorded before them). */
  metered_ids?: string[];
}

/** The period a settle-accounts transaction carries, if it is one. */
export function periodOf(s: Services, txid: string): { id: number; items: string } | undefined {
  return prepared(s.store.sqlite, 'select id, items from prepaid_periods where txid = ?').get(txid) as
    | { id: number; items: string }
    | undefined;
}

/** The tasks a settlement transaction holds in submitted. */
export function submittedTasks(s: Services, txid: string): string[] {
  return (
    prepared(
      s.store.sqlite,
      "select task_id from inference_tasks where settlement_txid = ? and status = 'submitted'",
    ).all(txid) as { task_id: string }[]
  ).map((r) => r.task_id);
}

/** Takes a failed settle-accounts' receipts out of its period and its tasks back to completed. */
export function releasePeriod(
  s: Services,
  row: SettlementRow,
  status: 'dropped' | 'aborted',
  reason: string,
  now = Date.now(),
): void {
  const period = periodOf(s, row.txid);
  atomic(s.store.sqlite, () => {
    setStatus(s, row.txid, status, { reason, broadcasts: row.broadcasts }, now);
    if (period) {
      prepared(s.store.sqlite, "update prepaid_periods set status = 'failed' where id = ?").run(period.id);
      prepared(
        s.store.sqlite,
        "update prepaid_receipts set period_id = null where period_id = ? and status = 'paid'",
      ).run(period.id);
      // The mirror may be what misled the plan (a balance or nonce the chain no longer has): read them again before the next one.
      const forget = prepared(s.store.sqlite, 'update prepaid_accounts set read_at = null where account = ?');
      for (const it of (JSON.parse(period.items) as StoredPeriod).items) forget.run(it.account);
    }
    for (const id of submittedTasks(s, row.txid))
      transitionFrom(
        s.store,
        id,
        'submitted',
        'completed',
        { reason: `settle-accounts tx ${row.txid} ${status}: ${reason}; in the next period`, txid: row.txid, now },
        { settlement_txid: null },
      );
  });
  s.metrics.settlementTxs.inc({ kind: 'settle-accounts', outcome: status });
  s.log.warn({ txid: row.txid, period: period?.id, status, reason }, 'period failed; its receipts go in the next one');
}
