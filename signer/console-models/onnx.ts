/**
 * onnxruntime for the console, off the main thread: each job loads the model in a fresh worker
 * thread (session creation of a large model takes seconds and `run` blocks its thread), reads
 * its inputs and outputs, and optionally runs one inference. Jobs run one at a time so that
 * validating uploads never competes with the signer's own work for more than one core.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { TensorData } from '../../protocol/tensor/index.js';

/** An input or output as onnxruntime declares it; symbolic (dynamic) dimensions are strings. */
export interface TensorInfo {
  name: string;
  /** onnxruntime tensor type (`float32`, `int64`...), or null for a non-tensor value. */
  type: string | null;
  shape: (number | string)[];
}

/** What loading a model tells. */
export interface ModelIo {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  load_ms: number;
}

/** One output of a test inference: its shape and first values. */
export interface OutputSummary {
  name: string;
  type: string;
  shape: number[];
  /** Elements in the output. */
  size: number;
  /** The first elements (64-bit integers as strings). */
  sample: (number | string | boolean)[];
}

/** A test inference's outcome. */
export interface TestRun extends ModelIo {
  outputs_summary: OutputSummary[];
  infer_ms: number;
  /** The input tensors that were fed (generated ones have dynamic dimensions set to 1). */
  fed: { name: string; type: string; shape: number[] }[];
}

/** A feed for `testRun`: onnxruntime type, dims and typed data. */
export interface Feed {
  type: string;
  dims: number[];
  data: TensorData;
}

/** Thrown when onnxruntime cannot load or run the model; the message is the runtime's. */
export class OnnxError extends Error {}

const ORT_PATH = createRequire(import.meta.url).resolve('onnxruntime-node');
const SAMPLE = 16;

// Plain CommonJS, evaluated with no TypeScript loader: a few lines over onnxruntime-node.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const ARRAYS = { float32: Float32Array, float64: Float64Array, float16: Uint16Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array,
  uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array };
const meta = (m) => (m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: null, shape: [] });
function generated(m) {
  if (!m.isTensor) throw new Error('input "' + m.name + '" is not a tensor; upload an input to test this model');
  const dims = m.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  const n = dims.reduce((a, b) => a * b, 1);
  if (m.type === 'string') return new ort.Tensor('string', new Array(n).fill(''), dims);
  const A = ARRAYS[m.type];
  if (!A) throw new Error('input "' + m.name + '" has type ' + m.type + ', which cannot be generated; upload an input');
  const data = new A(n);
  if (A === Float32Array || A === Float64Array) data.fill(0.5);
  return new ort.Tensor(m.type, data, dims);
}
(async () => {
  const { job, path, feeds } = workerData;
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const io = { inputs: session.inputMetadata.map(meta), outputs: session.outputMetadata.map(meta), load_ms: performance.now() - t0 };
  if (job === 'inspect') return parentPort.postMessage({ ok: true, result: io });
  const input = {};
  for (const m of session.inputMetadata) {
    const f = feeds && feeds[m.name];
    input[m.name] = f ? new ort.Tensor(f.type, f.data, f.dims) : generated(m);
  }
  const t1 = performance.now();
  const out = await session.run(input);
  const infer_ms = performance.now() - t1;
  const cell = (v) => (typeof v === 'bigint' ? v.toString() : v);
  const outputs_summary = Object.entries(out).map(([name, t]) => ({ name, type: t.type, shape: [...t.dims], size: t.size, sample: Array.from(t.data.slice(0, ${SAMPLE}), cell) }));
  const fed = Object.entries(input).map(([name, t]) => ({ name, type: t.type, shape: [...t.dims] }));
  parentPort.postMessage({ ok: true, result: { ...io, outputs_summary, infer_ms, fed } });
})().catch((e) => parentPort.postMessage({ ok: false, error: (e && e.message) || String(e) }));
`;

let queue: Promise<unknown> = Promise.resolve();

function runJob<T>(workerData: Record<string, unknown>, timeoutMs: number): Promise<T> {
  const run = queue.then(
    () =>
      new Promise<T>((resolve, reject) => {
        // execArgv [] keeps the parent's TypeScript loader out of the thread.
        const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { ...workerData, ortPath: ORT_PATH } });
        const timer = setTimeout(() => {
          void worker.terminate();
          reject(new OnnxError(`onnxruntime did not finish within ${timeoutMs} ms (models.validate_timeout_ms)`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          void worker.terminate();
        };
        worker.once('message', (m: { ok: true; result: T } | { ok: false; error: string }) => {
          done();
          if (m.ok) resolve(m.result);
          // The runtime names the file by its path on this server; the admin knows it as "the file".
          else reject(new OnnxError(m.error.split(String(workerData.path)).join('the file')));
        });
        worker.once('error', (err) => {
          done();
          reject(new OnnxError(err.message));
        });
        // Settling twice is a no-op, so this only speaks when the thread ended without a word.
        worker.once('exit', (code) => {
          clearTimeout(timer);
          reject(new OnnxError(`onnxruntime's thread ended (exit code ${code}) without an answer`));
        });
      }),
  );
  queue = run.catch(() => {});
  return run;
}

/** Loads the model at `path` and reads its inputs and outputs; throws `OnnxError` when it cannot be loaded. */
export function inspectModel(path: string, timeoutMs: number): Promise<ModelIo> {
  return runJob({ job: 'inspect', path }, timeoutMs);
}

/** Runs one inference on `feeds` (inputs not given are generated from their declared shapes, dynamic dimensions 1). */
export function testRun(path: string, feeds: Record<string, Feed>, timeoutMs: number): Promise<TestRun> {
  return runJob({ job: 'test', path, feeds }, timeoutMs);
}
