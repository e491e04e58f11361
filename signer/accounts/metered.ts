/**
 * Metered direct inference: an API token bound to a prepaid account (api_tokens.account) runs
 * direct inference paid from that account's deposit. The holder consents by signing an allowance
 * (a spend authorization whose cap is above what it owes, with no leaves: `market account allow`);
 * each call is admitted only while the allowance's headroom and the deposit cover the model's
 * price, and a successful call is recorded as a metered receipt that goes straight to `paid`:
 *
 *   admission   headroom = cap - owed - (max fees of running token calls) >= price x items, and
 *               availableOf(account) >= price x items; else 402 allowance_exhausted or
 *               insufficient_deposit (all or nothing per batch). A `running` receipt per task,
 *               the price reserved, in the same SQL transaction that creates the tasks.
 *   success     markDue (receipts.ts) -> completeMetered: status `paid`, fee = price, shares as a
 *               prepaid receipt's (owner/treasury bps and owner frozen at admission, the node share
 *               to the winning nodes' principals), owed += fee, payee_credits.owed += shares.
 *   failure     markFailed: the reservation is released, nothing is charged.
 *
 * A metered receipt has no leaf (leaf_hash null): it carries no account signature, so it is never
 * put in a period's root (a leaf there would let anyone "prove" it was never signed). The period
 * loop charges it under the account's latest authorization, never above the cap the holder signed;
 * the usage rows of the token (inference_logs) show what was used.
 */
import type { ModelHead } from '../catalog/index.js';
import { prepared, type SignerDatabase } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { TaskRow } from '../tasks/index.js';
import { accountRow, availableOf, type AccountRow } from './ledger.js';
import type { PrepaidContext, ReceiptRow, Share } from './receipts.js';
import type { PrepaidAccounts } from './index.js';

/** request_signature of a metered receipt: there is no account signature over a token call. */
export const METERED = 'metered';

/** What a metered receipt's `request` column holds: the call, and the fee terms frozen at admission. */
export interface MeteredRequest extends Omit<PrepaidContext, 'expiry'> {
  kind: 'metered';
  token_id: number;
  request_id: string;
  model: string;
  model_output: string;
  price: string;
}

/** A bound token's call, priced and ready to be reserved inside the enqueue transaction. */
export interface MeteredAdmission {
  account: string;
  tokenId: number;
  requestId: string;
  price: bigint;
  terms: Omit<MeteredRequest, 'kind' | 'token_id' | 'request_id'>;
}

/** The prepaid account a token is bound to, or null. */
export function boundAccount(store: SignerDatabase, tokenId: number): string | null {
  const row = prepared(store.sqlite, 'select account from api_tokens where id = ?').get(tokenId) as
    | { account: string | null }
    | undefined;
  return row?.account ?? null;
}

/** Max fees of the account's token calls still running: held against its allowance. */
export function tokenReserved(store: SignerDatabase, account: string): bigint {
  const r = prepared(
    store.sqlite,
    "select coalesce(sum(cast(max_fee as integer)), 0) n from prepaid_receipts where status = 'running' and account = ? and request_signature = ?",
  ).get(account, METERED) as { n: number | bigint };
  return BigInt(r.n);
}

/** What the account's allowance still covers: cap - owed - running token calls (may be negative). */
export function headroomOf(
  store: SignerDatabase,
  row: Pick<AccountRow, 'account' | 'auth_cumulative' | 'owed'>,
): bigint {
  return BigInt(row.auth_cumulative) - BigInt(row.owed) - tokenReserved(store, row.account);
}

/**
 * The chain reads a bound token's call needs (model price and owner, escrow terms, the account's
 * balance when stale or short); null when the token is not bound or the model is free. Throws
 * accounts_disabled when the signer has no prepaid accounts, model_not_live for a model the
 * registry does not hold live.
 */
export async function priceMetered(
  pa: PrepaidAccounts | null,
  store: SignerDatabase,
  tokenId: number,
  requestId: string,
  model: ModelHead,
  items: number,
  now = Date.now(),
): Promise<MeteredAdmission | null> {
  const account = boundAccount(store, tokenId);
  if (account === null) return null;
  if (!pa)
    throw new ApiError(
      'accounts_disabled',
      `this API token is bound to prepaid account ${account}, but this signer has no prepaid accounts (accounts.enabled is off, or it runs without a chain); ask an admin to unbind the token`,
    );
  if (!/^\d+$/.test(model.output_id))
    throw new ApiError(
      'model_not_live',
      `model "${model.name}" is not a registry model output (${model.output_id}); a token bound to an account calls only models priced on chain`,
    );
  const [output, terms] = await Promise.all([pa.view.output(BigInt(model.output_id)), pa.view.terms()]);
  if (!output)
    throw new ApiError(
      'model_not_live',
      `model output ${model.output_id} of "${model.name}" is not live in the registry; GET /api/v1/models for the live ones`,
    );
  if (output.price === 0n) return null;
  // A stale or short mirror is read again (a deposit may have landed); no row: no allowance yet.
  await pa.freshAccount(account, null, output.price * BigInt(items), now).catch(() => undefined);
  return {
    account,
    tokenId,
    requestId,
    price: output.price,
    terms: {
      model: model.name,
      model_output: model.output_id,
      price: output.price.toString(),
      owner: output.owner,
      owner_bps: terms.ownerBps.toString(),
      treasury_bps: terms.treasuryBps.toString(),
      treasury: terms.treasury,
    },
  };
}

/**
 * Inside the transaction that creates the call's tasks: checks headroom and deposit for all of
 * them, then writes a running receipt per task and reserves their prices. Throws (aborting the
 * tasks too) with allowance_exhausted, insufficient_deposit or account_withdrawing.
 */
export function reserveMetered(
  store: SignerDatabase,
  m: MeteredAdmission,
  tasks: Pick<TaskRow, 'task_id'>[],
  now = Date.now(),
): void {
  const need = m.price * BigInt(tasks.length);
  const calls =
    tasks.length === 1 ? 'this call' : `this batch of ${tasks.length} calls (refused whole; nothing was run)`;
  const row = accountRow(store, m.account);
  const allow = `the account holder signs a higher cap with \`market account allow <µSTX>\``;
  if (!row?.auth_signature)
    throw new ApiError(
      'allowance_exhausted',
      `this API token is paid from prepaid account ${m.account}, which has signed no allowance for this signer; ${allow}`,
    );
  if (row.withdraw_at !== null)
    throw new ApiError(
      'account_withdrawing',
      `prepaid account ${m.account} asked to withdraw (executable at block ${row.withdraw_at}): this signer runs nothing more on it; deposit again after the withdrawal`,
    );
  const headroom = headroomOf(store, row);
  if (headroom < need) {
    throw new ApiError(
      'allowance_exhausted',
      `prepaid account ${m.account}'s allowance has ${headroom > 0n ? headroom : 0n} µSTX left (cap ${row.auth_cumulative} - owed ${row.owed} - running token calls ${tokenReserved(store, m.account)}), below the ${need} µSTX ${calls} costs (price ${m.price} per call); ${allow}`,
    );
  }
  const available = availableOf(row);
  if (available < need) {
    throw new ApiError(
      'insufficient_deposit',
      `prepaid account ${m.account} can cover ${available > 0n ? available : 0n} µSTX more (balance ${row.balance} - unsettled - reserved ${row.reserved}), below the ${need} µSTX ${calls} costs; the holder deposits more (market account deposit <µSTX>)`,
    );
  }
  const insert = prepared(
    store.sqlite,
    "insert into prepaid_receipts (task_id, account, nonce, request, request_signature, max_fee, status, created_at) values (?, ?, ?, ?, ?, ?, 'running', ?)",
  );
  for (const t of tasks) {
    // No `expiry`: expireRequests fails only signed requests past theirs; a token call has its own timeout.
    const request: MeteredRequest = { kind: 'metered', token_id: m.tokenId, request_id: m.requestId, ...m.terms };
    // The nonce column is unique per account; a metered receipt's is its task id, marked, so it never meets a signed request's decimal nonce.
    insert.run(
      t.task_id,
      m.account,
      `${METERED}:${t.task_id}`,
      JSON.stringify(request),
      METERED,
      m.price.toString(),
      now,
    );
  }
  prepared(store.sqlite, 'update prepaid_accounts set reserved = ?, updated_at = ? where account = ?').run(
    (BigInt(row.reserved) + need).toString(),
    now,
    m.account,
  );
}

/** Adds `shares` to what each payee is owed; inside the caller's transaction. */
export function owePayees(store: SignerDatabase, shares: Share[], now: number): void {
  const upsert = prepared(
    store.sqlite,
    "insert into payee_credits (payee, owed, credited, updated_at) values (?, ?, '0', ?) on conflict (payee) do update set owed = cast(cast(owed as integer) + cast(excluded.owed as integer) as text), updated_at = excluded.updated_at",
  );
  for (const sh of shares) upsert.run(sh.payee, sh.amount, now);
}

/**
 * A metered call's task completed: the receipt is paid at its frozen price, the account owes it,
 * the payees are owed their shares, and the reservation is released. `shares` come from
 * receipts.ts sharesOf over the winning nodes. Inside markDue's transaction.
 */
export function completeMetered(
  store: SignerDatabase,
  r: ReceiptRow,
  task: TaskRow,
  shares: Share[],
  now = Date.now(),
): void {
  const fee = BigInt(r.max_fee);
  const changed = prepared(
    store.sqlite,
    "update prepaid_receipts set status = 'paid', fee = ?, node_key = ?, output_hash = ?, leaf_hash = null, shares = ?, paid_at = ? where task_id = ? and status = 'running'",
  ).run(fee.toString(), task.node_public_key, task.output_hash, JSON.stringify(shares), now, r.task_id);
  if (changed.changes !== 1) return;
  const row = accountRow(store, r.account)!;
  const reserved = BigInt(row.reserved) - fee;
  prepared(store.sqlite, 'update prepaid_accounts set owed = ?, reserved = ?, updated_at = ? where account = ?').run(
    (BigInt(row.owed) + fee).toString(),
    (reserved > 0n ? reserved : 0n).toString(),
    now,
    r.account,
  );
  owePayees(store, shares, now);
}

/** The metered-call view of an account: its allowance cap, what token calls hold, and the headroom left. */
export function allowanceView(
  store: SignerDatabase,
  row: AccountRow,
): { cap: string; running: string; headroom: string } {
  const headroom = headroomOf(store, row);
  return {
    cap: row.auth_cumulative,
    running: tokenReserved(store, row.account).toString(),
    headroom: (headroom > 0n ? headroom : 0n).toString(),
  };
}
