/**
 * The signer's ledger of prepaid accounts (prepaid_accounts): a mirror of each account's chain
 * state (balance, settled spend and nonce, pending withdrawal) beside what only the signer knows
 * (owed: fees of revealed results; reserved: max fees of requests accepted and not yet paid for;
 * the latest authorization). Amounts are decimal strings; arithmetic is BigInt.
 *
 * What an account can still be charged for: balance - (owed - spent) - reserved. `balance` is
 * after settled spend, and `owed - spent` is what revealed results will charge at the next
 * settlement, so a request is accepted only while everything accepted before it stays covered.
 */
import type { AccountState } from '../../protocol/index.js';
import { type prepaidAccounts, prepared, type SignerDatabase } from '../db/index.js';

/** An account row as stored. */
export type AccountRow = typeof prepaidAccounts.$inferSelect;

/** The row of `account`, or undefined before its first request. */
export function accountRow(store: SignerDatabase, account: string): AccountRow | undefined {
  return prepared(store.sqlite, 'select * from prepaid_accounts where account = ?').get(account) as
    | AccountRow
    | undefined;
}

/** Fees of revealed results not settled on chain yet. */
export function unsettledOf(row: Pick<AccountRow, 'owed' | 'spent'>): bigint {
  const d = BigInt(row.owed) - BigInt(row.spent);
  return d > 0n ? d : 0n;
}

/** What new requests may still reserve: balance - unsettled - reserved (may be negative after a withdrawal). */
export function availableOf(row: Pick<AccountRow, 'balance' | 'owed' | 'spent' | 'reserved'>): bigint {
  return BigInt(row.balance) - unsettledOf(row) - BigInt(row.reserved);
}

/**
 * Writes an account's chain state into its row (creating the row, with the key that signs for it,
 * when `publicKey` is given and there is none). Without a row and without a key nothing is stored:
 * a public read of an account that never sent a request leaves no trace.
 */
export function mirrorChainState(
  store: SignerDatabase,
  account: string,
  publicKey: string | null,
  state: AccountState | null,
  now = Date.now(),
): AccountRow | undefined {
  const balance = (state?.balance ?? 0n).toString();
  const spent = (state?.spent ?? 0n).toString();
  const nonce = (state?.nonce ?? 0n).toString();
  const withdrawAt = state && state.withdrawAt > 0n ? Number(state.withdrawAt) : null;
  if (publicKey !== null) {
    prepared(
      store.sqlite,
      `insert into prepaid_accounts (account, public_key, balance, spent, settled_nonce, withdraw_at, read_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (account) do update set balance = excluded.balance, spent = excluded.spent, settled_nonce = excluded.settled_nonce, withdraw_at = excluded.withdraw_at, read_at = excluded.read_at, updated_at = excluded.updated_at`,
    ).run(account, publicKey, balance, spent, nonce, withdrawAt, now, now);
  } else {
    prepared(
      store.sqlite,
      'update prepaid_accounts set balance = ?, spent = ?, settled_nonce = ?, withdraw_at = ?, read_at = ?, updated_at = ? where account = ?',
    ).run(balance, spent, nonce, withdrawAt, now, now, account);
  }
  return accountRow(store, account);
}

/** Adds `delta` (negative to release) to the account's reserved amount, never below zero. */
export function addReserved(store: SignerDatabase, account: string, delta: bigint, now = Date.now()): void {
  const row = prepared(store.sqlite, 'select reserved from prepaid_accounts where account = ?').get(account) as
    | { reserved: string }
    | undefined;
  if (!row) return;
  const next = BigInt(row.reserved) + delta;
  prepared(store.sqlite, 'update prepaid_accounts set reserved = ?, updated_at = ? where account = ?').run(
    (next > 0n ? next : 0n).toString(),
    now,
    account,
  );
}
