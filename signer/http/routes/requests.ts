/**
 * Prepaid requests (signer/accounts):
 *  - POST /api/v1/requests: up to `accounts.max_requests_per_call` signed task requests; 202 with
 *    one outcome per item (accepted, duplicate, or refused with a code), one bad item sinking none;
 *  - GET /api/v1/requests/{task_id}/result: the result, to the account that signed the request
 *    (a requester-signed GET), once an authorization pays for it: 200 with the output and its leaf,
 *    402 payment_required with the leaf to pay, 409 result_not_ready, 410 request_failed.
 */
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { leafJsonOf, receiptOf, type PrepaidAccounts } from '../../accounts/index.js';
import { METERED } from '../../accounts/index.js';
import { authenticateRequester } from '../../auth/index.js';
import { ApiError } from '../../errors.js';
import { getTask } from '../../tasks/index.js';
import type { Env } from '../env.js';
import { limitBody } from '../limits.js';
import { doc, valid } from '../openapi-doc.js';
import { accountsPaths } from '../openapi-accounts.js';
import { ok } from '../respond.js';

/** The service, or 404 accounts_disabled. */
export function prepaidOf(c: Context<Env>): PrepaidAccounts {
  const pa = c.var.services.accounts;
  if (!pa)
    throw new ApiError(
      'accounts_disabled',
      'this signer takes no prepaid requests (accounts.enabled is off, or it runs without a chain)',
    );
  return pa;
}

/** Body of POST /api/v1/requests; each item is checked on its own (signer/accounts/intake.ts requestItem). */
export const requestsBody = z.object({ requests: z.array(z.unknown()).min(1, 'at least one request') }).strict();

/** Largest body of POST /api/v1/requests: max_requests_per_call requests with inline inputs at their limit. */
export function requestsBodyBytes(cfg: { max_requests_per_call: number; max_inline_input_bytes: number }): number {
  return cfg.max_requests_per_call * (2_048 + Math.ceil((cfg.max_inline_input_bytes * 4) / 3));
}

/** The body limit of POST /api/v1/requests: requestsBodyBytes of the accounts config. */
export const requestsBodyLimit = limitBody(
  (c) => requestsBodyBytes(c.var.services.config.accounts),
  (max) =>
    `body is larger than ${max} bytes (accounts.max_requests_per_call requests with inputs of accounts.max_inline_input_bytes); ` +
    'send fewer requests per call, or upload inputs with PUT /api/v1/inputs/{sha256}',
);

const taskParam = z.object({ task_id: z.string().regex(/^[0-9]{1,40}$/, 'must be a prepaid task id (decimal)') });

/** Prepaid request routes. */
export const requests = new Hono<Env>()
  .post(
    '/api/v1/requests',
    requestsBodyLimit,
    valid('json', requestsBody),
    doc('accounts', accountsPaths['/api/v1/requests'].post),
    async (c) => {
      const pa = prepaidOf(c);
      const items = c.req.valid('json').requests;
      const max = pa.cfg.max_requests_per_call;
      if (items.length > max)
        throw new ApiError(
          'bad_request',
          `body requests: at most ${max} requests per call (accounts.max_requests_per_call), got ${items.length}`,
        );
      return ok(c, { results: await pa.admit(items) }, 202);
    },
  )
  .get(
    '/api/v1/requests/:task_id/result',
    doc('accounts', accountsPaths['/api/v1/requests/{task_id}/result'].get),
    valid('param', taskParam),
    async (c) => {
      const pa = prepaidOf(c);
      const id = c.req.valid('param').task_id;
      const receipt = receiptOf(pa.store, id);
      // A bound API token's call (metered.ts) is the token holder's: its result is read with the token (GET /api/v1/inference/{task_id}).
      if (!receipt || receipt.request_signature === METERED)
        throw new ApiError('not_found', `task ${id} is not a prepaid request of this signer`);
      const requester = await authenticateRequester(c, {
        code: 'requester_signature_required',
        hint: `the result of prepaid request ${id} is served only to its account: sign the GET with the account key (protocol/sip018 signRequesterRequest)`,
      });
      if (requester.principal !== receipt.account)
        throw new ApiError(
          'not_requester',
          `request ${id} is of account ${receipt.account}, not of ${requester.principal} (the key that signed); only the account may read its result`,
        );
      if (receipt.status === 'failed') {
        const task = getTask(pa.store, id);
        throw new ApiError(
          'request_failed',
          `request ${id} failed: ${task?.error ?? 'no node could run it'}; nothing is charged for it`,
        );
      }
      if (receipt.status === 'running')
        throw new ApiError(
          'result_not_ready',
          `request ${id} is ${getTask(pa.store, id)?.status ?? 'running'}; ask again shortly`,
        );
      const leaf = leafJsonOf(receipt);
      if (receipt.status === 'due') {
        return c.json(
          {
            success: false as const,
            data: { task_id: id, leaf, leaf_hash: receipt.leaf_hash },
            error: `request ${id} has a result of fee ${receipt.fee} µSTX, not paid for yet: POST /api/v1/accounts/${receipt.account}/authorizations with an authorization covering this leaf (GET /api/v1/accounts/${receipt.account}/due lists every due leaf)`,
            code: 'payment_required',
          },
          402,
        );
      }
      const task = getTask(pa.store, id)!;
      if (task.output === null)
        throw new ApiError('internal', `request ${id} is paid but its output is missing; this is a bug`);
      return ok(c, {
        task_id: id,
        status: receipt.status,
        output: JSON.parse(task.output),
        output_hash: task.output_hash,
        node_public_key: task.node_public_key,
        signature: task.signature,
        // Encrypted: `output` is sealed to the account's key, and this is the node's signature over it.
        ...(task.sealed_signature ? { sealed_signature: task.sealed_signature } : {}),
        leaf,
        leaf_hash: receipt.leaf_hash,
        paid_nonce: receipt.paid_nonce,
      });
    },
  );
