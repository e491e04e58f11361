/**
 * Checks a task's input blob against the model's input metadata before anything reaches the
 * runtime: a bad tensor becomes a task failure with a reason the requester can act on, never a
 * crash of the agent or a worker.
 */
import { decodeTensor, elementCount, inferenceInputsSchema, TensorError } from '../../protocol/tensor/index.js';
import type { Feeds, ModelInfo } from '../engine/index.js';

/** Size limits (config `runtime.max_input_bytes`, `runtime.max_input_elements`). */
export interface InputLimits {
  maxInputBytes: number;
  maxInputElements: number;
}

/** Decoded feeds ready for the engine, or why the input cannot run. */
export type Validated = { ok: true; feeds: Feeds } | { ok: false; reason: string };

/** Parses and validates raw input bytes (`{"inputs": [OIP tensors]}`) for a model. */
export function validateInput(bytes: Uint8Array, info: ModelInfo, limits: InputLimits): Validated {
  if (bytes.byteLength > limits.maxInputBytes) {
    return { ok: false, reason: `input is ${bytes.byteLength} bytes, over this node's limit of ${limits.maxInputBytes} bytes` };
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    return { ok: false, reason: `input is not valid JSON: ${(err as Error).message}` };
  }
  const parsed = inferenceInputsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, reason: `input does not follow the Open Inference Protocol form {"inputs":[{name,shape,datatype,data}]}: ${issue.path.join('.') || '(root)'}: ${issue.message}` };
  }
  const expected = new Map(info.inputs.map((m) => [m.name, m]));
  const seen = new Set<string>();
  const feeds: Feeds = {};
  let elements = 0;
  for (const t of parsed.data.inputs) {
    const meta = expected.get(t.name);
    if (!meta) return { ok: false, reason: `unknown input "${t.name}"; this model takes ${[...expected.keys()].map((n) => `"${n}"`).join(', ')}` };
    if (seen.has(t.name)) return { ok: false, reason: `input "${t.name}" is given twice` };
    seen.add(t.name);
    if (!meta.datatype) return { ok: false, reason: `input "${t.name}" has a type this node cannot feed from JSON` };
    if (t.datatype !== meta.datatype) return { ok: false, reason: `input "${t.name}" must be ${meta.datatype}, got ${t.datatype}` };
    const want = `[${meta.shape.map((d) => (typeof d === 'number' ? d : '?')).join(',')}]`;
    if (t.shape.length !== meta.shape.length) {
      return { ok: false, reason: `input "${t.name}" must have rank ${meta.shape.length} ${want}, got rank ${t.shape.length} [${t.shape.join(',')}]` };
    }
    for (let i = 0; i < t.shape.length; i++) {
      const fixed = meta.shape[i];
      if (typeof fixed === 'number' && t.shape[i] !== fixed) {
        return { ok: false, reason: `input "${t.name}" dimension ${i} must be ${fixed} (shape ${want}), got ${t.shape[i]}` };
      }
      if (t.shape[i] === 0) return { ok: false, reason: `input "${t.name}" dimension ${i} is 0: an empty tensor cannot run` };
    }
    elements += elementCount(t.shape);
    if (elements > limits.maxInputElements) {
      return { ok: false, reason: `input has more than ${limits.maxInputElements} elements in total, over this node's limit` };
    }
    try {
      feeds[t.name] = decodeTensor(t);
    } catch (err) {
      if (err instanceof TensorError) return { ok: false, reason: err.message };
      throw err;
    }
  }
  const missing = [...expected.keys()].filter((n) => !seen.has(n));
  if (missing.length > 0) return { ok: false, reason: `missing input ${missing.map((n) => `"${n}"`).join(', ')}` };
  return { ok: true, feeds };
}
