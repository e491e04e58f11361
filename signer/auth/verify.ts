/**
 * SIP-018 signature checks through OpenSSL (node:crypto) instead of public-key recovery in
 * JavaScript: about twice as cheap, and the same rule as the escrow's `secp256k1-verify`
 * (tests compare both with protocol/sip018 and with Clarity in simnet).
 * The message bytes are still built by @stacks/transactions (encodeStructuredDataBytes).
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { encodeStructuredDataBytes } from '@stacks/transactions';
import {
  domainCV,
  nodeRequestMessageCV,
  taskResultMessageCV,
  NODE_REQUEST_DOMAIN,
  TASK_RESULT_DOMAIN,
  type NodeRequest,
  type TaskResult,
} from '../../protocol/index.js';

/** DER prefix of a SubjectPublicKeyInfo for a compressed secp256k1 point. */
const SPKI_PREFIX = Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex');
/** Half the curve order: signatures with a larger s are malleated copies of low-s ones. */
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const keys = new Map<string, KeyObject>();

function keyOf(publicKey: string): KeyObject | null {
  let key = keys.get(publicKey);
  if (key) return key;
  if (!/^0[23][0-9a-f]{64}$/.test(publicKey)) return null;
  try {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(publicKey, 'hex')]), format: 'der', type: 'spki' });
  } catch {
    return null;
  }
  if (keys.size > 10_000) keys.clear();
  keys.set(publicKey, key);
  return key;
}

/** True when the RSV `signature` over the SIP-018 encoding of message+domain verifies with `publicKey`. */
function verifyEncoded(encoded: Uint8Array, signature: string, publicKey: string): boolean {
  if (!/^[0-9a-f]{130}$/.test(signature)) return false;
  const key = keyOf(publicKey);
  if (!key) return false;
  // Clarity's secp256k1-verify ignores the recovery id but refuses one above 3; so do we.
  if (parseInt(signature.slice(128), 16) > 3) return false;
  // A high-s copy would pass on chain, but no honest signer makes one: refusing it keeps one result one signature.
  if (BigInt(`0x${signature.slice(64, 128)}`) > HALF_N) return false;
  const rs = Buffer.from(signature.slice(0, 128), 'hex');
  // SIP-018 signs sha256(encoding); OpenSSL hashes `encoded` with sha256 itself.
  return verify('sha256', encoded, { key, dsaEncoding: 'ieee-p1363' }, rs);
}

/** Same contract as protocol/sip018 verifyTaskResult. */
export function verifyTaskResultFast(result: TaskResult, chainId: number, signature: string, publicKey: string): boolean {
  let encoded: Uint8Array;
  try {
    encoded = encodeStructuredDataBytes({ message: taskResultMessageCV(result), domain: domainCV(TASK_RESULT_DOMAIN, chainId) });
  } catch {
    return false;
  }
  return verifyEncoded(encoded, signature, publicKey);
}

/** Same contract as protocol/sip018 verifyNodeRequest. */
export function verifyNodeRequestFast(req: NodeRequest, chainId: number, signature: string, publicKey: string): boolean {
  let encoded: Uint8Array;
  try {
    encoded = encodeStructuredDataBytes({ message: nodeRequestMessageCV(req), domain: domainCV(NODE_REQUEST_DOMAIN, chainId) });
  } catch {
    return false;
  }
  return verifyEncoded(encoded, signature, publicKey);
}
