/** `market submit`: escrow a fee on chain for one inference and follow it to its result. */
import { readFileSync } from 'node:fs';
import { Pc, ClarityType } from '@stacks/transactions';
import { INFERENCE_ESCROW, SECURITY_LEVELS, submitTaskArgs } from '../../protocol/index.js';
import {
  isBinaryInputs,
  jsonInputsToBinary,
  privacyCode,
  PRIVACY_MODES,
  type PrivacyMode,
} from '../../protocol/index.js';
import type { Context } from '../context.js';
import { checkInputs, InputMismatch } from '../inputs.js';
import { chainTaskRef } from '../signer-client.js';
import { nodesFor, sealInput } from './encrypted.js';
import { followTask } from './follow.js';

export interface SubmitOptions {
  model: string;
  input: string;
  fee?: string;
  maxBlocks?: string;
  priority?: string;
  privacy?: string;
  /** How many nodes must agree on the output: 1 (default; spot-checked), 3 or 5. The default fee is the price times this. */
  security?: string;
  /** Upload a JSON input in the binary tensor form (smaller, and cheaper for the node to decode). */
  binary?: boolean;
  wait: boolean;
}

/** Reads `--input`, converted to the binary tensor form with `--binary`. */
export function readInput(file: string, binary?: boolean): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read --input ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (binary && !isBinaryInputs(bytes)) {
    try {
      bytes = jsonInputsToBinary(bytes);
    } catch (e) {
      throw new Error(`--binary: cannot convert --input ${file}: ${(e as Error).message}`);
    }
  }
  return bytes;
}

/** Parses a whole-number flag. */
export function whole(value: string | undefined, flag: string, fallback: bigint): bigint {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new Error(`${flag} must be a whole number, got "${value}"`);
  return BigInt(value);
}

/**
 * Refuses, before anything is uploaded or paid, an input that does not fit the model's inputs as
 * the signer records them for its live artifact. When the signer cannot say (it does not hold the
 * file), the check is skipped with a warning: the nodes still check, at the price of the fee.
 */
export async function checkAgainstModel(
  ctx: Context,
  model: string,
  artifactHash: string,
  bytes: Uint8Array,
): Promise<void> {
  const io = await ctx.signer.modelInputs(model);
  if (!io || io.artifactHash !== artifactHash) {
    const artifact = `${artifactHash.slice(0, 12)}…`;
    const note = 'the input is not checked before paying';
    process.stderr.write(`warning: the signer lists no inputs for "${model}" (artifact ${artifact}): ${note}\n`);
    return;
  }
  try {
    checkInputs(bytes, model, io.inputs);
  } catch (e) {
    if (!(e instanceof InputMismatch)) throw e;
    const why = `the nodes of model "${model}" would refuse this input, an on-chain task's fee escrowed until its deadline`;
    throw new Error(`${e.message}; nothing was sent (${why})`);
  }
}

/** Runs `market submit`. */
export async function submit(ctx: Context, opts: SubmitOptions): Promise<void> {
  const wallet = ctx.wallet();
  const head = await ctx.chain.modelHead(opts.model);
  if (!head || head.outputId === null)
    throw new Error(`model "${opts.model}" is not deployed or was retired; \`market models\` lists the live ones`);
  const security = whole(opts.security, '--security', 1n);
  if (!SECURITY_LEVELS.includes(Number(security) as 1 | 3 | 5))
    throw new Error(`--security must be 1, 3 or 5 (how many nodes must agree), got ${security}`);
  const minFee = head.price * security;
  const fee = whole(opts.fee, '--fee', minFee);
  if (fee < minFee)
    throw new Error(
      `--fee ${fee} is below ${minFee} µSTX: the price of "${opts.model}" (${head.price} µSTX) times --security ${security}`,
    );
  const maxBlocks = whole(opts.maxBlocks, '--max-blocks', 100n);
  // submit-task aborts outside the escrow's bounds, and the transaction's fee would be spent for nothing.
  const limits = await ctx.chain.escrowBlockLimits();
  if (maxBlocks < limits.minBlocks || maxBlocks > limits.maxBlocks)
    throw new Error(
      `--max-blocks must be from ${limits.minBlocks} to ${limits.maxBlocks} (the escrow's get-config), got ${maxBlocks}; nothing was sent`,
    );
  const priority = whole(opts.priority, '--priority', 0n);
  const privacy = (opts.privacy ?? 'standard') as PrivacyMode;
  if (!PRIVACY_MODES.includes(privacy)) throw new Error(`--privacy must be one of ${PRIVACY_MODES.join(', ')}`);

  const bytes = readInput(opts.input, opts.binary);
  // Checked in clear here, before it is sealed: an encrypted input is ciphertext to everyone but its nodes.
  await checkAgainstModel(ctx, opts.model, head.artifactHash, bytes);
  let inputHash: string;
  let sealed: Record<string, unknown> = {};
  if (privacy === 'encrypted') {
    ctx.out.progress(`reserving ${nodesFor(security)} node(s) to seal the input (${bytes.length} bytes) to`);
    const s = await sealInput(ctx, { model: opts.model, bytes, binary: !!opts.binary, security });
    inputHash = s.inputHash;
    sealed = { privacy, sealed_to: s.nodes.map((n) => n.node_id), envelope_file: s.file };
  } else {
    ctx.out.progress(`uploading input (${bytes.length} bytes) to the signer`);
    // Signed by the wallet that will submit the task: the signer stores inputs only from a signed requester (within its cap) or for a task already on chain.
    inputHash = await ctx.signer.putInput(bytes, wallet, opts.model);
  }

  ctx.out.progress(`signing submit-task (fee ${fee} µSTX, model output ${head.outputId}, security ${security})`);
  const txid = await ctx.chain.call(
    wallet,
    INFERENCE_ESCROW,
    'submit-task',
    submitTaskArgs({
      modelOutput: head.outputId,
      inputHash,
      fee,
      maxBlocks,
      privacy: privacyCode(privacy),
      priority,
      security,
    }),
    // The wallet sends exactly the fee and nothing else: the node aborts the call otherwise.
    [Pc.principal(wallet.address).willSendEq(fee).ustx()],
  );
  const confirmed = await ctx.chain.confirm(txid, (s) =>
    ctx.out.progress(`waiting for ${txid.slice(0, 12)}… to be mined (${s.toFixed(0)} s)`),
  );
  const r = confirmed.result;
  if (r.type !== ClarityType.ResponseOk || r.value.type !== ClarityType.UInt)
    throw new Error(`unexpected submit-task result in ${txid}`);
  const taskId = BigInt(r.value.value);
  ctx.out.progress(`task ${taskId} escrowed in block ${confirmed.blockHeight}`);
  if (!opts.wait) {
    ctx.out.done();
    ctx.out.result({ task_id: taskId, txid, input_hash: inputHash, fee, ...sealed }, [
      `task ${taskId} submitted (tx ${txid}); follow it with: market status ${taskId}`,
      ...(privacy === 'encrypted' ? [`its input is sealed; if its nodes go away: market reseal ${taskId}`] : []),
    ]);
    return;
  }
  await followTask(ctx, taskId, chainTaskRef(taskId), { txid, inputHash, fee, ...sealed });
}
