/**
 * `market submit --prepaid` and `market result --prepaid ID`: one task paid from the wallet's
 * prepaid account, no transaction. The request is signed and posted; once the signer has a
 * result, the client checks the leaf it asks to be paid for, signs the authorization that pays
 * it, and only then reads the output, checking it hashes to the leaf's output hash.
 */
import { chainIdOf, INFERENCE_ESCROW, SECURITY_LEVELS } from '../../protocol/index.js';
import { DEFAULT_MAX_INLINE_INPUT_BYTES, sha256Hex, type ErrorCode } from '../../protocol/index.js';
import type { Context } from '../context.js';
import { DishonestSigner, type PrepaidClient, type Revealed } from '../prepaid.js';
import { SignerRefusal } from '../signer-client.js';
import { prepaidClient } from './account.js';
import { checkAgainstModel, readInput, whole } from './submit.js';
import { nodesFor, sealInput } from './encrypted.js';
import { dataDirOf } from '../config.js';
import { loadEnvelope, openSealedResult } from '../sealed.js';
import type { TaskResultView } from '../signer-client.js';

export interface PrepaidSubmitOptions {
  model: string;
  input: string;
  security?: string;
  /** Most µSTX this task may cost; default the model's price × security. */
  maxFee?: string;
  /** Seconds the signer has to start it; default 600. */
  expiresIn?: string;
  binary?: boolean;
  wait: boolean;
  /** `encrypted`: the input is sealed here to reserved nodes and the request carries none (market/commands/encrypted.ts). */
  privacy?: 'standard' | 'encrypted';
}

/** What to do about a refusal, by its code (never by its text). */
export function prepaidAdvice(code: ErrorCode | null): string | null {
  switch (code) {
    case 'max_fee_too_low':
      return 'the signer prices this task above --max-fee: raise --max-fee (the signer quotes its price at GET /api/v1/quote?account=<account>&model_output=<id>)';
    case 'insufficient_deposit':
      return "the account's deposit, less what it owes and has reserved for running tasks, is below this task's max fee: market account deposit <µSTX> (market account balance shows what is available)";
    case 'account_withdrawing':
      return 'this account asked to withdraw, so the signer takes no new requests from it: market account withdraw once the window passes, then deposit again';
    case 'input_missing':
      return 'the signer holds no input for it: post a clear input again with the request (input_base64), or seal an encrypted one to reserved nodes first (market does both)';
    case 'request_failed':
      return 'the task was not run before its expiry, or its runs failed; nothing is charged for it: submit it again';
    case 'requester_signature_invalid':
      return "the signer refused the wallet's signature: check the machine's clock and --network";
    default:
      return null;
  }
}

function explain(e: unknown): never {
  if (e instanceof SignerRefusal) {
    const advice = prepaidAdvice(e.code);
    // Still a refusal, with its code: the CLI prints it in brackets for scripts to switch on.
    throw new SignerRefusal(advice ? `${e.message}\n${advice}` : e.message, e.status, e.code);
  }
  if (e instanceof DishonestSigner)
    throw new Error(`${e.message}\nnothing was signed for it; keep this output as evidence (code ${e.code})`);
  throw e;
}

async function follow(ctx: Context, client: PrepaidClient, taskId: string): Promise<Revealed> {
  let last = '';
  return client.waitFor(taskId, {
    timeoutMs: ctx.config.confirm_timeout_s * 5_000,
    onState: (s) => {
      if (s !== last)
        ctx.out.progress(`task ${taskId}: ${s === 'due' ? 'done; paying for it (signing an authorization)' : s}`);
      last = s;
    },
  });
}

function print(ctx: Context, r: Revealed, extra: Record<string, unknown> = {}): void {
  ctx.out.done();
  ctx.out.result(
    {
      task_id: r.taskId,
      output: r.output,
      output_hash: r.outputHash,
      fee: r.leaf.fee,
      node_public_key: r.leaf.node,
      output_verified: true,
      ...extra,
    },
    [
      `task ${r.taskId}: paid ${r.leaf.fee} µSTX from the account (max fee ${r.leaf.request.maxFee})`,
      `node ${r.leaf.node}`,
      `output hash ${r.outputHash}: matches the output and the leaf paid for`,
      `output: ${JSON.stringify(r.output).slice(0, 400)}`,
    ],
  );
}

/** Runs `market submit --prepaid`. */
export async function submitPrepaid(ctx: Context, opts: PrepaidSubmitOptions): Promise<void> {
  const head = await ctx.chain.modelHead(opts.model);
  if (!head || head.outputId === null)
    throw new Error(`model "${opts.model}" is not deployed or was retired; \`market models\` lists the live ones`);
  const security = whole(opts.security, '--security', 1n);
  if (!SECURITY_LEVELS.includes(Number(security) as 1 | 3 | 5))
    throw new Error(`--security must be 1, 3 or 5 (how many nodes must agree), got ${security}`);
  const bytes = readInput(opts.input, opts.binary);
  // Checked in clear first, as on-chain tasks are (and before sealing: after, only its nodes could
  // say what is wrong with it); a misfit input would otherwise run on every node and fail.
  await checkAgainstModel(ctx, opts.model, head.artifactHash, bytes);
  const client = prepaidClient(ctx);
  // The signer's quote (volume tier, demand) fixes the price; without --max-fee the request allows exactly that.
  const quote = await client.quote(head.outputId, head.price, (await ctx.chain.accountsSigner()).key).catch(explain);
  const maxFee = whole(opts.maxFee, '--max-fee', quote.price * security);
  if (maxFee < quote.price * security)
    throw new Error(
      `--max-fee ${maxFee} is below ${quote.price * security} µSTX: the signer's quoted price for "${opts.model}" (${quote.price} µSTX, on chain ${head.price}) times --security ${security}`,
    );
  const expiresIn = whole(opts.expiresIn, '--expires-in', 600n);
  const encrypted = opts.privacy === 'encrypted';
  let sealed: Record<string, unknown> = {};
  let inputHash = sha256Hex(bytes);
  if (encrypted) {
    ctx.out.progress(`reserving ${nodesFor(security)} node(s) to seal the input (${bytes.length} bytes) to`);
    const s = await sealInput(ctx, { model: opts.model, bytes, binary: !!opts.binary, security }).catch(explain);
    inputHash = s.inputHash;
    sealed = { privacy: 'encrypted', sealed_to: s.nodes.map((n) => n.node_id), envelope_file: s.file };
  }
  const signed = client.sign({
    modelOutput: head.outputId,
    inputHash,
    maxFee,
    security,
    expiry: BigInt(Math.floor(Date.now() / 1000)) + expiresIn,
  });
  // A large input is uploaded first (signed by the wallet, as on-chain tasks do); a small one rides inline.
  const inline = !encrypted && bytes.length <= DEFAULT_MAX_INLINE_INPUT_BYTES;
  if (!inline && !encrypted) {
    ctx.out.progress(`uploading the input (${bytes.length} bytes)`);
    await ctx.signer.putInput(bytes, ctx.wallet()).catch(explain);
  }
  ctx.out.progress(
    `posting the signed request (max fee ${maxFee} µSTX, input ${bytes.length} bytes${inline ? ' inline' : ', uploaded'}) from account ${client.account}`,
  );
  const [outcome] = await client
    .submit([{ signed, input: inline ? bytes : undefined, quote, sealed: encrypted }])
    .catch(explain);
  if (outcome!.status === 'refused')
    explain(new SignerRefusal(`the signer refused the request: ${outcome!.error}`, 400, outcome!.code));
  const extra = {
    ...sealed,
    account: client.account,
    max_fee: maxFee,
    nonce: signed.request.nonce,
    expiry: signed.request.expiry,
  };
  if (!opts.wait) {
    ctx.out.done();
    ctx.out.result({ task_id: signed.taskId, status: outcome!.status, ...extra }, [
      `task ${signed.taskId} ${outcome!.status}; read it (paying for it first) with: market result --prepaid ${signed.taskId}`,
    ]);
    return;
  }
  print(ctx, await opened(ctx, await follow(ctx, client, signed.taskId).catch(explain)), extra);
}

/** Runs `market result --prepaid ID`: pays for the task if it is due, then reveals it. */
export async function resultPrepaid(ctx: Context, taskId: string): Promise<void> {
  if (!/^\d+$/.test(taskId))
    throw new Error(`give the prepaid task id market submit --prepaid printed (got "${taskId}")`);
  const client = prepaidClient(ctx);
  print(ctx, await opened(ctx, await follow(ctx, client, taskId).catch(explain)));
}

/**
 * A sealed result opened with the wallet key and the saved envelope, and checked: the node signed the
 * ciphertext and the output hash, and the plaintext commits to the output hash of the leaf paid for.
 */
async function opened(ctx: Context, r: Revealed): Promise<Revealed> {
  if (!r.sealed) return r;
  const saved = loadEnvelope(dataDirOf(ctx.config), r.leaf.request.inputHash);
  const { output } = await openSealedResult(
    { ...r.sealed, output: r.output, output_hash: r.outputHash } as TaskResultView,
    {
      escrow: `${ctx.config.contracts_address}.${INFERENCE_ESCROW}`,
      chainId: chainIdOf(ctx.config.network),
      taskId: BigInt(r.taskId),
      inputHash: r.leaf.request.inputHash,
      settledOutputHash: r.leaf.outputHash,
      envelope: saved.envelope,
      privateKey: ctx.wallet().privateKey,
    },
  );
  return { ...r, output };
}
