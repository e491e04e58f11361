/**
 * GET /api/v1/quote?account=&model_output=: the signer's signed price for one run of a model for
 * an account, good for `accounts.quote_ttl_s` (public). A request carrying it is charged its price x
 * security. The price is never below the model's on-chain price (signer/accounts/pricing.ts).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { ApiError } from '../../errors.js';
import type { Env } from '../env.js';
import { doc, valid } from '../openapi-doc.js';
import { accountsPaths } from '../openapi-accounts.js';
import { ok } from '../respond.js';
import { prepaidOf } from './requests.js';

const principal = z.string().regex(/^S[0-9A-Z]{28,40}(\.[a-zA-Z][a-zA-Z0-9-]{0,39})?$/, 'must be a Stacks principal');
const query = z
  .object({
    account: principal,
    model_output: z.string().regex(/^[0-9]{1,38}$/, 'must be a model output id (decimal)'),
  })
  .strict();

/** The quote route. */
export const quote = new Hono<Env>().get(
  '/api/v1/quote',
  doc('accounts', accountsPaths['/api/v1/quote'].get),
  valid('query', query),
  async (c) => {
    const pa = prepaidOf(c);
    const { account, model_output } = c.req.valid('query');
    const output = await pa.view.output(BigInt(model_output));
    if (!output)
      throw new ApiError(
        'model_not_live',
        `model output ${model_output} is not a live model version (unknown, upgraded or retired); GET /api/v1/models for the live ones`,
      );
    const signed = pa.pricing.quote(account, output.outputId, pa.pricing.price(account, output.price));
    if (!signed)
      throw new ApiError(
        'unavailable',
        'this signer has no key to sign quotes with (chain.private_key); send requests without a quote',
      );
    const q = signed.quote;
    return ok(c, {
      account: q.account,
      market: q.market,
      model_output: q.modelOutput.toString(),
      price: q.price.toString(),
      onchain_price: output.price.toString(),
      expiry: q.expiry.toString(),
      signer_public_key: pa.pricing.publicKey,
      signature: signed.signature,
    });
  },
);
