/**
 * Following settle-accounts transactions to their end, and the period loop's tick. On
 * confirmation: the period's receipts and tasks are settled, payees credited, the account
 * mirrors advanced to the spend and nonce settled, and the period gets the contract's id. On
 * abort or drop: the receipts leave the period (still paid) and the tasks go back to completed,
 * so the next period carries them again. Each outcome is one SQL transaction.
 */
import { deserializeCV } from '@stacks/transactions';
import { decodeSettled } from '../../protocol/index.js';
import { followTransaction, refusedWrite, setStatus, type SettlementRow, type TxOutcome } from '../chain/index.js';
import type { Chain } from '../chain/index.js';
import { prepared } from '../db/index.js';
import { fenced } from '../cluster/index.js';
import type { Services } from '../services.js';
import { transitionFrom } from '../tasks/index.js';
import { refreshAccounts } from './chain-state.js';
import { periodConfig, startPeriod } from './periods.js';
import { periodOf, releasePeriod, submittedTasks, type StoredPeriod } from './release.js';
import { voucherDeadlineNear } from './vouchers.js';

/** Applies a confirmed settle-accounts. */
export function confirmPeriod(
  s: Services,
  row: SettlementRow,
  blockHeight: number,
  result: string | undefined,
  now = Date.now(),
): void {
  const period = periodOf(s, row.txid);
  let chainPeriod: number | null = null;
  try {
    if (result) chainPeriod = Number(decodeSettled(deserializeCV(result)).period);
  } catch (err) {
    s.log.warn({ err, txid: row.txid }, 'settle-accounts result not decoded; chain_period left empty');
  }
  fenced(s.store, s.leader.epoch, () => {
    setStatus(s, row.txid, 'confirmed', { block_height: blockHeight }, now);
    if (!period) return;
    const stored = JSON.parse(period.items) as StoredPeriod;
    prepared(
      s.store.sqlite,
      "update prepaid_periods set status = 'confirmed', chain_period = ?, confirmed_at = ? where id = ?",
    ).run(chainPeriod, now, period.id);
    prepared(
      s.store.sqlite,
      "update prepaid_receipts set status = 'settled' where period_id = ? and status = 'paid'",
    ).run(period.id);
    for (const id of submittedTasks(s, row.txid))
      transitionFrom(
        s.store,
        id,
        'submitted',
        'settled',
        {
          reason: `settled by settle-accounts in block ${blockHeight} (period ${chainPeriod ?? '?'})`,
          txid: row.txid,
          now,
        },
        { settled_at: now },
      );
    const credit = prepared(
      s.store.sqlite,
      "insert into payee_credits (payee, owed, credited, updated_at) values (?, '0', ?, ?) on conflict(payee) do update set credited = cast(cast(credited as integer) + cast(excluded.credited as integer) as text), updated_at = excluded.updated_at",
    );
    for (const c of stored.credits) credit.run(c.payee, c.amount, now);
    const mirror = prepared(
      s.store.sqlite,
      'select balance, spent, settled_nonce from prepaid_accounts where account = ?',
    );
    const advance = prepared(
      s.store.sqlite,
      'update prepaid_accounts set balance = ?, spent = ?, settled_nonce = ?, updated_at = ? where account = ?',
    );
    for (const it of stored.items) {
      const m = mirror.get(it.account) as { balance: string; spent: string; settled_nonce: string } | undefined;
      // A chain read after the block may have mirrored this settlement already.
      if (!m || BigInt(m.spent) >= BigInt(it.spend)) continue;
      const delta = BigInt(it.spend) - BigInt(m.spent);
      const balance = BigInt(m.balance) > delta ? BigInt(m.balance) - delta : 0n;
      const nonce = BigInt(it.nonce) > BigInt(m.settled_nonce) ? it.nonce : m.settled_nonce;
      advance.run(balance.toString(), it.spend, nonce, now, it.account);
    }
  });
  s.metrics.settlementTxs.inc({ kind: 'settle-accounts', outcome: 'confirmed' });
  s.log.info({ txid: row.txid, block: blockHeight, period: period?.id, chain_period: chainPeriod }, 'period settled');
}

const outcome = (s: Services): TxOutcome => ({
  confirmed: (row, st, now) => confirmPeriod(s, row, st.blockHeight, st.result, now),
  failed: (row, status, reason, now) => releasePeriod(s, row, status, reason, now),
});

/** Follows every open settle-accounts one step; true when one is still open. */
export async function followPeriods(s: Services, chain: Chain, now = Date.now()): Promise<boolean> {
  const open = prepared(
    s.store.sqlite,
    "select * from settlements where status in ('built', 'broadcast') and kind = 'settle-accounts' order by created_at asc",
  ).all() as SettlementRow[];
  for (const row of open) await followTransaction(s, chain, row, outcome(s), now);
  return (
    prepared(
      s.store.sqlite,
      "select 1 from settlements where status in ('built', 'broadcast') and kind = 'settle-accounts' limit 1",
    ).get() !== undefined
  );
}

/**
 * One tick of the period loop: follow the open period; re-read stale accounts from the chain
 * (deposits, withdrawal requests); and when no period is open, start the next one if it is due.
 * One settle-accounts at a time: the next is planned from the mirror the last one updated.
 */
export async function accountsTick(s: Services, chain: Chain, now = Date.now()): Promise<void> {
  try {
    const open = await followPeriods(s, chain, now);
    const cfg = periodConfig(s);
    await refreshAccounts(s, chain, Math.min(cfg.period_ms, 10_000), now);
    if (open) return;
    await startPeriod(s, chain, now, await voucherDeadlineNear(s, chain));
  } catch (err) {
    if (!refusedWrite(s, chain, err)) throw err;
  }
}
