/**
 * The requester's side of encrypted tasks (issue 14) that needs no network: the envelope kept on
 * this machine, and the checks a sealed result passes before its plaintext is shown.
 *
 * The envelope (protocol/privacy buildEnvelope) holds the input in clear, the salt the output is
 * committed with and the key the output is sealed to. It never leaves this machine in clear: it is
 * sealed to each reserved node, and kept here, by input hash, to seal it again to other nodes
 * (`market reseal`) and to check the output (the commitment is keyed by its salt).
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  canonicalJson,
  jsonHash,
  openEnvelope,
  outputCommitment,
  SealedDataError,
  unseal,
  verifySealedOutput,
  verifyTaskResult,
  type SealedEnvelope,
} from '../protocol/index.js';
import type { TaskResultView } from './signer-client.js';

/** Why an encrypted task's envelope or result was refused here; clients switch on the code, never the message. */
export const SEALED_CLIENT_CODES = [
  /** No envelope saved for this input hash under the data directory (another machine or data_dir submitted it). */
  'envelope_missing',
  /** The saved envelope does not parse, or its sha256 is not the task's input hash. */
  'envelope_invalid',
  /** No node signature over the sealed output, one that does not verify, or an output that is not a cipher object. */
  'sealed_output_invalid',
  /** The node's result signature (the one the chain settles) does not verify. */
  'signature_invalid',
  /** The sealed output does not open with the wallet key: sealed to another key, or altered. */
  'ciphertext_invalid',
  /** The decrypted output does not commit to the output hash the node signed or the chain settled. */
  'output_mismatch',
  /** Every key the signer offered lacks an active bond on chain: the input is sealed to none of them. */
  'no_bonded_node',
] as const;
export type SealedClientCode = (typeof SEALED_CLIENT_CODES)[number];

/** A refusal of an encrypted task's envelope or result, with a stable code. */
export class SealedResultError extends Error {
  override name = 'SealedResultError';
  constructor(
    readonly code: SealedClientCode,
    message: string,
  ) {
    super(message);
  }
}

/** A node an envelope was sealed to, and under which reservation. */
export interface SealedNode {
  node_id: string;
  public_key: string;
  reservation_id: string;
}

/** What is saved per encrypted input: the envelope, the model, and every node it was sealed to so far. */
export interface SavedEnvelope {
  input_hash: string;
  model: string;
  envelope: SealedEnvelope;
  sealed_to: SealedNode[];
  created_at: number;
}

/** Where an input's envelope is kept: `<data_dir>/sealed/<input_hash>.json`. */
export function envelopePath(dataDir: string, inputHash: string): string {
  return join(dataDir, 'sealed', `${inputHash.toLowerCase()}.json`);
}

/** Writes the envelope file (mode 0600 in a 0700 directory: it holds the input in clear) atomically. */
export function saveEnvelope(dataDir: string, saved: SavedEnvelope): string {
  const file = envelopePath(dataDir, saved.input_hash);
  mkdirSync(join(dataDir, 'sealed'), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
  // A file written before with a looser mode keeps it through writeFileSync; the rename replaces it.
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}

/** Reads the envelope saved for `inputHash` and checks that it is the one the hash commits to. */
export function loadEnvelope(dataDir: string, inputHash: string): SavedEnvelope & { bytes: Uint8Array } {
  const file = envelopePath(dataDir, inputHash);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw new SealedResultError(
      'envelope_missing',
      `no envelope saved for input ${inputHash} (${file}): only the data directory of the \`market submit --privacy encrypted\` that made it has it (set --config data_dir or MARKET_DATA_DIR to it)`,
    );
  }
  let saved: SavedEnvelope;
  try {
    saved = JSON.parse(text) as SavedEnvelope;
  } catch {
    throw new SealedResultError('envelope_invalid', `${file} is not JSON`);
  }
  const bytes = new TextEncoder().encode(canonicalJson(saved?.envelope ?? null));
  try {
    openEnvelope(bytes, inputHash);
  } catch (e) {
    if (!(e instanceof SealedDataError)) throw e;
    throw new SealedResultError('envelope_invalid', `${file}: ${e.message}`);
  }
  return { ...saved, sealed_to: Array.isArray(saved.sealed_to) ? saved.sealed_to : [], bytes };
}

/** What a sealed result is checked against: the task as the chain records it, and the wallet that reads it. */
export interface SealedResultContext {
  escrow: string;
  chainId: number;
  taskId: bigint;
  /** The task's input hash on chain (the envelope's sha256). */
  inputHash: string;
  /** The output hash the chain settled, once it did. */
  settledOutputHash: string | null;
  envelope: SealedEnvelope;
  /** The wallet's key, which `reply_to` is the public key of. */
  privateKey: string;
}

/**
 * Opens an encrypted task's result, trusting the signer for nothing: the node signed this exact
 * ciphertext and the output hash (both signatures), the ciphertext opens with the wallet key, and
 * the plaintext commits (HMAC keyed by the envelope's salt) to the output hash the node signed and
 * the chain settled. Returns the output JSON as the node encoded it, and parsed.
 */
export async function openSealedResult(
  r: TaskResultView,
  c: SealedResultContext,
): Promise<{ outputJson: string; output: unknown }> {
  const node = r.node_public_key;
  const taskRef = { escrow: c.escrow, taskId: c.taskId, outputHash: r.output_hash };
  if (
    r.output === null ||
    typeof r.output !== 'object' ||
    typeof (r.output as { cipherText?: unknown }).cipherText !== 'string'
  )
    throw new SealedResultError('sealed_output_invalid', `task ${c.taskId}'s output is not an ECIES cipher object`);
  if (!r.sealed_signature)
    throw new SealedResultError(
      'sealed_output_invalid',
      `task ${c.taskId}'s result carries no signature over its sealed output`,
    );
  const sealed = new TextEncoder().encode(canonicalJson(r.output));
  if (!verifySealedOutput({ ...taskRef, sealedHash: jsonHash(r.output) }, c.chainId, r.sealed_signature, node))
    throw new SealedResultError(
      'sealed_output_invalid',
      `node ${node} did not sign this sealed output of task ${c.taskId}: it was altered or swapped`,
    );
  if (!verifyTaskResult({ ...taskRef, inputHash: c.inputHash }, c.chainId, r.signature, node))
    throw new SealedResultError(
      'signature_invalid',
      `node ${node}'s result signature for task ${c.taskId} does not verify`,
    );
  let plain: Uint8Array;
  try {
    plain = await unseal(c.privateKey, sealed);
  } catch (e) {
    if (!(e instanceof SealedDataError)) throw e;
    throw new SealedResultError('ciphertext_invalid', e.message);
  }
  const outputJson = new TextDecoder().decode(plain);
  const commitment = outputCommitment(c.envelope.salt, outputJson);
  if (commitment !== r.output_hash)
    throw new SealedResultError(
      'output_mismatch',
      `the decrypted output commits to ${commitment}, not to the output hash ${r.output_hash} the node signed`,
    );
  if (c.settledOutputHash !== null && c.settledOutputHash !== commitment)
    throw new SealedResultError(
      'output_mismatch',
      `the decrypted output commits to ${commitment}, not to the output hash ${c.settledOutputHash} the chain settled`,
    );
  try {
    return { outputJson, output: JSON.parse(outputJson) };
  } catch {
    throw new SealedResultError('sealed_output_invalid', `task ${c.taskId}'s decrypted output is not JSON`);
  }
}
