/**
 * The console's onnxruntime thread (see ./onnx.ts): loads a model file, reads its inputs and
 * outputs, and optionally runs one inference; each call frees its session before answering.
 */
import * as ort from 'onnxruntime-node';
import { serve } from '../../protocol/index.js';
import type { TensorData } from '../../protocol/index.js';

const SAMPLE = 16;

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

type Arrays = Record<string, new (n: number) => ort.Tensor['data']>;
const ARRAYS: Arrays = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

function meta(m: ort.InferenceSession.ValueMetadata): TensorInfo {
  return m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: null, shape: [] };
}

/** An input made up from its declared shape (dynamic dimensions 1): zeros, or 0.5 for floats. */
function generated(m: ort.InferenceSession.ValueMetadata): ort.Tensor {
  if (!m.isTensor) throw new Error(`input "${m.name}" is not a tensor; upload an input to test this model`);
  const dims = m.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  const n = dims.reduce((a, b) => a * b, 1);
  if (m.type === 'string') return new ort.Tensor('string', new Array<string>(n).fill(''), dims);
  const Array_ = ARRAYS[m.type];
  if (!Array_) throw new Error(`input "${m.name}" has type ${m.type}, which cannot be generated; upload an input`);
  const data = new Array_(n);
  if (data instanceof Float32Array || data instanceof Float64Array) data.fill(0.5);
  return new ort.Tensor(m.type as 'float32', data as Float32Array, dims);
}

async function withSession<T>(
  path: string,
  fn: (session: ort.InferenceSession, io: ModelIo) => Promise<T>,
): Promise<T> {
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const io = {
      inputs: session.inputMetadata.map(meta),
      outputs: session.outputMetadata.map(meta),
      load_ms: performance.now() - t0,
    };
    return await fn(session, io);
  } finally {
    await session.release();
  }
}

const cell = (v: unknown) => (typeof v === 'bigint' ? v.toString() : (v as number | string | boolean));

/** The calls the console's onnxruntime thread answers. */
export const handlers = {
  /** Loads the model and reads its inputs and outputs. */
  inspect: (m: { path: string }): Promise<ModelIo> => withSession(m.path, async (_, io) => io),
  /** Loads the model and runs one inference on `feeds`, generating the inputs not given. */
  test: (m: { path: string; feeds: Record<string, Feed> }): Promise<TestRun> =>
    withSession(m.path, async (session, io) => {
      const input: Record<string, ort.Tensor> = {};
      for (const meta of session.inputMetadata) {
        const f = m.feeds[meta.name];
        input[meta.name] = f ? new ort.Tensor(f.type as 'float32', f.data as Float32Array, f.dims) : generated(meta);
      }
      const t1 = performance.now();
      const out = await session.run(input);
      const infer_ms = performance.now() - t1;
      const outputs_summary = Object.entries(out).map(([name, t]) => ({
        name,
        type: t.type,
        shape: [...t.dims],
        size: t.size,
        sample: Array.from(t.data as ArrayLike<unknown> as unknown[])
          .slice(0, SAMPLE)
          .map(cell),
      }));
      const fed = Object.entries(input).map(([name, t]) => ({ name, type: t.type, shape: [...t.dims] }));
      return { ...io, outputs_summary, infer_ms, fed };
    }),
};

serve(handlers);
