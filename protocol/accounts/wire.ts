/**
 * The JSON forms of prepaid-account messages on the signer's HTTP API (`/api/v1/requests`,
 * `/api/v1/accounts/...`): snake_case fields, micro-STX and nonces as decimal strings (they may
 * exceed 2^53), hashes and keys as lowercase hex. The signer validates with these schemas and the
 * clients build with the `to…Json` functions, so both sides read one definition.
 */
import { z } from 'zod';
import { compressedPublicKey, hex32, rsvSignature } from '../api/index.js';
import type { ReceiptLeaf } from './merkle.js';
import type { PayeeVoucher, SpendAuthorization, TaskRequest } from './messages.js';

/** Largest input a request carries inline (`input_base64`) by default; a larger one is uploaded first (PUT /api/v1/inputs/{sha256}). */
export const DEFAULT_MAX_INLINE_INPUT_BYTES = 65_536;

const uintString = (what: string) =>
  z
    .string()
    .regex(
      /^(0|[1-9][0-9]{0,37})$/,
      `${what} must be a non-negative integer as a decimal string (no sign, no leading zeros)`,
    );
const principal = z
  .string()
  .regex(
    /^S[0-9A-Z]{28,40}(\.[a-zA-Z][a-zA-Z0-9-]{0,39})?$/,
    'must be a Stacks principal such as ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM',
  );

/** A task request as signed (see messages.ts TaskRequest). */
export const taskRequestJson = z
  .object({
    account: principal,
    market: principal,
    model_output: uintString('model_output'),
    input_hash: hex32,
    max_fee: uintString('max_fee'),
    expiry: uintString('expiry'),
    security: z.enum(['1', '3', '5'], { message: 'security must be "1", "3" or "5"' }),
    nonce: uintString('nonce'),
  })
  .strict();
export type TaskRequestJson = z.infer<typeof taskRequestJson>;

/** A signed spend authorization. */
export const spendAuthorizationJson = z
  .object({
    account: principal,
    market: principal,
    cumulative: uintString('cumulative'),
    nonce: uintString('nonce'),
    receipts_root: hex32,
    signature: rsvSignature,
  })
  .strict();
export type SpendAuthorizationJson = z.infer<typeof spendAuthorizationJson>;

/** A receipt leaf as the signer serves it. */
export const receiptLeafJson = z
  .object({
    request: taskRequestJson,
    request_signature: rsvSignature,
    node: compressedPublicKey,
    output_hash: hex32,
    fee: uintString('fee'),
  })
  .strict();
export type ReceiptLeafJson = z.infer<typeof receiptLeafJson>;

/** A signed payee voucher. */
export const payeeVoucherJson = z
  .object({
    payee: principal,
    market: principal,
    cumulative: uintString('cumulative'),
    settle_by: uintString('settle_by'),
    signature: rsvSignature,
  })
  .strict();
export type PayeeVoucherJson = z.infer<typeof payeeVoucherJson>;

export function toTaskRequestJson(r: TaskRequest): TaskRequestJson {
  return {
    account: r.account,
    market: r.market,
    model_output: r.modelOutput.toString(),
    input_hash: r.inputHash.toLowerCase(),
    max_fee: r.maxFee.toString(),
    expiry: r.expiry.toString(),
    security: r.security.toString() as TaskRequestJson['security'],
    nonce: r.nonce.toString(),
  };
}

export function fromTaskRequestJson(j: TaskRequestJson): TaskRequest {
  return {
    account: j.account,
    market: j.market,
    modelOutput: BigInt(j.model_output),
    inputHash: j.input_hash,
    maxFee: BigInt(j.max_fee),
    expiry: BigInt(j.expiry),
    security: BigInt(j.security),
    nonce: BigInt(j.nonce),
  };
}

export function toAuthorizationJson(a: SpendAuthorization, signature: string): SpendAuthorizationJson {
  return {
    account: a.account,
    market: a.market,
    cumulative: a.cumulative.toString(),
    nonce: a.nonce.toString(),
    receipts_root: a.receiptsRoot.toLowerCase(),
    signature,
  };
}

export function fromAuthorizationJson(j: SpendAuthorizationJson): {
  authorization: SpendAuthorization;
  signature: string;
} {
  return {
    authorization: {
      account: j.account,
      market: j.market,
      cumulative: BigInt(j.cumulative),
      nonce: BigInt(j.nonce),
      receiptsRoot: j.receipts_root,
    },
    signature: j.signature,
  };
}

export function toLeafJson(l: ReceiptLeaf): ReceiptLeafJson {
  return {
    request: toTaskRequestJson(l.request),
    request_signature: l.requestSignature,
    node: l.node,
    output_hash: l.outputHash,
    fee: l.fee.toString(),
  };
}

export function fromLeafJson(j: ReceiptLeafJson): ReceiptLeaf {
  return {
    request: fromTaskRequestJson(j.request),
    requestSignature: j.request_signature,
    node: j.node,
    outputHash: j.output_hash,
    fee: BigInt(j.fee),
  };
}

export function toVoucherJson(v: PayeeVoucher, signature: string): PayeeVoucherJson {
  return {
    payee: v.payee,
    market: v.market,
    cumulative: v.cumulative.toString(),
    settle_by: v.settleBy.toString(),
    signature,
  };
}

export function fromVoucherJson(j: PayeeVoucherJson): { voucher: PayeeVoucher; signature: string } {
  return {
    voucher: { payee: j.payee, market: j.market, cumulative: BigInt(j.cumulative), settleBy: BigInt(j.settle_by) },
    signature: j.signature,
  };
}
