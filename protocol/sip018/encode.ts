/**
 * The bytes a SIP-018 signature covers (`"SIP018" ‖ sha256(domain) ‖ sha256(message)`), built
 * for the hot path: the node signs and the signer checks one task-result message per result.
 *
 * Through `Cl.tuple` and `encodeStructuredDataBytes` that costs about 0.9 ms per result here,
 * most of it c32-decoding the same escrow principal again and again and hashing the same domain
 * in JavaScript. So the domain hash and the escrow principal are serialized by @stacks/transactions
 * once each and kept; only the task-result tuple's framing (fixed: four named fields, a uint and
 * two 32-byte buffers) is written here. Tests check these bytes against `encodeStructuredDataBytes`
 * on random values and against Clarity's `to-consensus-buff?` in simnet.
 */
import { createHash } from 'node:crypto';
import {
  Cl,
  STRUCTURED_DATA_PREFIX,
  hashStructuredDataBytes,
  serializeCVBytes,
  type ClarityValue,
  type TupleCV,
} from '@stacks/transactions';

const MAX_UINT = (1n << 128n) - 1n;
const domainHashes = new Map<string, Uint8Array>();
const principals = new Map<string, Uint8Array>();

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** sha256 of a domain tuple's serialization, computed once per domain by @stacks/transactions. */
function domainHash(domain: { name: string; version: string }, chainId: number, cv: () => TupleCV): Uint8Array {
  const key = `${domain.name}\u0000${domain.version}\u0000${chainId}`;
  let hash = domainHashes.get(key);
  if (!hash) domainHashes.set(key, (hash = hashStructuredDataBytes(cv())));
  return hash;
}

/** A principal's Clarity serialization, made once per principal by @stacks/transactions. */
function principalBytes(principal: string): Uint8Array {
  let bytes = principals.get(principal);
  if (!bytes) {
    bytes = serializeCVBytes(Cl.principal(principal));
    if (principals.size > 1_000) principals.clear();
    principals.set(principal, bytes);
  }
  return bytes;
}

/** 32 bytes from 64 hex characters (an optional 0x aside); throws naming the field otherwise. */
export function hash32(hex: string, field: string): Buffer {
  const clean = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (clean.length !== 64 || !/^[0-9a-fA-F]{64}$/.test(clean))
    throw new Error(`${field} must be 32 bytes of hex (64 characters), got "${hex}"`);
  return Buffer.from(clean, 'hex');
}

/** A tuple entry's name as Clarity frames it: one length byte, then the ASCII name. */
function fieldName(name: string): Buffer {
  return Buffer.concat([Buffer.of(name.length), Buffer.from(name, 'ascii')]);
}
const TUPLE_HEADER = Buffer.of(0x0c, 0, 0, 0, 4);
const ESCROW = fieldName('escrow');
const INPUT_HASH = Buffer.concat([fieldName('input-hash'), Buffer.of(0x02, 0, 0, 0, 32)]);
const OUTPUT_HASH = Buffer.concat([fieldName('output-hash'), Buffer.of(0x02, 0, 0, 0, 32)]);
const TASK_ID = Buffer.concat([fieldName('task-id'), Buffer.of(0x01)]);

/** The Clarity serialization of `{escrow, task-id, input-hash, output-hash}` (fields in Clarity's order). */
export function taskResultMessageBytes(result: {
  escrow: string;
  taskId: bigint | number;
  inputHash: string;
  outputHash: string;
}): Buffer {
  const id = BigInt(result.taskId);
  if (id < 0n || id > MAX_UINT) throw new Error(`taskId must be a uint (0 to 2^128 - 1), got ${id}`);
  const idBytes = Buffer.alloc(16);
  idBytes.writeBigUInt64BE(id >> 64n, 0);
  idBytes.writeBigUInt64BE(id & 0xffffffffffffffffn, 8);
  return Buffer.concat([
    TUPLE_HEADER,
    ESCROW,
    principalBytes(result.escrow),
    INPUT_HASH,
    hash32(result.inputHash, 'inputHash'),
    OUTPUT_HASH,
    hash32(result.outputHash, 'outputHash'),
    TASK_ID,
    idBytes,
  ]);
}

const BODY_HASH = Buffer.concat([fieldName('body-hash'), Buffer.of(0x02, 0, 0, 0, 32)]);
const METHOD = fieldName('method');
const PATH = fieldName('path');
const TIMESTAMP = Buffer.concat([fieldName('timestamp'), Buffer.of(0x01)]);

/** A string-ascii value as Clarity frames it: type 0x0d, a 4-byte length, the bytes. */
function asciiValue(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  const head = Buffer.of(0x0d, 0, 0, 0, 0);
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

/**
 * The Clarity serialization of a node request `{body-hash, method, path, timestamp}`, the tuple
 * every node call is signed over (checked per request: @stacks/transactions took about 0.2 ms to
 * serialize it). Null for what only @stacks/transactions should frame or refuse: text beyond
 * printable ASCII, a timestamp that is not a whole number of ms.
 */
export function nodeRequestMessageBytes(req: {
  method: string;
  path: string;
  bodyHash: string;
  timestamp: number;
}): Buffer | null {
  const method = req.method.toUpperCase();
  if (
    !/^[\x20-\x7e]*$/.test(method) ||
    !/^[\x20-\x7e]*$/.test(req.path) ||
    !Number.isSafeInteger(req.timestamp) ||
    req.timestamp < 0
  )
    return null;
  const ts = Buffer.alloc(16);
  ts.writeBigUInt64BE(BigInt(req.timestamp), 8);
  return Buffer.concat([
    TUPLE_HEADER,
    BODY_HASH,
    hash32(req.bodyHash, 'bodyHash'),
    METHOD,
    asciiValue(method),
    PATH,
    asciiValue(req.path),
    TIMESTAMP,
    ts,
  ]);
}

/** `"SIP018" ‖ sha256(domain) ‖ sha256(message)`: what is hashed (once more) and signed. */
export function structuredDataBytes(
  domain: { name: string; version: string },
  chainId: number,
  domainCV: () => TupleCV,
  message: Uint8Array | ClarityValue,
): Buffer {
  const bytes = message instanceof Uint8Array ? message : serializeCVBytes(message);
  return Buffer.concat([STRUCTURED_DATA_PREFIX, domainHash(domain, chainId, domainCV), sha256(bytes)]);
}
