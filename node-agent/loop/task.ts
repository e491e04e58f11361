/**
 * One task, from leased to signed: check the input against its hash and the model, run it
 * through the batcher, and sign exactly what was computed (or the error report, when it could
 * not run). Nothing here talks to the signer except through the functions it is given.
 */
import {
  errorReport,
  jsonHash,
  signTaskResult,
  type CompleteTaskRequest,
  type InferenceOutputs,
  type PulledTask,
} from '../../protocol/index.js';
import type { Feeds, ModelInfo } from '../engine/index.js';
import type { Validated } from '../validate/index.js';
import type { EncodedOutput } from '../encode/index.js';

/** What computing a task needs. */
export interface TaskContext {
  nodeId: string;
  privateKey: string;
  /** Checks input bytes against their hash, parses them and checks them against the model (off the main thread in the agent). */
  validate(bytes: Uint8Array, inputHash: string, info: ModelInfo): Promise<Validated>;
  /** Loads the model (once) and returns its metadata; throws when the model is refused. */
  model(artifactHash: string): Promise<ModelInfo>;
  /** The input blob's bytes. */
  input(inputHash: string): Promise<Uint8Array>;
  /** Runs (possibly batched) inference. */
  infer(artifactHash: string, feeds: Feeds): Promise<Feeds>;
  /** Serializes and hashes the outputs (off the main thread in the agent). */
  /** Serializes and hashes outputs, floats rounded to `precision` significant digits (0 = exact). */
  encode(outputs: Feeds, names: string[], precision: number): Promise<EncodedOutput>;
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
  /** Canonical JSON of `{"outputs": [...]}`, or null for a failure report. */
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
    // A federated task runs as a standard one here: the signer gives it to several nodes and settles on the majority.
    // Nothing in the project encrypts inputs yet, so this node has no decryption to run an encrypted task with.
    if (task.privacy === 'encrypted')
      throw new TaskFailure(
        'privacy mode "encrypted" is not supported by this node; it runs standard and federated tasks',
      );
    const info = await ctx.model(task.artifact_hash);
    const bytes = inlineInput(task) ?? (await ctx.input(task.input_hash));
    const checked = await ctx.validate(bytes, task.input_hash, info);
    if (!checked.ok) throw new TaskFailure(checked.reason);
    const outputs = await ctx.infer(task.artifact_hash, checked.feeds);
    const encoded = await ctx.encode(
      outputs,
      info.outputs.map((m) => m.name).filter((n) => outputs[n]),
      task.precision ?? 0,
    );
    return { request: signed(task, ctx, encoded.hash, encoded.confidence), outputJson: encoded.json };
  } catch (err) {
    if (!isTaskFault(err)) throw err;
    const error = (err as Error).message.slice(0, 2000);
    return { request: signed(task, ctx, jsonHash(errorReport(error)), null, error), outputJson: null };
  }
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
