/**
 * The Open Inference Protocol (KServe v2) JSON tensor form, `{name, shape, datatype, data}`,
 * shared by the signer (what users upload and read back) and the node agent (what it feeds
 * onnxruntime and posts). Decoding turns JSON into typed arrays and says exactly what is wrong
 * with a tensor that cannot be decoded.
 */
import { z } from 'zod';

/** OIP datatypes this codec handles, with the onnxruntime tensor type each maps to. */
export const OIP_TO_ORT = {
  BOOL: 'bool',
  UINT8: 'uint8',
  INT8: 'int8',
  UINT16: 'uint16',
  INT16: 'int16',
  UINT32: 'uint32',
  INT32: 'int32',
  INT64: 'int64',
  UINT64: 'uint64',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
} as const;
export type OipDatatype = keyof typeof OIP_TO_ORT;
export type OrtType = (typeof OIP_TO_ORT)[OipDatatype];
export const OIP_DATATYPES = Object.keys(OIP_TO_ORT) as OipDatatype[];

/** The OIP datatype of an onnxruntime tensor type, or null when OIP JSON cannot carry it (float16, int4...). */
export function oipDatatypeOf(ortType: string): OipDatatype | null {
  const hit = OIP_DATATYPES.find((d) => OIP_TO_ORT[d] === ortType);
  return hit ?? null;
}

/** One tensor in OIP JSON form. `data` is row-major, flat or nested. */
export const oipTensorSchema = z
  .object({
    name: z.string().min(1, 'tensor name must not be empty').max(256),
    shape: z.array(z.number().int().min(0, 'dimensions must be >= 0')).max(16, 'at most 16 dimensions'),
    datatype: z.enum(OIP_DATATYPES as [OipDatatype, ...OipDatatype[]], {
      error: `datatype must be one of ${OIP_DATATYPES.join(', ')}`,
    }),
    parameters: z.record(z.string(), z.unknown()).optional(),
    // Checked element by element in decodeTensor; a per-element zod array would cost more than the inference.
    data: z.custom<unknown[]>(Array.isArray, 'data must be an array of values (row-major, flat or nested)'),
  })
  .strict();
export type OipTensor = z.infer<typeof oipTensorSchema>;

/** An input blob: `{"inputs": [tensors]}`, what `GET /api/v1/inputs/{sha256}` returns. */
export const inferenceInputsSchema = z.object({ inputs: z.array(oipTensorSchema).min(1, 'at least one input tensor') });
export type InferenceInputs = z.infer<typeof inferenceInputsSchema>;

/** A result: `{"outputs": [tensors]}`, posted as `output` and hashed with `jsonHash`. */
export const inferenceOutputsSchema = z.object({ outputs: z.array(oipTensorSchema) });
export type InferenceOutputs = z.infer<typeof inferenceOutputsSchema>;

/** What a node posts as its signed report when a task cannot run; its `jsonHash` is the signed output hash. */
export function errorReport(reason: string): { error: string } {
  return { error: reason };
}

/** Element storage of a decoded tensor: what onnxruntime's Tensor constructor takes. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[];

/** A tensor as runtimes see it: typed data plus dims. */
export interface RawTensor {
  datatype: OipDatatype;
  dims: number[];
  data: TensorData;
}

/** A tensor that cannot be decoded; the message says what to fix. */
export class TensorError extends Error {
  override name = 'TensorError';
}

/** Number of elements of a shape. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

const INT_RANGE: Partial<Record<OipDatatype, [number, number]>> = {
  UINT8: [0, 255],
  INT8: [-128, 127],
  UINT16: [0, 65535],
  INT16: [-32768, 32767],
  UINT32: [0, 4294967295],
  INT32: [-2147483648, 2147483647],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
};

/** An empty typed array (or string list) of a datatype with `length` elements. */
export function allocateData(datatype: OipDatatype, length: number): TensorData {
  switch (datatype) {
    case 'BOOL':
    case 'UINT8':
      return new Uint8Array(length);
    case 'INT8':
      return new Int8Array(length);
    case 'UINT16':
      return new Uint16Array(length);
    case 'INT16':
      return new Int16Array(length);
    case 'UINT32':
      return new Uint32Array(length);
    case 'INT32':
      return new Int32Array(length);
    case 'INT64':
      return new BigInt64Array(length);
    case 'UINT64':
      return new BigUint64Array(length);
    case 'FP32':
      return new Float32Array(length);
    case 'FP64':
      return new Float64Array(length);
    case 'BYTES':
      return new Array<string>(length).fill('');
  }
}

/** Decodes an OIP tensor into typed data; throws TensorError naming the tensor and the problem. */
export function decodeTensor(t: OipTensor): RawTensor {
  // Flattening copies; most clients already send flat data, so only nested data pays for it.
  const flat = t.data.some(Array.isArray) ? (t.data as unknown[]).flat(Infinity as 1) : t.data;
  const want = elementCount(t.shape);
  if (flat.length !== want) {
    throw new TensorError(
      `tensor "${t.name}": shape [${t.shape.join(',')}] needs ${want} elements but data has ${flat.length}`,
    );
  }
  const out = allocateData(t.datatype, want);
  const range = INT_RANGE[t.datatype];
  const bad = (i: number, what: string) =>
    new TensorError(`tensor "${t.name}" (${t.datatype}): element ${i} is ${JSON.stringify(flat[i])}, expected ${what}`);
  // One tight loop per kind: this runs on the agent's main thread for every element of every input.
  if (t.datatype === 'BYTES') {
    for (let i = 0; i < want; i++) {
      const v = flat[i];
      if (typeof v !== 'string') throw bad(i, 'a string');
      (out as string[])[i] = v;
    }
  } else if (t.datatype === 'BOOL') {
    for (let i = 0; i < want; i++) {
      const v = flat[i];
      if (typeof v !== 'boolean') throw bad(i, 'true or false');
      (out as Uint8Array)[i] = v ? 1 : 0;
    }
  } else if (range) {
    const big = out instanceof BigInt64Array || out instanceof BigUint64Array;
    for (let i = 0; i < want; i++) {
      const v = flat[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1])
        throw bad(i, `an integer in [${range[0]}, ${range[1]}]`);
      if (big) (out as BigInt64Array)[i] = BigInt(v);
      else (out as Int32Array)[i] = v;
    }
  } else {
    const floats = out as Float32Array;
    for (let i = 0; i < want; i++) {
      const v = flat[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(i, 'a finite number');
      floats[i] = v;
    }
  }
  return { datatype: t.datatype, dims: [...t.shape], data: out };
}

/** Encodes typed data as an OIP tensor with flat data (64-bit integers beyond 2^53 cannot be carried by JSON). */
export function encodeTensor(name: string, raw: RawTensor): OipTensor {
  let data: unknown[];
  if (raw.data instanceof BigInt64Array || raw.data instanceof BigUint64Array) {
    data = Array.from(raw.data, (v) => {
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new TensorError(`tensor "${name}": value ${v} does not fit a JSON number`);
      }
      return Number(v);
    });
  } else if (raw.datatype === 'BOOL') {
    data = Array.from(raw.data as Uint8Array, (v) => v !== 0);
  } else {
    data = Array.from(raw.data as ArrayLike<number | string>);
  }
  return { name, shape: [...raw.dims], datatype: raw.datatype, data };
}

/**
 * A float rounded to `precision` significant digits (0 leaves it as it is): the canonical form
 * in which nodes hash and sign outputs, so that two honest runs whose floats differ in the last
 * bits (other thread counts, other CPUs) sign the same output hash. Rounding is idempotent, so
 * a checker can tell a canonical output from one that is not.
 */
export function roundSignificant(value: number, precision: number): number {
  if (precision <= 0 || !Number.isFinite(value)) return value;
  return Number(value.toPrecision(precision));
}

const FLOAT_TYPES: ReadonlySet<string> = new Set(['FP16', 'FP32', 'FP64']);

/** The outputs with every float tensor's values rounded to `precision` significant digits (see roundSignificant). */
export function canonicalOutputs(output: InferenceOutputs, precision: number): InferenceOutputs {
  if (precision <= 0) return output;
  return {
    ...output,
    outputs: output.outputs.map((t) =>
      FLOAT_TYPES.has(t.datatype)
        ? { ...t, data: (t.data as unknown[]).map((v) => (typeof v === 'number' ? roundSignificant(v, precision) : v)) }
        : t,
    ),
  };
}
