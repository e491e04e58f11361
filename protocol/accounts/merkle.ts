/**
 * Receipt leaves and the Merkle tree a settlement publishes the root of. A leaf is one revealed
 * result: the account's signed request, the node that ran it, the output hash and the fee charged.
 * `accounts.clar` hashes a leaf as sha256(0x00 ‖ to-consensus-buff? leaf) and an inner node as
 * sha256(0x01 ‖ left ‖ right): the prefixes keep a leaf from passing for an inner node. An odd
 * last node rises unchanged (no duplicate, so no second leaf can share a proof). Written here
 * rather than taken from a Merkle package because the contract fixes the exact form, and the
 * form is twenty lines.
 */
import { createHash } from 'node:crypto';
import { Cl, serializeCVBytes, type TupleCV } from '@stacks/transactions';
import { hash32 } from '../sip018/index.js';
import { taskRequestCV, type TaskRequest } from './messages.js';

/** Root of a period with no leaves. */
export const EMPTY_ROOT = '00'.repeat(32);
/** Deepest proof the contract takes: 2^32 leaves per period. */
export const MAX_PROOF_DEPTH = 32;

/** One revealed, paid result. */
export interface ReceiptLeaf {
  request: TaskRequest;
  /** The account's signature of `request`, RSV hex. */
  requestSignature: string;
  /** Compressed public key of the node whose result was revealed. */
  node: string;
  outputHash: string;
  /** micro-STX charged for this task (<= request.maxFee). */
  fee: bigint;
}

/** One step of a proof: the sibling's hash, and whether it sits on the left. */
export interface ProofStep {
  hash: string;
  left: boolean;
}

/** The leaf tuple as `accounts.clar` takes it (the request's fields without `market`, then the result's). */
export function receiptLeafCV(leaf: ReceiptLeaf): TupleCV {
  if (!/^[0-9a-fA-F]{130}$/.test(leaf.requestSignature)) throw new Error('requestSignature must be 65 bytes of hex');
  if (!/^0[23][0-9a-fA-F]{64}$/.test(leaf.node))
    throw new Error('node must be a compressed public key (66 hex characters)');
  // The request's own fields, as signed, less the market (the contract checking the leaf is it).
  const { market: _market, ...request } = taskRequestCV(leaf.request).value;
  return Cl.tuple({
    ...request,
    'request-signature': Cl.bufferFromHex(leaf.requestSignature),
    node: Cl.bufferFromHex(leaf.node),
    'output-hash': Cl.buffer(hash32(leaf.outputHash, 'outputHash')),
    fee: Cl.uint(leaf.fee),
  });
}

/** The request tuple a leaf's signature is over (the market is the contract that checks it). */
export function leafRequestCV(leaf: ReceiptLeaf): TupleCV {
  return taskRequestCV(leaf.request);
}

function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

const LEAF = Buffer.of(0);
const INNER = Buffer.of(1);

/** sha256(0x00 ‖ consensus bytes of the leaf tuple), hex. */
export function leafHash(leaf: ReceiptLeaf): string {
  return sha256(LEAF, serializeCVBytes(receiptLeafCV(leaf))).toString('hex');
}

function parent(left: Buffer, right: Buffer): Buffer {
  return sha256(INNER, left, right);
}

/** Every level of the tree, leaves first. */
function levels(leafHashes: string[]): Buffer[][] {
  const out: Buffer[][] = [leafHashes.map((h) => hash32(h, 'leaf hash'))];
  while (out.at(-1)!.length > 1) {
    const below = out.at(-1)!;
    const above: Buffer[] = [];
    for (let i = 0; i < below.length; i += 2)
      above.push(i + 1 < below.length ? parent(below[i]!, below[i + 1]!) : below[i]!);
    out.push(above);
  }
  return out;
}

/** Root over leaf hashes in order (EMPTY_ROOT for none). */
export function merkleRoot(leafHashes: string[]): string {
  if (leafHashes.length === 0) return EMPTY_ROOT;
  return levels(leafHashes).at(-1)![0]!.toString('hex');
}

/** Proof of the leaf at `index`; throws when there is no such leaf. */
export function merkleProof(leafHashes: string[], index: number): ProofStep[] {
  if (!Number.isInteger(index) || index < 0 || index >= leafHashes.length)
    throw new Error(`no leaf ${index} among ${leafHashes.length}`);
  const proof: ProofStep[] = [];
  let i = index;
  for (const level of levels(leafHashes).slice(0, -1)) {
    const sibling = i % 2 === 0 ? i + 1 : i - 1;
    if (sibling < level.length) proof.push({ hash: level[sibling]!.toString('hex'), left: sibling < i });
    i = Math.floor(i / 2);
  }
  return proof;
}

/** The root a leaf hash and its proof lead to (compare it with a published root). */
export function rootFromProof(leafHashHex: string, proof: ProofStep[]): string {
  let node = hash32(leafHashHex, 'leaf hash');
  for (const step of proof) {
    const sibling = hash32(step.hash, 'proof hash');
    node = step.left ? parent(sibling, node) : parent(node, sibling);
  }
  return node.toString('hex');
}

/** A proof as the contract takes it: `(list 32 {hash: (buff 32), left: bool})`. */
export function proofCV(proof: ProofStep[]) {
  if (proof.length > MAX_PROOF_DEPTH) throw new Error(`a proof has at most ${MAX_PROOF_DEPTH} steps`);
  return Cl.list(proof.map((p) => Cl.tuple({ hash: Cl.buffer(hash32(p.hash, 'proof hash')), left: Cl.bool(p.left) })));
}
