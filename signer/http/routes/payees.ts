/**
 * GET /api/v1/payees/{principal} and /api/v1/payees/{principal}/voucher: what the signer owes a
 * payee (node key principal, model owner, treasury) from prepaid receipts, what confirmed periods
 * credited, what it may claim on chain, and a signed voucher for the cumulative owed that the
 * payee can challenge the signer's bond with if it is not credited by settle-by.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { readPayee } from '../../accounts/index.js';
import { issueVoucher, payeeBooks } from '../../accounts/index.js';
import { ApiError } from '../../errors.js';
import type { Services } from '../../services.js';
import type { Env } from '../env.js';
import { doc, valid } from '../openapi-doc.js';
import { periodPaths } from '../openapi-periods.js';
import { ok } from '../respond.js';

const principalParam = z.object({
  principal: z
    .string()
    .regex(
      /^S[0-9A-Z]{28,40}(\.[a-zA-Z][a-zA-Z0-9-]{0,39})?$/,
      'must be a Stacks principal such as ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM',
    ),
});

function chainOf(s: Services) {
  const chain = s.catalog.chain;
  if (!chain)
    throw new ApiError(
      'unavailable',
      'this signer runs without a chain (chain.enabled = false): it settles no prepaid accounts',
    );
  return chain;
}

/** Payee routes. */
export const payees = new Hono<Env>()
  .get(
    '/api/v1/payees/:principal',
    doc('periods', periodPaths['/api/v1/payees/{principal}'].get),
    valid('param', principalParam),
    async (c) => {
      const s = c.var.services;
      const { principal } = c.req.valid('param');
      const books = payeeBooks(s, principal);
      const onChain = s.catalog.chain ? await readPayee(s, s.catalog.chain, principal) : null;
      return ok(c, {
        payee: principal,
        owed: books.owed.toString(),
        credited: books.credited.toString(),
        unsettled: (books.owed - books.credited).toString(),
        claimable: onChain ? onChain.claimable.toString() : null,
        chain: onChain && {
          credited: onChain.credited.toString(),
          penalties: onChain.penalties.toString(),
          claimable: onChain.claimable.toString(),
          claimed: onChain.claimed.toString(),
        },
      });
    },
  )
  .get(
    '/api/v1/payees/:principal/voucher',
    doc('periods', periodPaths['/api/v1/payees/{principal}/voucher'].get),
    valid('param', principalParam),
    async (c) => {
      const s = c.var.services;
      const { principal } = c.req.valid('param');
      return ok(c, await issueVoucher(s, chainOf(s), principal));
    },
  );
