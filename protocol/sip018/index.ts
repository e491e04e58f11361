/**
 * SIP-018 structured data shared by the contracts' tests, the node agent and the signer.
 *
 * Two messages are signed with a node's key:
 * - a task result, verified on chain by `inference-escrow.complete-tasks`;
 * - an HTTP request from a node agent to the signer (method, path, body hash, timestamp).
 * Hashing is done by @stacks/transactions only; nothing here re-implements SIP-018.
 */
import {
  Cl,
  type ClarityValue,
  type TupleCV,
  encodeStructuredDataBytes,
  publicKeyFromSignatureRsv,
  signStructuredData,
  compressPublicKey,
} from '@stacks/transactions';
import { hexToBytes } from '@stacks/common';
import { sha256Hex } from '../hash/index.js';

/** Chain ids as `chain-id` reads them in Clarity. */
export const CHAIN_ID = { mainnet: 1, testnet: 0x80000000 } as const;

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

function hash32(hex: string, field: string): Uint8Array {
  const clean = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (!/^[0-9a-fA-F]{64}$/.test(clean)) throw new Error(`${field} must be 32 bytes of hex (64 characters), got "${hex}"`);
  return hexToBytes(clean);
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

/** Signs a task result; returns a 65-byte RSV signature as hex (what `secp256k1-verify` takes). */
export function signTaskResult(result: TaskResult, chainId: number, privateKey: string): string {
  return signStructuredData({ message: taskResultMessageCV(result), domain: domainCV(TASK_RESULT_DOMAIN, chainId), privateKey });
}

/** True when `signature` over `message` recovers to `publicKey` (compressed hex). */
export function verifyStructuredSignature(message: ClarityValue, domain: TupleCV, signature: string, publicKey: string): boolean {
  if (!/^[0-9a-fA-F]{130}$/.test(signature)) return false;
  if (!/^0[23][0-9a-fA-F]{64}$/.test(publicKey)) return false;
  try {
    const recovered = publicKeyFromSignatureRsv(structuredDataHash(message, domain), signature);
    return compressPublicKey(recovered) === publicKey.toLowerCase();
  } catch {
    return false;
  }
}

/** Verifies a node's task-result signature against its registered compressed public key. */
export function verifyTaskResult(result: TaskResult, chainId: number, signature: string, publicKey: string): boolean {
  let message: TupleCV;
  try {
    message = taskResultMessageCV(result);
  } catch {
    return false;
  }
  return verifyStructuredSignature(message, domainCV(TASK_RESULT_DOMAIN, chainId), signature, publicKey);
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
  return signStructuredData({ message: nodeRequestMessageCV(req), domain: domainCV(NODE_REQUEST_DOMAIN, chainId), privateKey });
}

/** Verifies a node request signature. */
export function verifyNodeRequest(req: NodeRequest, chainId: number, signature: string, publicKey: string): boolean {
  let message: TupleCV;
  try {
    message = nodeRequestMessageCV(req);
  } catch {
    return false;
  }
  return verifyStructuredSignature(message, domainCV(NODE_REQUEST_DOMAIN, chainId), signature, publicKey);
}
