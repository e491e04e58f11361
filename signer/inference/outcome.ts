/**
 * What a caller gets for a direct task: not ready yet, its verified result, or why it failed or
 * timed out, with the HTTP status each maps to (the sync, async-poll and batch routes agree).
 */
import type { InferenceOutputs } from '../../protocol/index.js';
import type { TaskRow } from '../tasks/index.js';
import { directContext } from './context.js';

/**
 * A direct task's verified result: the node's outputs with the hash and signature it signed. An
 * encrypted task has no clear outputs: `sealed_output` is the cipher object sealed to the caller's
 * reply key, and `sealed_signature` the node's signature over it (protocol/privacy).
 */
export interface InferResult {
  task_id: string;
  model: string;
  version: number;
  outputs?: InferenceOutputs['outputs'];
  sealed_output?: unknown;
  sealed_signature?: string;
  output_hash: string;
  node_id: string;
  signature: string;
  latency_ms: number;
}

/** Where a direct task stands, for its caller. */
export type Outcome =
  | { kind: 'waiting'; status: 'pending' | 'in_progress'; httpStatus: 202 }
  | { kind: 'done'; result: InferResult; httpStatus: 200 }
  | { kind: 'error'; status: 'failed' | 'timeout'; httpStatus: 422 | 504; message: string };

/** The outcome of a direct task as it is stored now. */
export function outcomeOf(task: TaskRow): Outcome {
  if (task.status === 'pending' || task.status === 'in_progress')
    return { kind: 'waiting', status: task.status, httpStatus: 202 };
  if (task.status === 'timeout')
    return {
      kind: 'error',
      status: 'timeout',
      httpStatus: 504,
      message: task.error ?? `no node answered model "${task.model_type}" in time`,
    };
  if (task.output === null || task.completed_at === null) {
    return {
      kind: 'error',
      status: 'failed',
      httpStatus: 422,
      message: `model "${task.model_type}" could not run this input: ${task.error ?? 'the node gave no reason'}`,
    };
  }
  const output = JSON.parse(task.output);
  const sealed = task.privacy === 'encrypted';
  return {
    kind: 'done',
    httpStatus: 200,
    result: {
      task_id: task.task_id,
      model: task.model_type,
      version: directContext(task).version,
      ...(sealed
        ? { sealed_output: output, sealed_signature: task.sealed_signature ?? '' }
        : { outputs: (output as InferenceOutputs).outputs }),
      output_hash: task.output_hash!,
      node_id: task.inference_node_id!,
      signature: task.signature!,
      latency_ms: task.completed_at - task.created_at,
    },
  };
}
