/**
 * Checks a task's input blob against the model's input metadata before anything reaches the
 * runtime: a bad tensor becomes a task failure with a reason the requester can act on, never a
 * crash of the agent or a worker.
 */
import { sha256Hex } from '../../protocol/index.js';
import {
  decodeBinaryInputs,
  decodeTensor,
  elementCount,
  inferenceInputsSchema,
  isBinaryInputs,
  TensorError,
  type RawTensor,
} from '../../protocol/index.js';
import type { Feeds, ModelInfo } from '../engine/index.js';

/** Size limits (config `runtime.max_input_bytes`, `runtime.max_input_elements`). */
export interface InputLimits {
  maxInputBytes: number;
  maxInputElements: number;
}

/** Decoded feeds ready for the engine, or why the input cannot run. */
export type Validated = { ok: true; feeds: Feeds } | { ok: false; reason: string };

/** An input tensor before its data is decoded: enough to check it against the model first. */
interface Candidate {
  name: string;
  datatype: string;
  shape: number[];
  decode(): RawTensor;
}

/** The input is not in a form this node reads. */
class InputError extends Error {}

function fromJson(bytes: Uint8Array): Candidate[] {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new InputError(`input is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = inferenceInputsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `input does not follow the Open Inference Protocol form {"inputs":[{name,shape,datatype,data}]}: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
  }
  return parsed.data.inputs.map((t) => ({
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
    decode: () => decodeTensor(t),
  }));
}

/** Binary blobs (protocol/tensor/binary) are decoded whole: copying bytes is cheaper than checking first. */
function fromBinary(bytes: Uint8Array): Candidate[] {
  return decodeBinaryInputs(bytes).map(({ name, tensor }) => ({
    name,
    datatype: tensor.datatype,
    shape: tensor.dims,
    decode: () => tensor,
  }));
}

/**
 * Whether a blob is in binary form, by blob: the pool asks (cheapToCheck) just before it validates
 * the same bytes, and parsing the header line once is enough.
 */
const binaryForm = new WeakMap<Uint8Array, boolean>();

function isBinary(bytes: Uint8Array): boolean {
  let binary = binaryForm.get(bytes);
  if (binary === undefined) binaryForm.set(bytes, (binary = isBinaryInputs(bytes)));
  return binary;
}

/** Parses and validates raw input bytes (`{"inputs": [OIP tensors]}` as JSON, or the binary form) for a model. */
export function validateInput(bytes: Uint8Array, info: ModelInfo, limits: InputLimits): Validated {
  if (bytes.byteLength > limits.maxInputBytes) {
    return {
      ok: false,
      reason: `input is ${bytes.byteLength} bytes, over this node's limit of ${limits.maxInputBytes} bytes`,
    };
  }
  let tensors: Candidate[];
  try {
    tensors = isBinary(bytes) ? fromBinary(bytes) : fromJson(bytes);
  } catch (err) {
    if (err instanceof InputError || err instanceof TensorError) return { ok: false, reason: err.message };
    throw err;
  }
  const expected = new Map(info.inputs.map((m) => [m.name, m]));
  const seen = new Set<string>();
  const feeds: Feeds = {};
  let elements = 0;
  for (const t of tensors) {
    const meta = expected.get(t.name);
    if (!meta)
      return {
        ok: false,
        reason: `unknown input "${t.name}"; this model takes ${[...expected.keys()].map((n) => `"${n}"`).join(', ')}`,
      };
    if (seen.has(t.name)) return { ok: false, reason: `input "${t.name}" is given twice` };
    seen.add(t.name);
    if (!meta.datatype) return { ok: false, reason: `input "${t.name}" has a type this node cannot feed from JSON` };
    if (t.datatype !== meta.datatype)
      return { ok: false, reason: `input "${t.name}" must be ${meta.datatype}, got ${t.datatype}` };
    const want = `[${meta.shape.map((d) => (typeof d === 'number' ? d : '?')).join(',')}]`;
    if (t.shape.length !== meta.shape.length) {
      return {
        ok: false,
        reason: `input "${t.name}" must have rank ${meta.shape.length} ${want}, got rank ${t.shape.length} [${t.shape.join(',')}]`,
      };
    }
    for (let i = 0; i < t.shape.length; i++) {
      const fixed = meta.shape[i];
      if (typeof fixed === 'number' && t.shape[i] !== fixed) {
        return {
          ok: false,
          reason: `input "${t.name}" dimension ${i} must be ${fixed} (shape ${want}), got ${t.shape[i]}`,
        };
      }
      if (t.shape[i] === 0)
        return { ok: false, reason: `input "${t.name}" dimension ${i} is 0: an empty tensor cannot run` };
    }
    elements += elementCount(t.shape);
    if (elements > limits.maxInputElements) {
      return {
        ok: false,
        reason: `input has more than ${limits.maxInputElements} elements in total, over this node's limit`,
      };
    }
    try {
      feeds[t.name] = t.decode();
    } catch (err) {
      if (err instanceof TensorError) return { ok: false, reason: err.message };
      throw err;
    }
  }
  const missing = [...expected.keys()].filter((n) => !seen.has(n));
  if (missing.length > 0) return { ok: false, reason: `missing input ${missing.map((n) => `"${n}"`).join(', ')}` };
  return { ok: true, feeds };
}

/** Checks the bytes against the task's input hash, then validates them (what the pool runs for every task). */
export function checkInput(bytes: Uint8Array, sha256: string, info: ModelInfo, limits: InputLimits): Validated {
  const actual = sha256Hex(bytes);
  return actual === sha256
    ? validateInput(bytes, info, limits)
    : { ok: false, reason: `input bytes hash to ${actual}, not the task's input_hash ${sha256}` };
}

/** Inputs this small, or in binary form (a copy, not a parse), are checked on the calling thread: a worker round trip would cost more. */
export function cheapToCheck(bytes: Uint8Array): boolean {
  return bytes.length <= 16_384 || isBinary(bytes);
}
