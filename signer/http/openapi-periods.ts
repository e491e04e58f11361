/** The OpenAPI paths of prepaid settlement periods and payees (routes/periods.ts, payees.ts), by path and method. */
import { z } from 'zod';
import { envelope } from '../../protocol/index.js';
import { payeeVoucherJson, receiptLeafJson } from '../../protocol/index.js';

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
  required: false,
  description,
  schema: { type: 'string' },
});
const bad = { 400: { description: 'Invalid parameter; `error` names it and the fix', ...json(anyEnvelope) } };
const missing = { 404: { description: 'Unknown period, or no such leaf in it', ...json(anyEnvelope) } };

const period = z.object({
  id: z.number().int().describe("The signer's period id"),
  root: z.string().describe('Merkle root of the leaves (hex), as published by settle-accounts'),
  tasks: z.number().int(),
  charged: z.string().describe('micro-STX charged in total (= the credits)'),
  txid: z.string().nullable(),
  status: z
    .enum(['built', 'confirmed', 'failed'])
    .describe('built: sent, not confirmed; failed: aborted or dropped, its receipts go in a later period'),
  chain_period: z.number().int().nullable().describe("The contract's period id (get-period), once confirmed"),
  created_at: z.number().int(),
  confirmed_at: z.number().int().nullable(),
});
const proofStep = z.object({ hash: z.string(), left: z.boolean().describe('true: the sibling is on the left') });

/** Paths of periods and payees. */
export const periodPaths = {
  '/api/v1/periods': {
    get: {
      summary: 'Prepaid settlement periods, oldest first (public)',
      parameters: [
        query('after', 'Only periods with a larger id (paging: next_after)'),
        query('limit', '1 to 500, default 50'),
      ],
      responses: {
        200: {
          description: '{periods, next_after}',
          ...json(envelope(z.object({ periods: z.array(period), next_after: z.number().int().nullable() }))),
        },
        ...bad,
      },
    },
  },
  '/api/v1/periods/{id}': {
    get: {
      summary:
        'A period in full: its leaf hashes in tree order, the accounts charged (spend, authorization) and the payees credited (public)',
      parameters: [path('id', 'Period id')],
      responses: {
        200: {
          description: 'Period with leaf_hashes, task_ids, items and credits',
          ...json(
            envelope(
              period.extend({
                leaf_hashes: z.array(z.string()),
                task_ids: z.array(z.string()),
                items: z.array(
                  z.object({
                    account: z.string(),
                    cumulative: z.string(),
                    nonce: z.string(),
                    receipts_root: z.string(),
                    spend: z.string(),
                  }),
                ),
                credits: z.array(z.object({ payee: z.string(), amount: z.string() })),
              }),
            ),
          ),
        },
        ...bad,
        ...missing,
      },
    },
  },
  '/api/v1/periods/{id}/proof/{task_id}': {
    get: {
      summary:
        "A leaf of a period and its Merkle proof (public): rootFromProof(leaf_hash, proof) is the period's root; challenge-receipt takes them as they are",
      parameters: [path('id', 'Period id'), path('task_id', "Prepaid task id (in the period's task_ids)")],
      responses: {
        200: {
          description:
            '{period, status, chain_period, task_id, leaf, leaf_hash, proof, root}: a proof of a failed period proves nothing on chain',
          ...json(
            envelope(
              z.object({
                period: z.number().int(),
                status: z.string(),
                chain_period: z.number().int().nullable(),
                task_id: z.string(),
                leaf: receiptLeafJson,
                leaf_hash: z.string(),
                proof: z.array(proofStep),
                root: z.string(),
              }),
            ),
          ),
        },
        ...bad,
        ...missing,
      },
    },
  },
  '/api/v1/payees/{principal}': {
    get: {
      summary:
        'What the signer owes a payee from prepaid receipts, what confirmed periods credited, and what it may claim on chain (public)',
      parameters: [path('principal', 'Payee principal (node key address, model owner, treasury)')],
      responses: {
        200: {
          description:
            '{payee, owed, credited, unsettled, claimable, chain}; claimable and chain are null without a chain',
          ...json(anyEnvelope),
        },
        ...bad,
      },
    },
  },
  '/api/v1/payees/{principal}/voucher': {
    get: {
      summary:
        "A voucher signed by the settler key for the payee's cumulative owed, due by settle_by = tip + settle-window; challenge-voucher pays the shortfall from the bond if it is not credited by then (public)",
      parameters: [path('principal', 'Payee principal')],
      responses: {
        200: {
          description: "The voucher, the signer's public key, and what is credited now",
          ...json(envelope(payeeVoucherJson.extend({ public_key: z.string(), credited: z.string() }))),
        },
        ...bad,
        503: { description: 'No chain (or it cannot be read): no vouchers', ...json(anyEnvelope) },
      },
    },
  },
};
