/**
 * What the period loop, vouchers and payee routes read of accounts.clar: its principal, its
 * config (cached: it changes only by admin calls), accounts (mirrored into prepaid_accounts so
 * deposits and withdrawal requests are seen) and payees.
 */
import { Cl } from '@stacks/transactions';
import {
  decodeAccount,
  decodeAccountsConfig,
  decodePayee,
  decodeSigner,
  type AccountsConfig,
  type AccountState,
  type PayeeState,
  type SignerState,
} from '../../protocol/index.js';
import type { Chain } from '../chain/index.js';
import { accountsContractOf } from '../config/index.js';
import { readOnly } from '../catalog/index.js';
import { prepared } from '../db/index.js';
import { mirrorChainState } from './ledger.js';
import type { Services } from '../services.js';

/** How long a read of get-config is reused. */
const CONFIG_CACHE_MS = 60_000;

/** The accounts contract principal: `accounts.contract` when set, else `accounts` beside the escrow (signer/config accountsContractOf). */
export function accountsContract(s: Services): string {
  return accountsContractOf(s.config);
}

/** The contract name calls go to (the Chain reaches contracts beside the escrow by name). */
export function accountsContractName(s: Services): string {
  return accountsContract(s).split('.')[1]!;
}

const configCache = new WeakMap<Services, { at: number; value: Promise<AccountsConfig> }>();

/** accounts.clar's get-config, read at most once a minute (admin calls change it, rarely). */
export function accountsConfig(s: Services, chain: Chain, now = Date.now()): Promise<AccountsConfig> {
  const cached = configCache.get(s);
  if (cached && now - cached.at < CONFIG_CACHE_MS) return cached.value;
  const value = readOnly(chain, accountsContractName(s), 'get-config', []).then(decodeAccountsConfig);
  // A failed read is not cached: the next caller tries again.
  value.catch(() => configCache.delete(s));
  configCache.set(s, { at: now, value });
  return value;
}

/** One account's state on chain (null: it never deposited). */
export async function readAccount(s: Services, chain: Chain, account: string): Promise<AccountState | null> {
  return decodeAccount(await readOnly(chain, accountsContractName(s), 'get-account', [Cl.principal(account)]));
}

/** A payee's state on chain (null: never credited). */
export async function readPayee(s: Services, chain: Chain, payee: string): Promise<PayeeState | null> {
  return decodePayee(await readOnly(chain, accountsContractName(s), 'get-payee', [Cl.principal(payee)]));
}

/** The settler, its bond and the challenges proven against it. */
export async function readSettler(s: Services, chain: Chain): Promise<SignerState> {
  return decodeSigner(await readOnly(chain, accountsContractName(s), 'get-signer', []));
}

/**
 * Re-reads from the chain every account with unsettled spend, held reservations or a withdrawal
 * request whose mirror is older than `maxAgeMs`: deposits raise what it may spend, and a
 * withdrawal request makes its settlement urgent. Returns how many were read.
 */
export async function refreshAccounts(
  s: Services,
  chain: Chain,
  maxAgeMs: number,
  now = Date.now(),
  limit = 200,
): Promise<number> {
  const stale = prepared(
    s.store.sqlite,
    `select account from prepaid_accounts
      where (read_at is null or read_at < ?)
        and (owed <> spent or reserved <> '0' or withdraw_at is not null or auth_nonce <> settled_nonce)
      order by read_at asc nulls first limit ?`,
  ).all(now - maxAgeMs, limit) as { account: string }[];
  for (const { account } of stale) {
    const state = await readAccount(s, chain, account);
    // The read is awaited outside any SQL transaction; the row write is one statement (ledger.ts, as admission mirrors).
    mirrorChainState(s.store, account, null, state, now);
  }
  return stale.length;
}
