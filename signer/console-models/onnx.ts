/**
 * onnxruntime for the console, off the main thread (./onnx-worker.ts on a protocol/workers
 * ThreadPool): each job loads the model on a worker thread (session creation of a large model
 * takes seconds and `run` blocks its thread), reads its inputs and outputs, and optionally runs
 * one inference. Jobs run one at a time so that validating uploads never competes with the
 * signer's own work for more than one core.
 */
import { CallTimeoutError, ThreadPool, WorkerCrashedError, workerFile, type ArgOf } from '../../protocol/index.js';
import type { Feed, ModelIo, TestRun, handlers } from './onnx-worker.js';

export type { Feed, ModelIo, OutputSummary, TensorInfo, TestRun } from './onnx-worker.js';

/** Thrown when onnxruntime cannot load or run the model; the message is the runtime's. */
export class OnnxError extends Error {}

/** One thread, started for a job and stopped once idle: no onnxruntime memory is kept between uploads. */
let threads: Promise<ThreadPool<typeof handlers>> | null = null;

function pool(): Promise<ThreadPool<typeof handlers>> {
  threads ??= ThreadPool.start<typeof handlers>({
    file: workerFile(import.meta.url, 'onnx-worker'),
    size: 1,
    label: "onnxruntime's thread",
    lazy: true,
    idleMs: 0,
    unref: true,
    // Terminating a thread inside onnxruntime aborts the whole signer: a timed-out job's thread is left to finish.
    onTimeout: 'retire',
  });
  return threads;
}

/** Runs one job; every failure is an OnnxError whose message an admin can act on. */
async function runJob<K extends 'inspect' | 'test'>(name: K, arg: ArgOf<typeof handlers, K>, timeoutMs: number) {
  try {
    return await (await pool()).call(name, arg, { timeoutMs });
  } catch (err) {
    if (err instanceof CallTimeoutError)
      throw new OnnxError(`onnxruntime did not finish within ${timeoutMs} ms (models.validate_timeout_ms)`);
    if (err instanceof WorkerCrashedError)
      throw new OnnxError(`onnxruntime's thread ended without an answer (${err.message})`);
    // The runtime names the file by its path on this server; the admin knows it as "the file".
    throw new OnnxError((err as Error).message.split(arg.path).join('the file'));
  }
}

/** Loads the model at `path` and reads its inputs and outputs; throws `OnnxError` when it cannot be loaded. */
export function inspectModel(path: string, timeoutMs: number): Promise<ModelIo> {
  return runJob('inspect', { path }, timeoutMs);
}

/** Runs one inference on `feeds` (inputs not given are generated from their declared shapes, dynamic dimensions 1). */
export function testRun(path: string, feeds: Record<string, Feed>, timeoutMs: number): Promise<TestRun> {
  return runJob('test', { path, feeds }, timeoutMs);
}
