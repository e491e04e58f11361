/** The OpenAPI operations of prepaid accounts (routes/requests.ts, accounts.ts, quote.ts), by path and method. */
import { z } from 'zod';
import { envelope } from '../../protocol/index.js';
import { requestItem } from '../accounts/index.js';

const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });
const json = (s: z.ZodType) => ({ content: { 'application/json': { schema: schema(s) } } });
const anyEnvelope = envelope(z.unknown());
const path = (name: string, description: string) => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string' },
});
const query = (name: string, description: string) => ({
  name,
  in: 'query',
  required: true,
  description,
  schema: { type: 'string' },
});
const e = (description: string) => ({ description, ...json(anyEnvelope) });
const disabled = { 404: e('accounts_disabled: this signer takes no prepaid requests; or not_found') };
const signedRead = {
  401: e(
    'requester_signature_required / requester_signature_invalid: sign the GET with the account key (REQUESTER_AUTH_HEADERS)',
  ),
  403: e('not_requester: signed by another key than the account'),
};
const requesterSignature = [{ requesterSignature: [] }];
const note =
  'Prepaid accounts (docs/accounts.md): requests and spend authorizations are SIP-018 messages of domain {name "inference-accounts", version "1"} signed by the account key (protocol/accounts); results are revealed once an authorization pays for them.';
const itemCodes =
  'Per-item refusal codes: request_invalid, account_key_mismatch, wrong_market, request_signature_invalid, request_expired, nonce_used, model_not_live, max_fee_too_low, quote_invalid, input_missing, input_mismatch, insufficient_deposit, account_withdrawing.';

/** Body of POST /api/v1/requests as documented (each item is checked on its own). */
const requestsDoc = z.object({ requests: z.array(requestItem).min(1).max(100) });

/** Paths of prepaid accounts. */
export const accountsPaths = {
  '/api/v1/requests': {
    post: {
      summary: 'Submit 1..accounts.max_requests_per_call signed task requests paid from a deposit',
      description: `${note} Each item is judged on its own: 202 with results in order, each {task_id, status: "accepted"|"duplicate"} or {index, success: false, code, error}. ${itemCodes}`,
      requestBody: json(requestsDoc),
      responses: {
        202: e('{results: [...]}'),
        400: e('Malformed body or too many requests'),
        413: e('Body over the limit sized for max_requests_per_call inline inputs'),
        ...disabled,
      },
    },
  },
  '/api/v1/requests/{task_id}/result': {
    get: {
      summary: "A prepaid request's result, to its account, once paid",
      description: `${note} 200 {task_id, status, output, output_hash, node_public_key, signature, leaf, leaf_hash, paid_nonce} once paid; 402 payment_required with data {task_id, leaf, leaf_hash} while due; 409 result_not_ready while running; 410 request_failed (failed or expired; nothing charged).`,
      security: requesterSignature,
      parameters: [path('task_id', 'task_id from POST /api/v1/requests (prepaidTaskId of the request hash)')],
      responses: {
        200: e('The result and its leaf'),
        402: e('payment_required'),
        409: e('result_not_ready'),
        410: e('request_failed'),
        ...signedRead,
        ...disabled,
      },
    },
  },
  '/api/v1/accounts/{account}': {
    get: {
      summary:
        "An account's state: chain mirror, latest authorization, owed, reserved, unsettled, available, last settlement (public)",
      parameters: [path('account', 'Stacks principal of the account')],
      responses: {
        200: e(
          '{account, market, public_key, balance, spent, settled_nonce, withdraw_at, authorization, owed, reserved, unsettled, available, last_settlement, read_at}',
        ),
        ...disabled,
      },
    },
  },
  '/api/v1/accounts/{account}/due': {
    get: {
      summary: 'The leaves an account has not paid for yet (oldest first, at most 500), and its latest authorization',
      description: note,
      security: requesterSignature,
      parameters: [path('account', 'Stacks principal of the account')],
      responses: {
        200: e('{authorization: {cumulative, nonce}, leaves: [{task_id, leaf}]}'),
        ...signedRead,
        ...disabled,
      },
    },
  },
  '/api/v1/accounts/{account}/authorizations': {
    post: {
      summary: 'Pay for due results with a cumulative spend authorization signed by the account key',
      description: `${note} cumulative >= latest cap + the fees of task_ids; nonce > latest; receipts_root = merkleRoot of their leaf hashes in task_ids order. With no task_ids (receipts_root 32 zero bytes) it is an allowance: API tokens bound to the account spend up to cap - owed; public_key introduces an account this signer has not seen. Codes: account_key_mismatch, authorization_invalid, wrong_market, nonce_too_low (409), cap_too_low, root_mismatch, not_due (409), request_invalid.`,
      parameters: [path('account', 'Stacks principal of the account')],
      responses: {
        200: e('{paid, account}'),
        400: e('authorization_invalid, wrong_market, cap_too_low, root_mismatch, request_invalid'),
        409: e('nonce_too_low, not_due'),
        ...disabled,
      },
    },
  },
  '/api/v1/quote': {
    get: {
      summary:
        "The signer's signed price for one run of a model for an account (volume tier and demand; never below the on-chain price)",
      description: `${note} The quote is a SIP-018 message {account, market, model-output, price, expiry} signed by the signer key; a request carrying it is charged price x security until expiry.`,
      parameters: [
        query('account', 'Stacks principal of the account'),
        query('model_output', 'Model output id (decimal)'),
      ],
      responses: {
        200: e('{account, market, model_output, price, onchain_price, expiry, signer_public_key, signature}'),
        404: e('model_not_live or accounts_disabled'),
        503: e('No signer key to sign quotes with'),
      },
    },
  },
};
