/**
 * The requester's side of "pay, then reveal": sign a request, and before a result is revealed,
 * check what the signer asks to be paid for and sign a cumulative authorization covering it.
 * The checks are what make a blind signature impossible: every leaf must be a request this key
 * signed, at this market, charged no more than its max fee, and the new cap is the old cap plus
 * exactly the leaves' fees.
 */
import { leafHash, merkleRoot, type ReceiptLeaf } from './merkle.js';
import {
  principalOfKey,
  publicKeyOf,
  signAccountsMessage,
  spendAuthorizationCV,
  taskRequestCV,
  verifyAccountsMessage,
  type SpendAuthorization,
  type TaskRequest,
} from './messages.js';

/** A task request and the account key's signature of it. */
export function signTaskRequest(request: TaskRequest, chainId: number, privateKey: string): string {
  return signAccountsMessage(taskRequestCV(request), chainId, privateKey);
}

/** The latest authorization an account signed: where the next one continues from. */
export interface AuthorizationState {
  cumulative: bigint;
  nonce: bigint;
}

/**
 * Checks `leaves` against the account's key and signs the authorization that pays for them on top
 * of `previous`. Throws, naming the leaf, when a leaf is not this account's own signed request at
 * `market`, or charges more than its max fee.
 */
export function authorizeLeaves(
  previous: AuthorizationState,
  leaves: ReceiptLeaf[],
  market: string,
  chainId: number,
  privateKey: string,
): { authorization: SpendAuthorization; signature: string } {
  const publicKey = publicKeyOf(privateKey);
  const account = principalOfKey(publicKey, chainId);
  if (leaves.length === 0) throw new Error('nothing to pay for: no leaves');
  let total = 0n;
  for (const [i, leaf] of leaves.entries()) {
    const r = leaf.request;
    if (r.account !== account) throw new Error(`leaf ${i} charges account ${r.account}, not ${account}`);
    if (r.market !== market) throw new Error(`leaf ${i} is a request at ${r.market}, not at ${market}`);
    if (!verifyAccountsMessage(taskRequestCV(r), chainId, leaf.requestSignature, publicKey))
      throw new Error(`leaf ${i} (nonce ${r.nonce}) carries a request this key never signed`);
    if (leaf.fee > r.maxFee)
      throw new Error(`leaf ${i} (nonce ${r.nonce}) charges ${leaf.fee} µSTX, above its max fee ${r.maxFee}`);
    total += leaf.fee;
  }
  const authorization: SpendAuthorization = {
    account,
    market,
    cumulative: previous.cumulative + total,
    nonce: previous.nonce + 1n,
    receiptsRoot: merkleRoot(leaves.map(leafHash)),
  };
  return { authorization, signature: signAccountsMessage(spendAuthorizationCV(authorization), chainId, privateKey) };
}

/**
 * A prepaid task's id in the signer's task table: 2^101 plus the first 12 bytes of the request's
 * signed hash. Deterministic, so a request posted twice is one task; above direct tasks' 2^100
 * range and far above the escrow's sequence, so a node's signature over it is never a chain
 * task's or a direct task's.
 */
export const PREPAID_TASK_ID_BASE = 1n << 101n;

/** The task id of a request, from its SIP-018 hash (hex). */
export function prepaidTaskId(requestHash: string): string {
  return (PREPAID_TASK_ID_BASE + BigInt(`0x${requestHash.slice(0, 24)}`)).toString();
}
