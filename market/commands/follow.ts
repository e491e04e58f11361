/** Follows a task through the signer's statuses and prints its verified result. */
import { TASK_STATUSES, jsonHash, verifyTaskResult } from '../../protocol/index.js';
import { chainIdOf } from '../../protocol/index.js';
import { INFERENCE_ESCROW } from '../../protocol/index.js';
import type { Context } from '../context.js';
import { bar } from '../output.js';
import type { TaskResultView } from '../signer-client.js';
import { isEncrypted, openTaskResult, resealIfNeeded, resealNeeded } from './encrypted.js';

const PATH = ['pending', 'in_progress', 'completed', 'submitted', 'settled'] as const;

/**
 * A result checked here, trusting the signer for nothing: the output hashes to what the node
 * signed, and the node's SIP-018 signature binds that hash to this escrow, this chain, this
 * task and the input hash the chain recorded.
 */
export async function verifyResult(
  ctx: Context,
  r: TaskResultView,
  taskId: bigint,
): Promise<{ hashOk: boolean; signatureOk: boolean }> {
  const task = await ctx.chain.task(taskId);
  if (!task) throw new Error(`there is no task ${taskId} in the escrow`);
  const hashOk = jsonHash(r.output) === r.output_hash;
  const escrow = `${ctx.config.contracts_address}.${INFERENCE_ESCROW}`;
  const chainId = chainIdOf(ctx.config.network);
  const signatureOk = verifyTaskResult(
    { escrow, taskId, inputHash: task.inputHash, outputHash: r.output_hash },
    chainId,
    r.signature,
    r.node_public_key,
  );
  return { hashOk, signatureOk };
}

/** Polls until settled, failed or timeout (or the config's confirm timeout × 5), then prints the result. */
export async function followTask(
  ctx: Context,
  taskId: bigint,
  ref: string,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const started = Date.now();
  const limitMs = ctx.config.confirm_timeout_s * 5_000;
  const submitted = await ctx.chain.task(taskId);
  const encrypted = submitted !== null && isEncrypted(submitted);
  let status = 'unknown';
  let resealedAt = 0;
  while (Date.now() - started < limitMs) {
    const s = await ctx.signer.status(ref);
    status = s?.status ?? 'not yet seen by the signer';
    const step = PATH.indexOf(status as (typeof PATH)[number]);
    ctx.out.progress(`task ${taskId} ${bar(step < 0 ? 0 : (step + 1) / PATH.length)} ${status}`);
    if (status === 'settled' || status === 'failed' || status === 'timeout') break;
    // An encrypted task whose nodes all went away waits for its requester: seal it again (not more than every 5 s).
    if (encrypted && submitted && Date.now() - resealedAt > 5_000 && resealNeeded(s)) {
      resealedAt = Date.now();
      await resealIfNeeded(ctx, submitted, s);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  ctx.out.done();
  if (!TASK_STATUSES.includes(status as never) || status === 'failed' || status === 'timeout') {
    const hint = status === 'timeout' ? `; once its deadline passes, \`market reclaim ${taskId}\` returns the fee` : '';
    ctx.out.result({ task_id: taskId, status, ...extra }, [`task ${taskId}: ${status}${hint}`]);
    if (status !== 'settled') process.exitCode = 1;
    return;
  }
  // Served only to the requester: the wallet that submitted the task signs the request.
  const r = await ctx.signer.result(ref, ctx.wallet());
  if (encrypted) return printSealedResult(ctx, taskId, r, { status, ...extra });
  const { hashOk, signatureOk } = await verifyResult(ctx, r, taskId);
  ctx.out.result(
    {
      task_id: taskId,
      status,
      output: r.output,
      output_hash: r.output_hash,
      node: r.inference_node_id,
      node_public_key: r.node_public_key,
      signature_verified: signatureOk && hashOk,
      settlement_txid: r.settlement_txid,
      ...extra,
    },
    [
      `task ${taskId}: ${status}${r.settlement_txid ? ` (settlement tx ${r.settlement_txid})` : ''}`,
      `node ${r.inference_node_id} (${r.node_public_key})`,
      `output hash ${r.output_hash}: ${hashOk ? 'matches the output' : 'DOES NOT match the output'}`,
      `node signature: ${signatureOk ? 'verified (SIP-018)' : 'INVALID'}`,
      `output: ${JSON.stringify(r.output).slice(0, 400)}`,
    ],
  );
  if (!hashOk || !signatureOk) process.exitCode = 1;
}

/**
 * Prints an encrypted task's result once every check passed (openSealedResult): the node's two
 * signatures, the wallet key opening the ciphertext, and the salted commitment to the output hash
 * the node signed and the chain settled. A failed check throws its SealedResultError.
 */
export async function printSealedResult(
  ctx: Context,
  taskId: bigint,
  r: TaskResultView,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const task = await ctx.chain.task(taskId);
  if (!task) throw new Error(`there is no task ${taskId} in the escrow`);
  const { output } = await openTaskResult(ctx, task, taskId, r);
  ctx.out.result(
    {
      task_id: taskId,
      status: r.status,
      privacy: 'encrypted',
      output,
      output_hash: r.output_hash,
      node: r.inference_node_id,
      node_public_key: r.node_public_key,
      signature_verified: true,
      sealed_signature_verified: true,
      settlement_txid: r.settlement_txid,
      ...extra,
    },
    [
      `task ${taskId}: ${r.status}${r.settlement_txid ? ` (settlement tx ${r.settlement_txid})` : ''}, encrypted`,
      `node ${r.inference_node_id} (${r.node_public_key})`,
      'node signatures (result and sealed output): verified (SIP-018)',
      `decrypted with the wallet key; commits to output hash ${r.output_hash}${task.outputHash ? ' (settled on chain)' : ''}`,
      `output: ${JSON.stringify(output).slice(0, 400)}`,
    ],
  );
}
