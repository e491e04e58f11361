/**
 * The pure part of a period: which accounts a settlement carries, at what spend, which receipt
 * leaves it publishes and what it credits each payee. No I/O, so each rule is tested alone
 * (tests/signer/periods.test.ts).
 *
 * The rule that keeps the books and the chain in step: an account is charged exactly the fees of
 * the paid receipts the period publishes for it, so the credits (the receipts' shares) always add
 * up to the charge, as settle-accounts demands. Normally that is spend = min(owed, cap): every
 * paid receipt is covered by the authorization that paid it. When the cap or the balance on chain
 * is short (it should not be: requests are accepted against the deposit), the longest prefix of
 * receipts that fits is settled and the rest wait.
 *
 * Metered receipts (calls of an API token bound to the account, signer/accounts/metered.ts) are
 * charged the same way, under the same authorization and never above its cap, but they are not
 * leaves: the root covers only receipts whose request the account signed.
 */
import { merkleRoot } from '../../protocol/index.js';
import type { Credit, SettleItem } from '../../protocol/index.js';

/** An account with paid, unsettled receipts, as the mirror holds it. */
export interface CandidateAccount {
  account: string;
  /** Balance on chain (last read). */
  balance: bigint;
  /** Spend and nonce settled on chain. */
  spent: bigint;
  settledNonce: bigint;
  /** The latest authorization the account signed (signature null: none yet). */
  authCumulative: bigint;
  authNonce: bigint;
  authRoot: string | null;
  authSignature: string | null;
  /** Sum of the fees of all its paid receipts. */
  owed: bigint;
  /** A withdrawal was requested: settle it at once, before the dispute window ends. */
  withdrawing: boolean;
}

/** A paid receipt not yet in a period, oldest first. */
export interface PaidReceipt {
  taskId: string;
  fee: bigint;
  /** Null for a metered receipt (a bound API token's call): charged, but not a leaf of the root. */
  leafHash: string | null;
  shares: { payee: string; amount: bigint }[];
}

/** What one settle-accounts call carries. */
export interface PeriodPlan {
  root: string;
  /** Leaves in tree order (accounts in item order, each account's receipts oldest first). */
  taskIds: string[];
  leafHashes: string[];
  /** Metered receipts charged by this settlement: no leaf, so not in the root (metered.ts). */
  meteredIds: string[];
  items: SettleItem[];
  credits: Credit[];
  charged: bigint;
}

/** Limits of one call: accounts.max_accounts_per_tx and the contract's 200 credits. */
export interface PlanLimits {
  maxItems: number;
  maxCredits: number;
}

/** Why an account was left out (logged; it is tried again next period). */
export interface Skipped {
  account: string;
  reason: string;
}

/** Parses a receipt's shares JSON ([{payee, amount}] with decimal amounts). */
export function parseShares(json: string | null): { payee: string; amount: bigint }[] {
  if (!json) return [];
  return (JSON.parse(json) as { payee: string; amount: string | number }[]).map((x) => ({
    payee: x.payee,
    amount: BigInt(x.amount),
  }));
}

/** The unsettled amount an account could be charged now: min(owed, cap) above its settled spend, within its balance. */
export function chargeable(a: CandidateAccount): bigint {
  const limit = (a.owed < a.authCumulative ? a.owed : a.authCumulative) - a.spent;
  if (limit <= 0n) return 0n;
  return limit < a.balance ? limit : a.balance;
}

/** The receipts of one account this period settles: the longest prefix whose fees fit what it may be charged. */
export function receiptsToSettle(
  a: CandidateAccount,
  receipts: PaidReceipt[],
): { take: PaidReceipt[]; reason: string | null } {
  const room = chargeable(a);
  const take: PaidReceipt[] = [];
  let sum = 0n;
  for (const r of receipts) {
    const shares = r.shares.reduce((t, x) => t + x.amount, 0n);
    if (shares !== r.fee)
      return { take, reason: `receipt of task ${r.taskId} splits ${shares} µSTX among payees but its fee is ${r.fee}` };
    if (sum + r.fee > room)
      return {
        take,
        reason: `only ${room} µSTX chargeable (cap ${a.authCumulative}, owed ${a.owed}, settled ${a.spent}, balance ${a.balance}); ${receipts.length - take.length} receipts wait`,
      };
    sum += r.fee;
    take.push(r);
  }
  return { take, reason: null };
}

/**
 * Plans one settlement: accounts with a withdrawal request first, then the most owed; each with
 * the receipts it can be charged for; stops at the item and credit limits. Null when nothing is
 * to be settled.
 */
export function planPeriod(
  accounts: CandidateAccount[],
  receipts: Map<string, PaidReceipt[]>,
  limits: PlanLimits,
): { plan: PeriodPlan | null; skipped: Skipped[] } {
  const order = [...accounts].sort(
    (x, y) =>
      Number(y.withdrawing) - Number(x.withdrawing) ||
      cmp(y.owed - y.spent, x.owed - x.spent) ||
      (x.account < y.account ? -1 : 1),
  );
  const items: SettleItem[] = [];
  const taskIds: string[] = [];
  const leafHashes: string[] = [];
  const meteredIds: string[] = [];
  const credits = new Map<string, bigint>();
  const skipped: Skipped[] = [];
  let charged = 0n;
  for (const a of order) {
    if (items.length >= limits.maxItems) break;
    if (!a.authSignature || !a.authRoot) {
      skipped.push({ account: a.account, reason: 'no spend authorization signed yet' });
      continue;
    }
    const { take, reason } = receiptsToSettle(a, receipts.get(a.account) ?? []);
    if (reason) skipped.push({ account: a.account, reason });
    if (take.length === 0) continue;
    const payees = new Set(take.flatMap((r) => r.shares.map((x) => x.payee)));
    const newPayees = [...payees].filter((p) => !credits.has(p)).length;
    if (credits.size + newPayees > limits.maxCredits) {
      skipped.push({
        account: a.account,
        reason: `its ${newPayees} new payees would pass ${limits.maxCredits} credits in one transaction`,
      });
      continue;
    }
    const delta = take.reduce((t, r) => t + r.fee, 0n);
    for (const r of take) for (const x of r.shares) credits.set(x.payee, (credits.get(x.payee) ?? 0n) + x.amount);
    items.push({
      account: a.account,
      cumulative: a.authCumulative,
      nonce: a.authNonce,
      receiptsRoot: a.authRoot,
      signature: a.authSignature,
      spend: a.spent + delta,
    });
    for (const r of take) {
      // The root is over request-signed leaves only; a metered receipt is covered by the cap alone.
      if (r.leafHash === null) {
        meteredIds.push(r.taskId);
        continue;
      }
      taskIds.push(r.taskId);
      leafHashes.push(r.leafHash);
    }
    charged += delta;
  }
  if (items.length === 0) return { plan: null, skipped };
  // Payees with a zero share add nothing but a write.
  const creditList = [...credits].filter(([, amount]) => amount > 0n).map(([payee, amount]) => ({ payee, amount }));
  return {
    plan: { root: merkleRoot(leafHashes), taskIds, leafHashes, meteredIds, items, credits: creditList, charged },
    skipped,
  };
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
