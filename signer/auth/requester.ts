/**
 * Requester authentication: a wallet signs {method, path with query, its public key, timestamp}
 * (protocol/sip018 `signRequesterRequest`) and sends REQUESTER_AUTH_HEADERS. The signer checks the
 * timestamp window, that it was signed after this process started (the replay cache lives in
 * memory), that the signature is canonical and verifies with the key it names, and claims it in
 * the same replay cache as node requests (keyed on (r, s)). The caller then compares the key's
 * principal with what the chain says: the task's requester, or the model's owner.
 */
import type { Context } from 'hono';
import { getAddressFromPublicKey } from '@stacks/transactions';
import {
  CHAIN_ID,
  REQUESTER_AUTH_HEADERS,
  canonicalSignatureProblem,
  verifyRequesterRequest,
} from '../../protocol/index.js';
import { ApiError } from '../errors.js';
import type { Env } from '../http/index.js';

/** An authenticated requester: the key that signed, and its Stacks principal on this signer's chain. */
export interface Requester {
  publicKey: string;
  principal: string;
}

const HINT =
  'sign the request with the wallet key (protocol/sip018 signRequesterRequest over {method, path with query, public key, timestamp}) and send the x-requester-public-key, x-requester-timestamp and x-requester-signature headers, as `market` does';

/** True when the request carries any of the requester headers (so it means to be signed). */
export function hasRequesterHeaders(c: Context<Env>): boolean {
  const h = REQUESTER_AUTH_HEADERS;
  return (
    c.req.header(h.publicKey) !== undefined ||
    c.req.header(h.timestamp) !== undefined ||
    c.req.header(h.signature) !== undefined
  );
}

function invalid(c: Context<Env>, reason: string, message: string): ApiError {
  c.var.services.metrics.authFailures.inc({ reason: `requester_${reason}` });
  return new ApiError('requester_signature_invalid', message);
}

/** The Stacks principal of a compressed public key on the chain this signer serves. */
export function principalOf(publicKey: string, chainId: number): string {
  return getAddressFromPublicKey(publicKey, chainId === CHAIN_ID.mainnet ? 'mainnet' : 'testnet');
}

/**
 * Authenticates the requester of this request or throws: `missing` (no headers at all) is the
 * caller's code (`requester_signature_required`, or `upload_signature_required` for uploads, each
 * with its own hint); anything wrong with headers that were sent is `requester_signature_invalid`.
 */
export async function authenticateRequester(
  c: Context<Env>,
  missing: { code: 'requester_signature_required' | 'upload_signature_required'; hint: string },
): Promise<Requester> {
  const s = c.var.services;
  const h = REQUESTER_AUTH_HEADERS;
  if (!hasRequesterHeaders(c)) throw new ApiError(missing.code, missing.hint);
  const publicKey = c.req.header(h.publicKey)?.toLowerCase() ?? '';
  const ts = c.req.header(h.timestamp) ?? '';
  const signature = c.req.header(h.signature)?.toLowerCase() ?? '';
  if (!/^0[23][0-9a-f]{64}$/.test(publicKey))
    throw invalid(
      c,
      'form',
      `header ${h.publicKey} must be the wallet's compressed public key (66 hex characters starting with 02 or 03): ${HINT}`,
    );
  if (!/^\d{1,16}$/.test(ts))
    throw invalid(c, 'form', `header ${h.timestamp} must be the request time in Unix milliseconds: ${HINT}`);
  if (!/^[0-9a-f]{130}$/.test(signature))
    throw invalid(c, 'form', `header ${h.signature} must be a 65-byte RSV signature as 130 hex characters: ${HINT}`);
  const timestamp = Number(ts);
  const now = Date.now();
  const window = s.config.auth.timestamp_window_ms;
  if (Math.abs(now - timestamp) > window)
    throw invalid(
      c,
      'stale',
      `${h.timestamp} is ${now - timestamp} ms away from the signer's clock (allowed ±${window} ms); sign each request when sending it, and check the clock`,
    );
  // As for nodes: the replay cache is in memory, so a request signed before this process started could be a replay it never saw.
  if (timestamp < s.startedAt)
    throw invalid(
      c,
      'stale',
      `${h.timestamp} is ${s.startedAt - timestamp} ms before this signer started; sign the request afresh`,
    );
  // A malleated copy (high s, another recovery byte) must never count as a new request.
  const problem = canonicalSignatureProblem(signature);
  if (problem)
    throw invalid(
      c,
      'noncanonical',
      `signature is not canonical: ${problem}; sign with protocol/sip018 signRequesterRequest (stacks.js signStructuredData)`,
    );
  const url = new URL(c.req.url);
  const path = url.pathname + url.search;
  if (!verifyRequesterRequest({ method: c.req.method, path, publicKey, timestamp }, s.chainId, signature)) {
    throw invalid(
      c,
      'signature',
      `${h.signature} does not verify for key ${publicKey}: sign {method "${c.req.method}", path "${path}", that public key, timestamp ${timestamp}} with chain id ${s.chainId}`,
    );
  }
  if (!s.replay.claim(signature, timestamp, now))
    throw invalid(c, 'replay', 'this signed request was already used; sign every request afresh with a new timestamp');
  return { publicKey, principal: principalOf(publicKey, s.chainId) };
}
