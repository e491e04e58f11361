/**
 * Payee vouchers: the signer's signed promise "payee P is credited a cumulative C by block
 * settle-by" (protocol/accounts PayeeVoucher), for P's cumulative owed (the shares of every paid
 * receipt). settle-by = tip + the contract's settle-window, so the bond answers for it; the
 * period loop settles early when a voucher's settle-by comes near, so an honest signer is never
 * challenged.
 */
import {
  payeeVoucherCV,
  publicKeyOf,
  signAccountsMessage,
  toVoucherJson,
  type PayeeVoucher,
  type PayeeVoucherJson,
} from '../../protocol/index.js';
import type { Chain } from '../chain/index.js';
import { ApiError } from '../errors.js';
import { prepared } from '../db/index.js';
import type { Services } from '../services.js';
import { accountsConfig, accountsContract } from './chain-state.js';

/** A payee's books: owed by paid receipts, credited by confirmed periods. */
export interface PayeeBooks {
  payee: string;
  owed: bigint;
  credited: bigint;
}

/** The payee's row of payee_credits (zeros when it was never owed anything). */
export function payeeBooks(s: Services, payee: string): PayeeBooks {
  const row = prepared(s.store.sqlite, 'select owed, credited from payee_credits where payee = ?').get(payee) as
    | { owed: string; credited: string }
    | undefined;
  return { payee, owed: BigInt(row?.owed ?? '0'), credited: BigInt(row?.credited ?? '0') };
}

/** The earliest settle-by of a voucher issued for more than was credited then, per signer. */
const outstanding = new WeakMap<Services, bigint>();

/** The signer's chain key, or a 503 naming the setting (vouchers are signed with the settler's key). */
function signerKey(s: Services): string {
  const key = s.config.chain.private_key;
  if (!key)
    throw new ApiError(
      'unavailable',
      'this signer has no chain key (chain.private_key / SIGNER_PRIVATE_KEY): it settles no prepaid accounts and signs no vouchers',
    );
  return key;
}

/** Signs a voucher for the payee's cumulative owed, due by tip + settle-window. */
export async function issueVoucher(
  s: Services,
  chain: Chain,
  payee: string,
): Promise<PayeeVoucherJson & { public_key: string; credited: string }> {
  const key = signerKey(s);
  const books = payeeBooks(s, payee);
  const cfg = await accountsConfig(s, chain);
  const tip = BigInt(s.chain.tipHeight ?? (await chain.tipHeight()));
  const voucher: PayeeVoucher = {
    payee,
    market: accountsContract(s),
    cumulative: books.owed,
    settleBy: tip + cfg.settleWindow,
  };
  const signature = signAccountsMessage(payeeVoucherCV(voucher), s.chainId, key);
  if (books.owed > books.credited) {
    const earliest = outstanding.get(s);
    if (earliest === undefined || voucher.settleBy < earliest) outstanding.set(s, voucher.settleBy);
  }
  return { ...toVoucherJson(voucher, signature), public_key: publicKeyOf(key), credited: books.credited.toString() };
}

/**
 * True when an issued voucher's settle-by is within half a settle-window of the tip while paid
 * receipts wait: the period loop then settles at once. Forgotten once nothing waits.
 */
export async function voucherDeadlineNear(s: Services, chain: Chain): Promise<boolean> {
  const settleBy = outstanding.get(s);
  if (settleBy === undefined) return false;
  const waiting = prepared(
    s.store.sqlite,
    "select 1 from prepaid_receipts where status = 'paid' and period_id is null limit 1",
  ).get();
  const open = prepared(s.store.sqlite, "select 1 from prepaid_periods where status = 'built' limit 1").get();
  if (!waiting && !open) {
    outstanding.delete(s);
    return false;
  }
  const cfg = await accountsConfig(s, chain);
  const tip = BigInt(s.chain.tipHeight ?? (await chain.tipHeight()));
  return tip + (cfg.settleWindow + 1n) / 2n >= settleBy;
}
