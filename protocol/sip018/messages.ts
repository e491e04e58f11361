/**
 * SIP-018 structured data shared by the contracts' tests, the node agent and the signer.
 *
 * Two messages are signed with a node's key:
 * - a task result, verified on chain by `inference-escrow.complete-tasks`;
 * - an HTTP request from a node agent to the signer (method, path, body hash, timestamp).
 * Messages are built and serialized by @stacks/transactions, except the task-result tuple on the
 * hot path (see ./encode.ts). Signatures are made by libsecp256k1 (./native.ts: the native addon,
 * about 70 µs, else its WebAssembly build, about 220 µs): the same RFC 6979 signatures as stacks.js's
 * `signStructuredData` (tests compare all three), which matters because a node signs a request and
 * a result for every result it computes.
 */
import {
  Cl,
  type ClarityValue,
  type TupleCV,
  encodeStructuredDataBytes,
  publicKeyFromSignatureRsv,
  compressPublicKey,
} from '@stacks/transactions';
import { createHash } from 'node:crypto';
import { sha256Hex } from '../hash/index.js';
import { hash32, nodeRequestMessageBytes, structuredDataBytes, taskResultMessageBytes } from './encode.js';

import { isCanonicalSignature } from './canonical.js';
import { libsecp256k1, type Secp256k1 } from './native.js';
import { PRIVATE_KEY_PATTERN } from '../chain/index.js';

export { taskResultMessageBytes } from './encode.js';
export { canonicalSignatureProblem, isCanonicalSignature, signatureReplayKey, SECP256K1_HALF_N } from './canonical.js';

/** Chain ids as `chain-id` reads them in Clarity (defined with the network names, protocol/chain). */
export { CHAIN_ID } from '../chain/index.js';

/** Domain name and version the escrow contract hashes into every task-result signature. */
export const TASK_RESULT_DOMAIN = { name: 'inference-escrow', version: '1' } as const;
/** Domain for node-to-signer HTTP request signatures (never valid on chain). */
export const NODE_REQUEST_DOMAIN = { name: 'inference-signer-api', version: '1' } as const;

/** What a node signs when it reports a result: bound to one escrow contract, one task, one input, one output. */
export interface TaskResult {
  /** Contract principal of the escrow, e.g. `ST1PQ...GZGM.inference-escrow`. */
  escrow: string;
  taskId: bigint | number;
  /** 32-byte sha256, hex without 0x. */
  inputHash: string;
  /** 32-byte sha256, hex without 0x. */
  outputHash: string;
}

/** The SIP-018 domain tuple for a chain id. */
export function domainCV(domain: { name: string; version: string }, chainId: number): TupleCV {
  return Cl.tuple({
    name: Cl.stringAscii(domain.name),
    version: Cl.stringAscii(domain.version),
    'chain-id': Cl.uint(chainId),
  });
}

/** The message tuple the escrow contract rebuilds with `to-consensus-buff?`. */
export function taskResultMessageCV(result: TaskResult): TupleCV {
  return Cl.tuple({
    escrow: Cl.principal(result.escrow),
    'task-id': Cl.uint(result.taskId),
    'input-hash': Cl.buffer(hash32(result.inputHash, 'inputHash')),
    'output-hash': Cl.buffer(hash32(result.outputHash, 'outputHash')),
  });
}

/** sha256 of the SIP-018 encoding: the 32 bytes that are signed. */
export function structuredDataHash(message: ClarityValue, domain: TupleCV): string {
  return sha256Hex(encodeStructuredDataBytes({ message, domain }));
}

/** The SIP-018 encoding of a task result (`"SIP018" ‖ domain hash ‖ message hash`); its sha256 is what is signed. */
export function encodeTaskResult(result: TaskResult, chainId: number): Uint8Array {
  return structuredDataBytes(
    TASK_RESULT_DOMAIN,
    chainId,
    () => domainCV(TASK_RESULT_DOMAIN, chainId),
    taskResultMessageBytes(result),
  );
}

/** The SIP-018 encoding of a node request. */
export function encodeNodeRequest(req: NodeRequest, chainId: number): Uint8Array {
  return structuredDataBytes(
    NODE_REQUEST_DOMAIN,
    chainId,
    () => domainCV(NODE_REQUEST_DOMAIN, chainId),
    nodeRequestMessageBytes(req) ?? nodeRequestMessageCV(req),
  );
}

const signingKeys = new Map<string, Buffer>();

/** The 32 secret bytes of a Stacks private key (hex, 64 characters, or 66 with the 01 "compressed" suffix). */
function secretOf(privateKey: string): Buffer {
  let secret = signingKeys.get(privateKey);
  if (!secret) {
    if (!PRIVATE_KEY_PATTERN.test(privateKey))
      throw new Error('private key must be 32 bytes of hex (64 characters, optionally followed by 01)');
    secret = Buffer.from(privateKey.slice(0, 64), 'hex');
    if (signingKeys.size > 100) signingKeys.clear();
    signingKeys.set(privateKey, secret);
  }
  return secret;
}

/**
 * libsecp256k1, loaded on the first signature (the addon about 2.7 MB of RSS, the WebAssembly build
 * about 12 MB), which processes that only verify (the signer) never pay. SIP018_SIGN_WASM=1 signs
 * with the WebAssembly build.
 */
let secp: Secp256k1 | null = null;

/** Signs sha256(`encoded`) deterministically (RFC 6979, low s); returns the 65-byte RSV signature as hex. */
function signEncoded(encoded: Uint8Array, privateKey: string): string {
  secp ??= libsecp256k1({ wasm: process.env.SIP018_SIGN_WASM === '1' });
  return secp.sign(createHash('sha256').update(encoded).digest(), secretOf(privateKey)).toString('hex');
}

/** Signs a task result; returns a 65-byte RSV signature as hex (what `secp256k1-verify` takes). */
export function signTaskResult(result: TaskResult, chainId: number, privateKey: string): string {
  return signEncoded(encodeTaskResult(result, chainId), privateKey);
}

/** True when `signature` over the SIP-018 encoding `encoded` is canonical (./canonical.ts) and recovers to `publicKey` (compressed hex). */
function verifyEncoded(encoded: Uint8Array, signature: string, publicKey: string): boolean {
  if (!isCanonicalSignature(signature)) return false;
  if (!/^0[23][0-9a-fA-F]{64}$/.test(publicKey)) return false;
  try {
    const recovered = publicKeyFromSignatureRsv(sha256Hex(encoded), signature);
    return compressPublicKey(recovered) === publicKey.toLowerCase();
  } catch {
    return false;
  }
}

/** True when `signature` over `message` in `domain` recovers to `publicKey` (compressed hex). */
export function verifyStructuredSignature(
  message: ClarityValue,
  domain: TupleCV,
  signature: string,
  publicKey: string,
): boolean {
  return verifyEncoded(encodeStructuredDataBytes({ message, domain }), signature, publicKey);
}

/** Verifies a node's task-result signature against its registered compressed public key. */
export function verifyTaskResult(result: TaskResult, chainId: number, signature: string, publicKey: string): boolean {
  let encoded: Uint8Array;
  try {
    encoded = encodeTaskResult(result, chainId);
  } catch {
    return false;
  }
  return verifyEncoded(encoded, signature, publicKey);
}

/** What a node agent signs for each HTTP request to the signer. */
export interface NodeRequest {
  method: string;
  /** Path with query string, e.g. `/api/v1/nodes/n1/tasks?wait=20`. */
  path: string;
  /** sha256 hex of the raw body (of the empty string when there is none). */
  bodyHash: string;
  /** Unix milliseconds; the signer rejects stale or reused ones. */
  timestamp: number;
}

/** The message tuple of a node request signature. */
export function nodeRequestMessageCV(req: NodeRequest): TupleCV {
  return Cl.tuple({
    method: Cl.stringAscii(req.method.toUpperCase()),
    path: Cl.stringAscii(req.path),
    'body-hash': Cl.buffer(hash32(req.bodyHash, 'bodyHash')),
    timestamp: Cl.uint(req.timestamp),
  });
}

/** Signs a node request (RSV hex). */
export function signNodeRequest(req: NodeRequest, chainId: number, privateKey: string): string {
  return signEncoded(encodeNodeRequest(req, chainId), privateKey);
}

/** Verifies a node request signature. */
export function verifyNodeRequest(req: NodeRequest, chainId: number, signature: string, publicKey: string): boolean {
  let encoded: Uint8Array;
  try {
    encoded = encodeNodeRequest(req, chainId);
  } catch {
    return false;
  }
  return verifyEncoded(encoded, signature, publicKey);
}

/** Domain of a node's word for the ciphertext of an encrypted task's output (never valid on chain). */
export const SEALED_OUTPUT_DOMAIN = { name: 'inference-sealed-output', version: '1' } as const;

/** What a node signs beside an encrypted task's result: the output hash it settles, and the sha256 of the ciphertext it sent. */
export interface SealedOutput {
  escrow: string;
  taskId: bigint | number;
  /** The result's output hash (protocol/privacy outputCommitment). */
  outputHash: string;
  /** sha256 of the sealed output's bytes. */
  sealedHash: string;
}

function encodeSealedOutput(out: SealedOutput, chainId: number): Uint8Array {
  return structuredDataBytes(
    SEALED_OUTPUT_DOMAIN,
    chainId,
    () => domainCV(SEALED_OUTPUT_DOMAIN, chainId),
    Cl.tuple({
      escrow: Cl.principal(out.escrow),
      'task-id': Cl.uint(out.taskId),
      'output-hash': Cl.buffer(hash32(out.outputHash, 'outputHash')),
      'sealed-hash': Cl.buffer(hash32(out.sealedHash, 'sealedHash')),
    }),
  );
}

/** Signs a sealed output (RSV hex). */
export function signSealedOutput(out: SealedOutput, chainId: number, privateKey: string): string {
  return signEncoded(encodeSealedOutput(out, chainId), privateKey);
}

/** Verifies a node's signature over a sealed output against its compressed public key. */
export function verifySealedOutput(out: SealedOutput, chainId: number, signature: string, publicKey: string): boolean {
  let encoded: Uint8Array;
  try {
    encoded = encodeSealedOutput(out, chainId);
  } catch {
    return false;
  }
  return verifyEncoded(encoded, signature, publicKey);
}
