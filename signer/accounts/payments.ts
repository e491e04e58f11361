/**
 * Paying for results: the account signs a cumulative spend authorization whose cap covers the
 * previous cap plus the fees of the due receipts it names, and whose receipts root is the Merkle
 * root of their leaves in that order. The signer checks it against the account's key and its own
 * rows, then, in one SQL transaction that re-reads them, marks the receipts paid, adds their fees
 * to what the account owes and their shares to what each payee is owed, and keeps the
 * authorization as the latest (what the next settlement submits). A receipt is paid once: a second
 * payment finds it `paid`, not `due`.
 */
import {
  EMPTY_ROOT,
  encodeAccountsMessage,
  merkleRoot,
  spendAuthorizationCV,
  type SpendAuthorization,
} from '../../protocol/index.js';
import { atomic, prepared, type SignerDatabase } from '../db/index.js';
import { ApiError } from '../errors.js';
import { accountRow, type AccountRow } from './ledger.js';
import { leafJsonOf, type ReceiptRow, type Share } from './receipts.js';

/** Most receipts one authorization pays for, and most leaves GET .../due lists. */
export const MAX_DUE = 500;

/** The account's due receipts, oldest first (at most MAX_DUE). */
export function dueReceipts(store: SignerDatabase, account: string): ReceiptRow[] {
  return prepared(
    store.sqlite,
    "select * from prepaid_receipts where status = 'due' and account = ? order by created_at asc, rowid asc limit ?",
  ).all(account, MAX_DUE) as ReceiptRow[];
}

/** GET /api/v1/accounts/{account}/due: where the next authorization continues from, and the leaves to pay. */
export function dueView(store: SignerDatabase, account: string, market: string) {
  const row = accountRow(store, account);
  // With its signature and root, so a client (on any machine) checks it signed what it continues from.
  const signed = row?.auth_signature ? { market, receipts_root: row.auth_root, signature: row.auth_signature } : {};
  return {
    authorization: { cumulative: row?.auth_cumulative ?? '0', nonce: row?.auth_nonce ?? '0', ...signed },
    leaves: dueReceipts(store, account).map((r) => ({ task_id: r.task_id, leaf: leafJsonOf(r) })),
  };
}

/** What the checks of an authorization need besides the rows. */
export interface PaymentContext {
  chainId: number;
  market: string;
  /** Verifies a canonical signature over encoded bytes (the signer's verifier, on its threads). */
  verify(encoded: Uint8Array, signature: string, publicKey: string): Promise<boolean>;
}

function check(row: AccountRow, a: SpendAuthorization, taskIds: string[], receipts: ReceiptRow[]): bigint {
  if (BigInt(a.nonce) <= BigInt(row.auth_nonce))
    throw new ApiError(
      'nonce_too_low',
      `authorization nonce ${a.nonce} is not above the latest one this signer holds (${row.auth_nonce}); sign the next with nonce ${BigInt(row.auth_nonce) + 1n} or above`,
    );
  const byId = new Map(receipts.map((r) => [r.task_id, r]));
  let fees = 0n;
  for (const id of taskIds) {
    const r = byId.get(id);
    if (!r || r.account !== a.account || r.status !== 'due') {
      const why = !r
        ? 'is not a prepaid request of this signer'
        : r.account !== a.account
          ? `belongs to another account`
          : `is ${r.status}, not due`;
      throw new ApiError(
        'not_due',
        `task ${id} ${why}; pay only the leaves GET /api/v1/accounts/${a.account}/due lists`,
      );
    }
    fees += BigInt(r.fee!);
  }
  const need = BigInt(row.auth_cumulative) + fees;
  if (a.cumulative < need)
    throw new ApiError(
      'cap_too_low',
      `cumulative ${a.cumulative} is below the latest cap ${row.auth_cumulative} plus these ${taskIds.length} fees (${fees}) = ${need}`,
    );
  const root = taskIds.length ? merkleRoot(receipts.map((r) => r.leaf_hash!)) : EMPTY_ROOT;
  if (a.receiptsRoot !== root)
    throw new ApiError(
      'root_mismatch',
      `receipts_root ${a.receiptsRoot} is not the Merkle root of the leaves of task_ids in that order (${root}); hash each leaf with protocol/accounts leafHash and build the root with merkleRoot`,
    );
  return fees;
}

function readReceipts(store: SignerDatabase, taskIds: string[]): ReceiptRow[] {
  const rows = prepared(
    store.sqlite,
    'select r.* from json_each(?) j join prepaid_receipts r on r.task_id = j.value order by j.key',
  ).all(JSON.stringify(taskIds)) as ReceiptRow[];
  return rows;
}

/**
 * Checks and records a payment; returns the account row after it. Throws an ApiError with the
 * refusal's code (authorization_invalid, wrong_market, nonce_too_low, not_due, cap_too_low, root_mismatch).
 */
export async function pay(
  store: SignerDatabase,
  ctx: PaymentContext,
  account: string,
  a: SpendAuthorization,
  signature: string,
  taskIds: string[],
  now = Date.now(),
): Promise<AccountRow> {
  if (a.account !== account)
    throw new ApiError(
      'authorization_invalid',
      `the authorization is for account ${a.account}, not ${account} (the path)`,
    );
  if (a.market !== ctx.market)
    throw new ApiError(
      'wrong_market',
      `the authorization names market ${a.market}; this signer settles at ${ctx.market}`,
    );
  if (new Set(taskIds).size !== taskIds.length) throw new ApiError('request_invalid', 'task_ids names a task twice');
  const row = accountRow(store, account);
  if (!row) throw new ApiError('not_due', `account ${account} has sent no requests to this signer: nothing to pay for`);
  // Checked before the signature (cheap, and the usual mistakes), then again inside the transaction.
  check(row, a, taskIds, readReceipts(store, taskIds));
  if (!(await ctx.verify(encodeAccountsMessage(spendAuthorizationCV(a), ctx.chainId), signature, row.public_key))) {
    throw new ApiError(
      'authorization_invalid',
      `the signature does not verify with the account's key ${row.public_key} over {account, market, cumulative, nonce, receipts-root} (SIP-018, domain inference-accounts v1, chain id ${ctx.chainId}), or it is not canonical`,
    );
  }
  return atomic(store.sqlite, () => {
    // The signature check awaited a thread: another payment may have landed meanwhile.
    const fresh = accountRow(store, account)!;
    const receipts = readReceipts(store, taskIds);
    const fees = check(fresh, a, taskIds, receipts);
    let maxFees = 0n;
    const credits = new Map<string, bigint>();
    for (const r of receipts) {
      prepared(
        store.sqlite,
        "update prepaid_receipts set status = 'paid', paid_nonce = ?, paid_at = ? where task_id = ? and status = 'due'",
      ).run(a.nonce.toString(), now, r.task_id);
      maxFees += BigInt(r.max_fee);
      for (const sh of JSON.parse(r.shares!) as Share[])
        credits.set(sh.payee, (credits.get(sh.payee) ?? 0n) + BigInt(sh.amount));
    }
    for (const [payee, amount] of credits) {
      const cur = prepared(store.sqlite, 'select owed from payee_credits where payee = ?').get(payee) as
        | { owed: string }
        | undefined;
      prepared(
        store.sqlite,
        'insert into payee_credits (payee, owed, credited, updated_at) values (?, ?, ?, ?) on conflict (payee) do update set owed = excluded.owed, updated_at = excluded.updated_at',
      ).run(payee, (BigInt(cur?.owed ?? '0') + amount).toString(), '0', now);
    }
    const reserved = BigInt(fresh.reserved) - maxFees;
    prepared(
      store.sqlite,
      'update prepaid_accounts set owed = ?, reserved = ?, auth_cumulative = ?, auth_nonce = ?, auth_root = ?, auth_signature = ?, updated_at = ? where account = ?',
    ).run(
      (BigInt(fresh.owed) + fees).toString(),
      (reserved > 0n ? reserved : 0n).toString(),
      a.cumulative.toString(),
      a.nonce.toString(),
      a.receiptsRoot,
      signature,
      now,
      account,
    );
    return accountRow(store, account)!;
  });
}
