/**
 * The SIP-018 bytes of a task request, built without stacks.js's generic serializer: admission
 * encodes every request once, and serializeCV (c32-decoding both principals each time) costs more
 * than the signature check itself. The same approach as protocol/sip018 taskResultMessageBytes:
 * Clarity's consensus form of the one tuple, principals serialized once per address by stacks.js.
 * tests/signer/prepaid-pricing.test.ts compares it byte for byte with serializeCVBytes(taskRequestCV).
 */
import { Cl, serializeCVBytes } from '@stacks/transactions';
import { ACCOUNTS_DOMAIN, accountsDomainCV, type TaskRequestJson } from '../../protocol/index.js';
import { structuredDataBytes } from '../../protocol/index.js';

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
/** Writes a Clarity uint (type byte, 16 bytes big-endian) at `at`; returns the next offset. */
function writeUint(out: Buffer, at: number, v: string): number {
  out[at] = 0x01;
  if (v.length <= 14) {
    // Below 10^14 < 2^48: no BigInt needed (most fields: fee, expiry, model output, security).
    out.fill(0, at + 1, at + 11);
    out.writeUIntBE(Number(v), at + 11, 6);
    return at + 17;
  }
  const n = BigInt(v);
  if (n >= 1n << 128n) throw new Error(`${v} is above a Clarity uint`);
  out.writeBigUInt64BE(n >> 64n, at + 1);
  out.writeBigUInt64BE(n & 0xffffffffffffffffn, at + 9);
  return at + 17;
}
function put(out: Buffer, at: number, part: Uint8Array): number {
  out.set(part, at);
  return at + part.length;
}
// Tuple fields in Clarity's order (sorted by name).
const HEADER = Buffer.of(0x0c, 0, 0, 0, 8);
const [ACCOUNT, EXPIRY, INPUT_HASH, MARKET, MAX_FEE, MODEL_OUTPUT, NONCE, SECURITY] = [
  'account',
  'expiry',
  'input-hash',
  'market',
  'max-fee',
  'model-output',
  'nonce',
  'security',
].map(name) as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer, Buffer, Buffer];
const BUFF32 = Buffer.of(0x02, 0, 0, 0, 32);
const FIXED =
  HEADER.length +
  ACCOUNT.length +
  EXPIRY.length +
  INPUT_HASH.length +
  BUFF32.length +
  32 +
  MARKET.length +
  MAX_FEE.length +
  MODEL_OUTPUT.length +
  NONCE.length +
  SECURITY.length +
  5 * 17;

/** Consensus bytes of the request tuple (protocol/accounts taskRequestCV), from its validated JSON form, written into one buffer. */
export function taskRequestBytes(r: TaskRequestJson): Buffer {
  const account = principalBytes(r.account);
  const market = principalBytes(r.market);
  const out = Buffer.allocUnsafe(FIXED + account.length + market.length);
  let at = put(out, 0, HEADER);
  at = put(out, at, ACCOUNT);
  at = put(out, at, account);
  at = put(out, at, EXPIRY);
  at = writeUint(out, at, r.expiry);
  at = put(out, at, INPUT_HASH);
  at = put(out, at, BUFF32);
  if (out.write(r.input_hash, at, 32, 'hex') !== 32)
    throw new Error(`input_hash must be 32 bytes of hex, got "${r.input_hash}"`);
  at = put(out, at + 32, MARKET);
  at = put(out, at, market);
  at = put(out, at, MAX_FEE);
  at = writeUint(out, at, r.max_fee);
  at = put(out, at, MODEL_OUTPUT);
  at = writeUint(out, at, r.model_output);
  at = put(out, at, NONCE);
  at = writeUint(out, at, r.nonce);
  at = put(out, at, SECURITY);
  writeUint(out, at, r.security);
  return out;
}

/** The SIP-018 bytes (`"SIP018" ‖ domain hash ‖ message hash`) of a request, as encodeAccountsMessage(taskRequestCV(r)) gives them. */
export function encodeTaskRequest(r: TaskRequestJson, chainId: number): Buffer {
  return structuredDataBytes(ACCOUNTS_DOMAIN, chainId, () => accountsDomainCV(chainId), taskRequestBytes(r));
}
