/** `market status`, `market result`, `market reclaim`: one task, by its on-chain id. */
import { Pc, ClarityType } from '@stacks/transactions';
import { INFERENCE_ESCROW, PRIVACY_MODES, reclaimArgs } from '../../protocol/index.js';
import type { Context } from '../context.js';
import { SignerRefusal, chainTaskRef } from '../signer-client.js';
import { isEncrypted, resealNeeded } from './encrypted.js';
import { printSealedResult, verifyResult } from './follow.js';

/** Parses a task id argument. */
export function taskIdArg(value: string | undefined): bigint {
  if (!value || !/^\d+$/.test(value))
    throw new Error(`give the on-chain task id, a whole number (got "${value ?? ''}")`);
  return BigInt(value);
}

/** `market status ID`: the escrow's view and the signer's. */
export async function status(ctx: Context, taskId: bigint): Promise<void> {
  const onChain = await ctx.chain.task(taskId);
  if (!onChain) throw new Error(`there is no task ${taskId} in the escrow`);
  const tip = await ctx.chain.tipHeight();
  const off = await ctx.signer.status(chainTaskRef(taskId)).catch((e: Error) => ({ status: `unknown (${e.message})` }));
  // The node's reason when the task failed (or the signer's, for a timeout): what to fix before submitting again.
  // Once a node's result is in, an earlier attempt's reason (an expired lease) is history, not news.
  const done = ['completed', 'submitted', 'settled'].includes(String(off?.status));
  const error = !done && off && 'error' in off && typeof off.error === 'string' ? off.error : null;
  const signerLine = `signer: ${off?.status ?? 'not seen yet'}${error ? ` (${error})` : ''}`;
  // An encrypted task none of whose nodes is online waits for its requester to seal the input to others.
  const gone = resealNeeded(off);
  const resealLine = gone
    ? [`needs reseal: ${gone.join(', ') || 'its nodes'} went away; run market reseal ${taskId}`]
    : [];
  ctx.out.result(
    {
      task_id: taskId,
      chain_status: onChain.status,
      signer_status: off?.status ?? null,
      error,
      fee: onChain.fee,
      deadline: onChain.deadline,
      tip_height: tip,
      model: onChain.model,
      requester: onChain.requester,
      privacy: PRIVACY_MODES[onChain.privacy] ?? onChain.privacy,
      ...(gone ? { needs_reseal: true, sealed_nodes: gone } : {}),
    },
    [
      `task ${taskId} (${onChain.model}, fee ${onChain.fee} µSTX, requester ${onChain.requester})`,
      `terms: security level ${onChain.security}, owner ${onChain.ownerBps / 100}%, treasury ${onChain.treasuryBps / 100}% to ${onChain.treasury} (fixed at submission)`,
      `escrow: ${onChain.status}; deadline block ${onChain.deadline} (tip ${tip}${onChain.status === 'pending' && BigInt(tip) > onChain.deadline ? ', past: reclaimable' : ''})`,
      signerLine,
      ...resealLine,
    ],
  );
}

/**
 * `market result ID`: the output, read as the task's requester (a request signed with the wallet
 * key), with the node's signature checked here. The signer releases it once the task is settled.
 */
export async function result(ctx: Context, taskId: bigint): Promise<void> {
  const task = await ctx.chain.task(taskId);
  if (!task)
    throw new Error(
      `there is no task ${taskId} in the escrow; \`market submit\` prints the id of each task it submits (a prepaid task: market result --prepaid ID)`,
    );
  const r = await ctx.signer.result(chainTaskRef(taskId), ctx.wallet()).catch((e: unknown) => {
    // The hint is added to the refusal, which keeps its code for scripts.
    if (e instanceof SignerRefusal && e.code === 'result_withheld' && task.status === 'refunded')
      throw new SignerRefusal(
        `task ${taskId} was not settled by its deadline and its fee was refunded: its result is never released`,
        e.status,
        e.code,
      );
    if (e instanceof SignerRefusal && e.code === 'result_not_settled')
      throw new SignerRefusal(`${e.message}\n\`market status ${taskId}\` shows where it is`, e.status, e.code);
    if (e instanceof SignerRefusal && e.code === 'not_requester')
      throw new SignerRefusal(
        `${e.message}\nuse the key that submitted the task (MARKET_PRIVATE_KEY or --key-file)`,
        e.status,
        e.code,
      );
    throw e;
  });
  if (isEncrypted(task)) return printSealedResult(ctx, taskId, r);
  const { hashOk, signatureOk } = await verifyResult(ctx, r, taskId);
  ctx.out.result({ ...r, signature_verified: hashOk && signatureOk }, [
    `task ${taskId}: ${r.status}, node ${r.inference_node_id}`,
    `signature ${signatureOk && hashOk ? 'verified' : 'INVALID'}; output hash ${r.output_hash}`,
    `output: ${JSON.stringify(r.output)}`,
  ]);
  if (!hashOk || !signatureOk) process.exitCode = 1;
}

/** `market reclaim ID`: after the deadline, the escrow returns the fee to its requester. */
export async function reclaim(ctx: Context, taskId: bigint): Promise<void> {
  const wallet = ctx.wallet();
  const task = await ctx.chain.task(taskId);
  if (!task) throw new Error(`there is no task ${taskId} in the escrow`);
  if (task.status !== 'pending')
    throw new Error(`task ${taskId} is already ${task.status}; only a pending task can be reclaimed`);
  const tip = await ctx.chain.tipHeight();
  if (BigInt(tip) <= task.deadline) {
    const left = task.deadline - BigInt(tip) + 1n;
    // On an idle chain blocks still come: npm start's devnet makes an empty one after 5 s without a transaction.
    const when =
      ctx.config.network === 'devnet'
        ? ` (the devnet npm start runs makes a block at least every 5 s, so within about ${left * 5n} s)`
        : '';
    throw new Error(
      `task ${taskId}'s deadline is block ${task.deadline} and the tip is ${tip}: reclaim once ${left} more block${left === 1n ? ' is' : 's are'} mined${when}`,
    );
  }
  const escrow = `${ctx.config.contracts_address}.${INFERENCE_ESCROW}`;
  const txid = await ctx.chain.call(wallet, INFERENCE_ESCROW, 'reclaim', reclaimArgs(taskId), [
    Pc.principal(escrow).willSendEq(task.fee).ustx(),
  ]);
  const c = await ctx.chain.confirm(txid, (s) =>
    ctx.out.progress(`waiting for reclaim ${txid.slice(0, 12)}… (${s.toFixed(0)} s)`),
  );
  ctx.out.done();
  const refunded =
    c.result.type === ClarityType.ResponseOk && c.result.value.type === ClarityType.UInt
      ? BigInt(c.result.value.value)
      : task.fee;
  ctx.out.result({ task_id: taskId, txid, refunded, to: task.requester }, [
    `task ${taskId}: ${refunded} µSTX returned to ${task.requester} (tx ${txid})`,
  ]);
}
