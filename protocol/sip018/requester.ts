/**
 * The requester's request: what a user's wallet key signs to read its task's result or to
 * upload a blob (an input, or a model file as the model's owner). The signer derives the
 * principal from the signed public key and compares it with the task's requester or the model's
 * owner recorded on chain; the timestamp and the signer's replay cache make a signature good for
 * one request only.
 *
 * There is no body hash: every route that takes one (`GET .../result`, `PUT .../inputs/{sha256}`,
 * `PUT .../models/{sha256}/artifact`) names its content by sha256 in the signed path, and the
 * signer refuses bytes that do not hash to it. The public key is part of the message, so a
 * signature cannot be presented as coming from another key. The domain is its own, never the
 * escrow's, so such a signature is worth nothing on chain or as a node request.
 */
import { Cl, compressPublicKey, privateKeyToPublic, signStructuredData, type TupleCV } from '@stacks/transactions';
import { REQUESTER_AUTH_HEADERS } from '../api/index.js';
import { hash32 } from './encode.js';
import { domainCV, verifyStructuredSignature } from './messages.js';

/** Domain of requester request signatures (never valid on chain, nor as a node request). */
export const REQUESTER_REQUEST_DOMAIN = { name: 'inference-signer-requester', version: '1' } as const;

/** What a requester signs for one HTTP request to the signer. */
export interface RequesterRequest {
  method: string;
  /** Path with query string, exactly as sent, e.g. `/api/v1/tasks/7/result`. */
  path: string;
  /** Compressed secp256k1 public key (66 hex characters) whose principal is the requester. */
  publicKey: string;
  /** Unix milliseconds; the signer refuses stale and reused ones. */
  timestamp: number;
}

/** The message tuple: `{method, path, public-key, timestamp}`. Throws on a path that is not ASCII or a malformed key. */
export function requesterRequestMessageCV(req: RequesterRequest): TupleCV {
  if (!/^0[23][0-9a-fA-F]{64}$/.test(req.publicKey))
    throw new Error(`publicKey must be a compressed secp256k1 public key (66 hex characters), got "${req.publicKey}"`);
  // 33 bytes: the leading byte of the compressed point, then x (hash32 checks the 64 hex characters of x).
  const key = Buffer.concat([
    Buffer.from(req.publicKey.slice(0, 2), 'hex'),
    hash32(req.publicKey.slice(2), 'publicKey'),
  ]);
  return Cl.tuple({
    method: Cl.stringAscii(req.method.toUpperCase()),
    path: Cl.stringAscii(req.path),
    'public-key': Cl.buffer(key),
    timestamp: Cl.uint(req.timestamp),
  });
}

/** Signs a requester request with the wallet key (stacks.js `signStructuredData`: RFC 6979, low s); RSV hex. */
export function signRequesterRequest(req: RequesterRequest, chainId: number, privateKey: string): string {
  return signStructuredData({
    message: requesterRequestMessageCV(req),
    domain: domainCV(REQUESTER_REQUEST_DOMAIN, chainId),
    privateKey,
  });
}

/** True when `signature` is a canonical signature of `req` by `req.publicKey`. */
export function verifyRequesterRequest(req: RequesterRequest, chainId: number, signature: string): boolean {
  let message: TupleCV;
  try {
    message = requesterRequestMessageCV(req);
  } catch {
    return false;
  }
  return verifyStructuredSignature(
    message,
    domainCV(REQUESTER_REQUEST_DOMAIN, chainId),
    signature,
    req.publicKey.toLowerCase(),
  );
}

/** The compressed public key (hex) of a wallet's private key. */
export function requesterPublicKey(privateKey: string): string {
  return compressPublicKey(privateKeyToPublic(privateKey));
}

/**
 * The three headers of a signed requester request (REQUESTER_AUTH_HEADERS) for `method` and
 * `path` (with its query string), signed now with the wallet's `privateKey`.
 */
export function requesterAuthHeaders(
  method: string,
  path: string,
  chainId: number,
  privateKey: string,
  timestamp = Date.now(),
): Record<string, string> {
  const publicKey = requesterPublicKey(privateKey);
  const signature = signRequesterRequest({ method, path, publicKey, timestamp }, chainId, privateKey);
  return {
    [REQUESTER_AUTH_HEADERS.publicKey]: publicKey,
    [REQUESTER_AUTH_HEADERS.timestamp]: String(timestamp),
    [REQUESTER_AUTH_HEADERS.signature]: signature,
  };
}
