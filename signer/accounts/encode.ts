/**
 * The SIP-018 bytes of a task request, built without stacks.js's generic serializer: admission
 * encodes every request once, and serializeCV (c32-decoding both principals each time) costs more
 * than the signature check itself. The same approach as protocol/sip018 taskResultMessageBytes:
 * Clarity's consensus form of the one tuple, principals serialized once per address by stacks.js.
 * tests/signer/prepaid-pricing.test.ts compares it byte for byte with serializeCVBytes(taskRequestCV).
 */
import { Cl, serializeCVBytes } from '@stacks/transactions';
import { ACCOUNTS_DOMAIN, accountsDomainCV, type TaskRequestJson } from '../../protocol/accounts/index.js';
import { structuredDataBytes } from '../../protocol/sip018/encode.js';

const principals = new Map<string, Buffer>();
function principalBytes(p: string): Buffer {
  let b = principals.get(p);
  if (!b) {
    b = Buffer.from(serializeCVBytes(Cl.principal(p)));
    if (principals.size > 100_000) principals.clear();
    principals.set(p, b);
  }
  return b;
}

const name = (n: string) => Buffer.concat([Buffer.of(n.length), Buffer.from(n, 'ascii')]);
function uint(v: string): Buffer {
  const n = BigInt(v);
  if (n >= 1n << 128n) throw new Error(`${v} is above a Clarity uint`);
  const b = Buffer.alloc(17);
  b[0] = 0x01;
  b.writeBigUInt64BE(n >> 64n, 1);
  b.writeBigUInt64BE(n & 0xffffffffffffffffn, 9);
  return b;
}
// Tuple fields in Clarity's order (sorted by name).
const HEADER = Buffer.of(0x0c, 0, 0, 0, 8);
const [ACCOUNT, EXPIRY, INPUT_HASH, MARKET, MAX_FEE, MODEL_OUTPUT, NONCE, SECURITY] = ['account', 'expiry', 'input-hash', 'market', 'max-fee', 'model-output', 'nonce', 'security'].map(name);
const BUFF32 = Buffer.of(0x02, 0, 0, 0, 32);

/** Consensus bytes of the request tuple (protocol/accounts taskRequestCV), from its validated JSON form. */
export function taskRequestBytes(r: TaskRequestJson): Buffer {
  return Buffer.concat([
    HEADER,
    ACCOUNT,
    principalBytes(r.account),
    EXPIRY,
    uint(r.expiry),
    INPUT_HASH,
    BUFF32,
    Buffer.from(r.input_hash, 'hex'),
    MARKET,
    principalBytes(r.market),
    MAX_FEE,
    uint(r.max_fee),
    MODEL_OUTPUT,
    uint(r.model_output),
    NONCE,
    uint(r.nonce),
    SECURITY,
    uint(r.security),
  ]);
}

/** The SIP-018 bytes (`"SIP018" ‖ domain hash ‖ message hash`) of a request, as encodeAccountsMessage(taskRequestCV(r)) gives them. */
export function encodeTaskRequest(r: TaskRequestJson, chainId: number): Buffer {
  return structuredDataBytes(ACCOUNTS_DOMAIN, chainId, () => accountsDomainCV(chainId), taskRequestBytes(r));
}
