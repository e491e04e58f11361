/**
 * An encrypted task's result (protocol/privacy/sealed.ts): its output is a cipher object sealed to
 * the requester, so the signer cannot recompute the output hash (a commitment keyed by a salt only
 * the requester and the node know). What it checks instead is the node's signature over the sealed
 * output: {escrow, task, output hash, sha256 of the ciphertext}. With it the requester can hold the
 * node to the exact ciphertext it received, and a ciphertext swapped on the way fails the check.
 */
import { canonicalJson, sha256Hex, verifySealedOutput, type CompleteTaskRequest } from '../../protocol/index.js';
import { ApiError } from '../errors.js';
import type { NodeRow } from '../nodes/index.js';
import type { Services } from '../services.js';
import type { TaskRow } from './state.js';

const CIPHER_FIELDS = ['iv', 'ephemeralPK', 'cipherText', 'mac'] as const;

/** Checks an encrypted task's sealed output and returns the output hash the node committed to. */
export function sealedOutputHash(s: Services, task: TaskRow, node: NodeRow, body: CompleteTaskRequest): string {
  const out = body.output as Record<string, unknown> | null;
  if (
    out === null ||
    typeof out !== 'object' ||
    Array.isArray(out) ||
    CIPHER_FIELDS.some((f) => typeof out[f] !== 'string')
  )
    throw new ApiError(
      'sealed_output_invalid',
      `task ${task.task_id} is encrypted: output must be the ECIES cipher object {${CIPHER_FIELDS.join(', ')}} sealed to the requester's reply_to key (protocol/privacy sealTo)`,
    );
  if (!body.sealed_signature)
    throw new ApiError(
      'sealed_output_invalid',
      `task ${task.task_id} is encrypted: sealed_signature is required (protocol/sip018 signSealedOutput over {escrow, task-id, output-hash, sealed-hash})`,
    );
  const sealedHash = sha256Hex(canonicalJson(out));
  const taskId = BigInt(task.chain_task_id ?? task.task_id);
  const signed = { escrow: s.escrow, taskId, outputHash: body.output_hash, sealedHash };
  if (!verifySealedOutput(signed, s.chainId, body.sealed_signature, node.public_key))
    throw new ApiError(
      'sealed_output_invalid',
      `sealed_signature does not verify with the key of ${node.node_id} over {escrow ${s.escrow}, task-id u${taskId}, output-hash ${body.output_hash}, sealed-hash ${sealedHash} (sha256 of the canonical JSON of output)} with chain id ${s.chainId}`,
    );
  return body.output_hash;
}
