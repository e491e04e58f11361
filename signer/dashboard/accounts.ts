/**
 * The dashboard's "Accounts" section: each prepaid account's deposit (balance on chain as last
 * read), unsettled spend (owed above the settled spend), reservations, withdrawal request and
 * last settlement; the recent periods; and the settler's bond and proven challenges (get-signer,
 * one read-only call, cached like the catalog).
 */
import { readSettler } from '../accounts/index.js';
import { recentPeriods } from '../accounts/index.js';
import { prepared } from '../db/index.js';
import type { Services } from '../services.js';

/** One account row of the dashboard (micro-STX as decimal strings). */
export interface AccountView {
  account: string;
  balance: string;
  spent: string;
  /** owed - spent: charged by the next periods. */
  unsettled: string;
  reserved: string;
  /** Block from which its requested withdrawal may execute; null: none requested. */
  withdraw_at: number | null;
  /** The latest confirmed period that charged it. */
  last_settlement: { period: number; chain_period: number | null; txid: string | null; at: number | null } | null;
}

/** The Accounts section of the snapshot. */
export interface AccountsSection {
  accounts: AccountView[];
  periods: ReturnType<typeof recentPeriods>;
  /** The settler's bond and challenges proven against it on chain; null without a chain. */
  settler: { bond: string; challenges_proven: string; unlock_at: string } | null;
  /** Why the settler could not be read, else null. */
  settler_error: string | null;
}

/** Accounts shown: the most unsettled first. */
const SHOWN = 50;
/** Confirmed periods searched for an account's last settlement (older ones show as none). */
const PERIODS_SCANNED = 500;

/** Each account's row, most unsettled first, with its last confirmed settlement. */
export function accountViews(s: Services, limit = SHOWN): AccountView[] {
  const rows = prepared(
    s.store.sqlite,
    'select account, balance, spent, owed, reserved, withdraw_at from prepaid_accounts order by cast(owed as integer) - cast(spent as integer) desc, account limit ?',
  ).all(limit) as {
    account: string;
    balance: string;
    spent: string;
    owed: string;
    reserved: string;
    withdraw_at: number | null;
  }[];
  // A period's items JSON names its accounts: one pass over the recent confirmed periods finds each one's last.
  const recent = prepared(
    s.store.sqlite,
    `select json_extract(i.value, '$.account') account, max(p.id) id from (select id, items from prepaid_periods where status = 'confirmed' order by id desc limit ?) p, json_each(p.items, '$.items') i group by account`,
  ).all(PERIODS_SCANNED) as { account: string; id: number }[];
  const lastId = new Map(recent.map((r) => [r.account, r.id]));
  const period = prepared(
    s.store.sqlite,
    'select id, chain_period, txid, confirmed_at from prepaid_periods where id = ?',
  );
  return rows.map((r) => {
    const id = lastId.get(r.account);
    const l = (id === undefined ? undefined : period.get(id)) as
      | { id: number; chain_period: number | null; txid: string | null; confirmed_at: number | null }
      | undefined;
    const unsettled = BigInt(r.owed) - BigInt(r.spent);
    return {
      account: r.account,
      balance: r.balance,
      spent: r.spent,
      unsettled: (unsettled > 0n ? unsettled : 0n).toString(),
      reserved: r.reserved,
      withdraw_at: r.withdraw_at,
      last_settlement: l ? { period: l.id, chain_period: l.chain_period, txid: l.txid, at: l.confirmed_at } : null,
    };
  });
}

const settlerCache = new WeakMap<Services, { at: number; value: AccountsSection['settler'] }>();

async function settlerView(s: Services, now: number): Promise<Pick<AccountsSection, 'settler' | 'settler_error'>> {
  const chain = s.catalog.chain;
  if (!chain) return { settler: null, settler_error: null };
  const hit = settlerCache.get(s);
  if (hit && now - hit.at < s.config.models.catalog_cache_ms) return { settler: hit.value, settler_error: null };
  try {
    const st = await readSettler(s, chain);
    const value = {
      bond: st.bond.toString(),
      challenges_proven: st.challengesProven.toString(),
      unlock_at: st.unlockAt.toString(),
    };
    settlerCache.set(s, { at: now, value });
    return { settler: value, settler_error: null };
  } catch (err) {
    return {
      settler: null,
      settler_error: `the settler's bond could not be read from the chain (${(err as Error).message})`,
    };
  }
}

/** The Accounts section now. */
export async function accountsSection(s: Services, periodsShown: number, now = Date.now()): Promise<AccountsSection> {
  return { accounts: accountViews(s), periods: recentPeriods(s, periodsShown), ...(await settlerView(s, now)) };
}
