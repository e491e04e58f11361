/**
 * Prepaid accounts (signer/accounts):
 *  - GET /api/v1/accounts/{account}: public: the chain mirror (balance, settled spend and nonce,
 *    pending withdrawal), the latest authorization, owed, reserved, unsettled, available, last settlement;
 *  - GET /api/v1/accounts/{account}/due: to the account (requester-signed): the leaves to pay for,
 *    oldest first, and where its next authorization continues from;
 *  - POST /api/v1/accounts/{account}/authorizations: a spend authorization signed by the account key
 *    paying for due receipts (pay, then reveal), or with no receipts an allowance for API tokens
 *    bound to the account (`public_key` lets an account the signer has not seen yet sign its first).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { fromAuthorizationJson, principalOfKey, spendAuthorizationJson } from '../../../protocol/index.js';
import { compressedPublicKey } from '../../../protocol/index.js';
import { accountRow, availableOf, dueView, MAX_DUE, pay, unsettledOf, type AccountRow } from '../../accounts/index.js';
import { allowanceView } from '../../accounts/index.js';
import { authenticateRequester } from '../../auth/index.js';
import { prepared, type SignerDatabase } from '../../db/index.js';
import { ApiError } from '../../errors.js';
import type { Env } from '../env.js';
import { defaultLimit } from '../limits.js';
import { doc, valid } from '../openapi-doc.js';
import { accountsPaths } from '../openapi-accounts.js';
import { ok } from '../respond.js';
import { prepaidOf } from './requests.js';

const param = z.object({
  account: z.string().regex(/^S[0-9A-Z]{28,40}(\.[a-zA-Z][a-zA-Z0-9-]{0,39})?$/, 'must be a Stacks principal'),
});

/** Body of POST /api/v1/accounts/{account}/authorizations. */
export const authorizationBody = z
  .object({
    authorization: spendAuthorizationJson,
    task_ids: z
      .array(z.string().regex(/^[0-9]{1,40}$/, 'must be a prepaid task id (decimal)'))
      .max(MAX_DUE, `at most ${MAX_DUE} task ids per authorization`),
    /** The account's key: needed only by an account this signer has never seen (a first allowance, before any request). */
    public_key: compressedPublicKey.optional(),
  })
  .strict();

/** The public view of an account row. */
export function accountView(row: AccountRow, market: string, last: unknown, store?: SignerDatabase) {
  const unsettled = unsettledOf(row);
  const available = availableOf(row);
  return {
    account: row.account,
    market,
    public_key: row.public_key,
    balance: row.balance,
    spent: row.spent,
    settled_nonce: row.settled_nonce,
    withdraw_at: row.withdraw_at,
    authorization: { cumulative: row.auth_cumulative, nonce: row.auth_nonce, receipts_root: row.auth_root },
    owed: row.owed,
    reserved: row.reserved,
    unsettled: unsettled.toString(),
    available: (available > 0n ? available : 0n).toString(),
    last_settlement: last,
    read_at: row.read_at,
    // What API tokens bound to the account may still spend (signer/accounts/metered.ts).
    ...(store ? { allowance: allowanceView(store, row) } : {}),
  };
}

/** Prepaid account routes. */
export const accounts = new Hono<Env>()
  .get(
    '/api/v1/accounts/:account',
    doc('accounts', accountsPaths['/api/v1/accounts/{account}'].get),
    valid('param', param),
    async (c) => {
      const pa = prepaidOf(c);
      const { account } = c.req.valid('param');
      // An account that never sent a request here is not tracked: only the chain knows it, read at most once per account_cache_ms.
      const row = accountRow(pa.store, account) ? await pa.freshAccount(account, null) : undefined;
      if (!row) {
        const state = await pa.view.publicAccount(account, pa.cfg.account_cache_ms);
        if (!state) throw new ApiError('account_not_found', `account ${account} has never deposited in ${pa.market}`);
        const zero = {
          account,
          public_key: null,
          owed: '0',
          reserved: '0',
          unsettled: '0',
          authorization: { cumulative: '0', nonce: '0', receipts_root: null },
          last_settlement: null,
        };
        const available = state.withdrawAt > 0n ? 0n : state.balance;
        return ok(c, {
          ...zero,
          market: pa.market,
          balance: state.balance.toString(),
          spent: state.spent.toString(),
          settled_nonce: state.nonce.toString(),
          withdraw_at: state.withdrawAt > 0n ? Number(state.withdrawAt) : null,
          available: available.toString(),
          read_at: Date.now(),
        });
      }
      const last = prepared(
        pa.store.sqlite,
        "select p.id as period, p.chain_period, p.txid, p.confirmed_at as at from prepaid_periods p where p.status = 'confirmed' and p.id in (select period_id from prepaid_receipts where account = ? and period_id is not null) order by p.id desc limit 1",
      ).get(account);
      return ok(c, accountView(row, pa.market, last ?? null, pa.store));
    },
  )
  .get(
    '/api/v1/accounts/:account/due',
    doc('accounts', accountsPaths['/api/v1/accounts/{account}/due'].get),
    valid('param', param),
    async (c) => {
      const pa = prepaidOf(c);
      const { account } = c.req.valid('param');
      const requester = await authenticateRequester(c, {
        code: 'requester_signature_required',
        hint: `the due leaves of ${account} are served only to the account: sign the GET with its key (protocol/sip018 signRequesterRequest)`,
      });
      if (requester.principal !== account)
        throw new ApiError(
          'not_requester',
          `signed by ${requester.principal}, not by the account ${account}; only the account may list its due leaves`,
        );
      return ok(c, dueView(pa.store, account, pa.market));
    },
  )
  .post(
    '/api/v1/accounts/:account/authorizations',
    defaultLimit,
    doc('accounts', accountsPaths['/api/v1/accounts/{account}/authorizations'].post),
    valid('param', param),
    valid('json', authorizationBody),
    async (c) => {
      const pa = prepaidOf(c);
      const { account } = c.req.valid('param');
      const body = c.req.valid('json');
      const { authorization, signature } = fromAuthorizationJson(body.authorization);
      if (body.public_key !== undefined && !accountRow(pa.store, account)) {
        // A first allowance (no leaves) from an account that never sent a request: its key is learnt here; pay() checks the signature with it.
        if (principalOfKey(body.public_key, pa.chainId) !== account)
          throw new ApiError(
            'account_key_mismatch',
            `public_key ${body.public_key} is the key of ${principalOfKey(body.public_key, pa.chainId)}, not of ${account}`,
          );
        await pa.freshAccount(account, body.public_key);
      }
      const row = await pay(
        pa.store,
        { chainId: pa.chainId, market: pa.market, verify: (e, sig, key) => pa.verify(e, sig, key) },
        account,
        authorization,
        signature,
        body.task_ids,
      );
      return ok(c, { paid: body.task_ids, account: accountView(row, pa.market, null, pa.store) });
    },
  );
