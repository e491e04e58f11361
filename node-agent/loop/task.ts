/**
 * One task, from leased to signed: check the input against its hash and the model, run it
 * through the batcher, and sign exactly what was computed (or the error report, when it could
 * not run). Nothing here talks to the signer except through the functions it is given.
 */
import {
  errorReport,
  jsonHash,
  signSealedOutput,
  signTaskResult,
  type CompleteTaskRequest,
  type InferenceOutputs,
  type PulledTask,
} from '../../protocol/index.js';
import type { Feeds, ModelInfo } from '../engine/index.js';
import type { Validated } from '../validate/index.js';
import type { EncodedOutput } from '../encode/index.js';
import type { OpenedInput, SealedOutput, UnopenedInput } from '../sealed/index.js';
import { SignerError } from '../client/index.js';

/** What computing a task needs. */
export interface TaskContext {
  nodeId: string;
  privateKey: string;
  /** Checks input bytes against their hash, parses them and checks them against the model (off the main thread in the agent). */
  validate(bytes: Uint8Array, inputHash: string, info: ModelInfo): Promise<Validated>;
  /** Loads the model (once) and returns its metadata; throws when the model is refused. */
  model(artifactHash: string): Promise<ModelInfo>;
  /** The input blob's bytes; with `sealed`, the ciphertext of an encrypted task's input sealed to this node. */
  input(inputHash: string, opts?: { sealed: boolean }): Promise<Uint8Array>;
  /** Runs (possibly batched) inference. */
  infer(artifactHash: string, feeds: Feeds): Promise<Feeds>;
  /** Serializes and hashes outputs, floats rounded to `precision` significant digits (0 = exact; off the main thread in the agent). */
  encode(outputs: Feeds, names: string[], precision: number): Promise<EncodedOutput>;
  /** Encrypted tasks: unseals an input with this node's key and checks its envelope against the input hash (../sealed). */
  openSealed(sealed: Uint8Array, inputHash: string): Promise<OpenedInput | UnopenedInput>;
  /** Encrypted tasks: commits to the output JSON with the salt and seals it to the requester (../sealed). */
  sealOutput(json: string, salt: string, replyTo: string): Promise<SealedOutput>;
}

/** The task could not run for a reason the requester or model owner can act on: it is reported, signed. */
export class TaskFailure extends Error {
  override name = 'TaskFailure';
}

/** The id the escrow knows the task by; the signer uses the same rule for tasks not (yet) on chain. */
function signedTaskId(task: PulledTask): bigint {
  const id = task.chain_task_id ?? task.task_id;
  if (!/^\d+$/.test(id))
    throw new TaskFailure(`task id "${id}" is not a chain task id (a whole number), so its result cannot be signed`);
  return BigInt(id);
}

/** A signed completion ready to post: the request, and the output as the exact JSON that was hashed. */
export interface Completion {
  request: Omit<CompleteTaskRequest, 'output'>;
  /**
   * Canonical JSON of `{"outputs": [...]}`, or for an encrypted task the canonical JSON of the ECIES
   * cipher object it was sealed into (what the sealed signature's hash covers), or null for a failure report.
   */
  outputJson: string | null;
}

function signed(
  task: PulledTask,
  ctx: Pick<TaskContext, 'nodeId' | 'privateKey'>,
  outputHash: string,
  confidence: number | null,
  error?: string,
): Omit<CompleteTaskRequest, 'output'> {
  const signature = signTaskResult(
    { escrow: task.escrow, taskId: signedTaskId(task), inputHash: task.input_hash, outputHash },
    task.chain_id,
    ctx.privateKey,
  );
  return {
    task_id: task.task_id,
    confidence,
    inference_node_id: ctx.nodeId,
    output_hash: outputHash,
    signature,
    ...(error !== undefined ? { error } : {}),
  };
}

/** Signs a result object (or an error report) and builds the complete request. */
export function signResult(
  task: PulledTask,
  ctx: Pick<TaskContext, 'nodeId' | 'privateKey'>,
  result: { output: InferenceOutputs; confidence: number | null } | { error: string },
): CompleteTaskRequest {
  if ('error' in result) {
    const error = result.error.slice(0, 2000);
    return { ...signed(task, ctx, jsonHash(errorReport(error)), null, error), output: null };
  }
  return { ...signed(task, ctx, jsonHash(result.output), result.confidence), output: result.output };
}

/** The input's bytes when they came with the task (framed, as text or as base64); validate checks them against the hash like fetched ones. */
function inlineInput(task: PulledTask & { inputBytes?: Uint8Array }): Uint8Array | null {
  if (task.inputBytes) return task.inputBytes;
  if (task.input !== undefined) return new TextEncoder().encode(task.input);
  if (task.input_base64 !== undefined) return Buffer.from(task.input_base64, 'base64');
  return null;
}

/** Computes and signs one task. Input and model problems are signed error reports; transport errors are thrown. */
export async function computeTask(
  task: PulledTask & { inputBytes?: Uint8Array },
  ctx: TaskContext,
): Promise<Completion> {
  try {
    // An id that cannot be signed fails now, before the model is fetched and run for nothing.
    signedTaskId(task);
    const info = await ctx.model(task.artifact_hash);
    // A federated task runs as a standard one here (the signer gives it to several nodes and settles on the
    // majority); an encrypted one opens its sealed input first and seals its output.
    if (task.privacy === 'encrypted') return await computeSealed(task, ctx, info);
    const bytes = inlineInput(task) ?? (await ctx.input(task.input_hash));
    const encoded = await run(task, ctx, info, bytes, task.input_hash);
    return { request: signed(task, ctx, encoded.hash, encoded.confidence), outputJson: encoded.json };
  } catch (err) {
    if (!isTaskFault(err)) throw err;
    const error = (err as Error).message.slice(0, 2000);
    return { request: signed(task, ctx, jsonHash(errorReport(error)), null, error), outputJson: null };
  }
}

/** Checks input bytes against their hash and the model, runs them, and encodes the outputs. */
async function run(
  task: PulledTask,
  ctx: TaskContext,
  info: ModelInfo,
  bytes: Uint8Array,
  sha256: string,
): Promise<EncodedOutput> {
  const checked = await ctx.validate(bytes, sha256, info);
  if (!checked.ok) throw new TaskFailure(checked.reason);
  const outputs = await ctx.infer(task.artifact_hash, checked.feeds);
  return ctx.encode(
    outputs,
    info.outputs.map((m) => m.name).filter((n) => outputs[n]),
    task.precision ?? 0,
  );
}

/**
 * An encrypted task (protocol/privacy/sealed): fetch the input sealed to this node (never inline),
 * open it, run the inner bytes, and post the output sealed to the requester. The output hash is the
 * salted commitment, and the sealed signature binds it to the exact ciphertext posted. Nothing the
 * signer sees may quote the plaintext: no confidence (a property of the output), and the reason of a
 * refused input or a failed run is withheld (the input check quotes names and values from the input).
 */
async function computeSealed(task: PulledTask, ctx: TaskContext, info: ModelInfo): Promise<Completion> {
  const sealedInput = await ctx.input(task.input_hash, { sealed: true }).catch((err: unknown) => {
    // Nothing sealed to this node: no retry here can help, and a report puts the task back in the queue now
    // rather than when the lease runs out (the signer then offers it to a node that holds a ciphertext).
    if (err instanceof SignerError && err.status === 404)
      throw new TaskFailure(`no input sealed to this node: ${err.message}`);
    throw err;
  });
  const opened = await ctx.openSealed(sealedInput, task.input_hash);
  if (!opened.ok) throw new TaskFailure(opened.error);
  let encoded: EncodedOutput;
  try {
    encoded = await run(task, ctx, info, opened.inputBytes, opened.inputSha256);
  } catch (err) {
    if (!isTaskFault(err)) throw err;
    throw new TaskFailure(
      err instanceof TaskFailure
        ? "the decrypted input does not fit this model; this node checks it as it checks a clear input (the Open Inference Protocol form, the model's input names, types and shapes, the size limits) but does not report the detail, which may quote the encrypted input"
        : `the model could not run the decrypted input (${(err as Error).name}); the runtime's message is not reported, as it may quote the encrypted input`,
    );
  }
  const sealed = await ctx.sealOutput(encoded.json, opened.salt, opened.replyTo);
  const request = signed(task, ctx, sealed.outputHash, null);
  request.sealed_signature = signSealedOutput(
    { escrow: task.escrow, taskId: signedTaskId(task), outputHash: sealed.outputHash, sealedHash: sealed.sealedHash },
    task.chain_id,
    ctx.privateKey,
  );
  return { request, outputJson: sealed.sealedJson };
}

/** Errors that belong to the task (its input, its model, the runtime on that input) rather than to our connection. */
function isTaskFault(err: unknown): boolean {
  const name = (err as Error)?.name;
  return (
    name === 'TaskFailure' ||
    name === 'ModelRefusedError' ||
    name === 'WorkerCrashedError' ||
    (err instanceof Error && name === 'Error')
  );
}
