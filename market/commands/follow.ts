/** Follows a task through the signer's statuses and prints its verified result. */
import { TASK_STATUSES, jsonHash, verifyTaskResult } from '../../protocol/index.js';
import type { Context } from '../context.js';
import { bar } from '../output.js';
import type { TaskResultView } from '../signer-client.js';

const PATH = ['pending', 'in_progress', 'completed', 'submitted', 'settled'] as const;

/** A result checked locally: the output hashes to what the node signed, and the signature is the node's. */
export function verifyResult(r: TaskResultView, taskId: bigint): { hashOk: boolean; signatureOk: boolean } {
  const hashOk = jsonHash(r.output) === r.output_hash;
  const signatureOk = verifyTaskResult({ escrow: r.escrow, taskId, inputHash: r.input_hash, outputHash: r.output_hash }, r.chain_id, r.signature, r.node_public_key);
  return { hashOk, signatureOk };
}

/** Polls until settled, failed or timeout (or the config's confirm timeout × 5), then prints the result. */
export async function followTask(ctx: Context, taskId: bigint, ref: string, extra: Record<string, unknown> = {}): Promise<void> {
  const started = Date.now();
  const limitMs = ctx.config.confirm_timeout_s * 5_000;
  let status = 'unknown';
  while (Date.now() - started < limitMs) {
    const s = await ctx.signer.status(ref);
    status = s?.status ?? 'not yet seen by the signer';
    const step = PATH.indexOf(status as (typeof PATH)[number]);
    ctx.out.progress(`task ${taskId} ${bar(step < 0 ? 0 : (step + 1) / PATH.length)} ${status}`);
    if (status === 'settled' || status === 'failed' || status === 'timeout') break;
    await new Promise((r) => setTimeout(r, 300));
  }
  ctx.out.done();
  if (!TASK_STATUSES.includes(status as never) || status === 'failed' || status === 'timeout') {
    const hint = status === 'timeout' ? `; once its deadline passes, \`market reclaim ${taskId}\` returns the fee` : '';
    ctx.out.result({ task_id: taskId, status, ...extra }, [`task ${taskId}: ${status}${hint}`]);
    if (status !== 'settled') process.exitCode = 1;
    return;
  }
  const r = await ctx.signer.result(ref);
  if (!r) throw new Error(`task ${taskId} is ${status} but the signer has no result for it`);
  const { hashOk, signatureOk } = verifyResult(r, taskId);
  ctx.out.result(
    { task_id: taskId, status, output: r.output, output_hash: r.output_hash, node: r.inference_node_id, node_public_key: r.node_public_key, signature_verified: signatureOk && hashOk, settlement_txid: r.settlement_txid, ...extra },
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
