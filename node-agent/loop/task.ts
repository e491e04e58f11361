/**
 * One task, from leased to signed: check the input against its hash and the model, run it
 * through the batcher, and sign exactly what was computed (or the error report, when it could
 * not run). Nothing here talks to the signer except through the functions it is given.
 */
import {
  encodeTensor,
  errorReport,
  jsonHash,
  sha256Hex,
  signTaskResult,
  type CompleteTaskRequest,
  type InferenceOutputs,
  type PulledTask,
} from '../../protocol/index.js';
import type { Feeds, ModelInfo } from '../engine/index.js';
import type { Validated } from '../validate/index.js';

/** What computing a task needs. */
export interface TaskContext {
  nodeId: string;
  privateKey: string;
  /** Parses and checks input bytes against the model (off the main thread in the agent). */
  validate(bytes: Uint8Array, info: ModelInfo): Promise<Validated>;
  /** Loads the model (once) and returns its metadata; throws when the model is refused. */
  model(artifactHash: string): Promise<ModelInfo>;
  /** The input blob's bytes. */
  input(inputHash: string): Promise<Uint8Array>;
  /** Runs (possibly batched) inference. */
  infer(artifactHash: string, feeds: Feeds): Promise<Feeds>;
}

/** The task could not run for a reason the requester or model owner can act on: it is reported, signed. */
export class TaskFailure extends Error {
  override name = 'TaskFailure';
}

/** The id the escrow knows the task by; the signer uses the same rule for tasks not (yet) on chain. */
function signedTaskId(task: PulledTask): bigint {
  const id = task.chain_task_id ?? task.task_id;
  if (!/^\d+$/.test(id)) throw new TaskFailure(`task id "${id}" is not a chain task id (a whole number), so its result cannot be signed`);
  return BigInt(id);
}

/** Mean of the row maxima when the only output looks like probabilities (rows summing to 1), else null. */
export function confidenceOf(outputs: Feeds): number | null {
  const tensors = Object.values(outputs);
  const t = tensors[0];
  if (tensors.length !== 1 || !t || !(t.data instanceof Float32Array || t.data instanceof Float64Array) || t.dims.length < 1) return null;
  const width = t.dims[t.dims.length - 1]!;
  if (width < 2 || t.data.length === 0) return null;
  let sum = 0;
  for (let row = 0; row < t.data.length; row += width) {
    let max = 0;
    let total = 0;
    for (let i = row; i < row + width; i++) {
      const v = t.data[i]!;
      if (v < 0 || v > 1) return null;
      total += v;
      max = Math.max(max, v);
    }
    if (Math.abs(total - 1) > 1e-3) return null;
    sum += max;
  }
  return Math.min(1, sum / (t.data.length / width));
}

/** Signs a result (or an error report) and builds the complete request. */
export function signResult(task: PulledTask, ctx: Pick<TaskContext, 'nodeId' | 'privateKey'>, result: { output: InferenceOutputs; confidence: number | null } | { error: string }): CompleteTaskRequest {
  const error = 'error' in result ? result.error.slice(0, 2000) : undefined;
  const outputHash = error !== undefined ? jsonHash(errorReport(error)) : jsonHash((result as { output: InferenceOutputs }).output);
  const signature = signTaskResult({ escrow: task.escrow, taskId: signedTaskId(task), inputHash: task.input_hash, outputHash }, task.chain_id, ctx.privateKey);
  return {
    task_id: task.task_id,
    output: error !== undefined ? null : (result as { output: InferenceOutputs }).output,
    confidence: error !== undefined ? null : (result as { confidence: number | null }).confidence,
    inference_node_id: ctx.nodeId,
    output_hash: outputHash,
    signature,
    ...(error !== undefined ? { error } : {}),
  };
}

/** Computes and signs one task. Input and model problems are signed error reports; transport errors are thrown. */
export async function computeTask(task: PulledTask, ctx: TaskContext): Promise<CompleteTaskRequest> {
  try {
    signedTaskId(task);
    // Federated tasks run like standard ones here (the signer compares the k results); encrypted ones need keys this node lacks.
    if (task.privacy === 'encrypted') throw new TaskFailure('privacy mode "encrypted" is not supported by this node; it runs standard and federated tasks');
    const info = await ctx.model(task.artifact_hash);
    const bytes = await ctx.input(task.input_hash);
    const actual = sha256Hex(bytes);
    if (actual !== task.input_hash) throw new TaskFailure(`input bytes hash to ${actual}, not the task's input_hash ${task.input_hash}`);
    const checked = await ctx.validate(bytes, info);
    if (!checked.ok) throw new TaskFailure(checked.reason);
    const outputs = await ctx.infer(task.artifact_hash, checked.feeds);
    const names = info.outputs.map((m) => m.name).filter((n) => outputs[n]);
    for (const name of names) {
      const data = outputs[name]!.data;
      if ((data instanceof Float32Array || data instanceof Float64Array) && data.some((v) => !Number.isFinite(v))) {
        throw new TaskFailure(`model produced non-finite values (NaN or Infinity) in output "${name}" for this input`);
      }
    }
    const output: InferenceOutputs = { outputs: names.map((n) => encodeTensor(n, outputs[n]!)) };
    return signResult(task, ctx, { output, confidence: confidenceOf(outputs) });
  } catch (err) {
    if (!isTaskFault(err)) throw err;
    return signResult(task, ctx, { error: (err as Error).message });
  }
}

/** Errors that belong to the task (its input, its model, the runtime on that input) rather than to our connection. */
function isTaskFault(err: unknown): boolean {
  const name = (err as Error)?.name;
  return name === 'TaskFailure' || name === 'ModelRefusedError' || name === 'WorkerCrashedError' || (err instanceof Error && name === 'Error');
}
