/**
 * A task's outputs as the exact bytes that are posted and signed: the canonical JSON of
 * `{"outputs": [OIP tensors]}` and its sha256 (what `jsonHash` gives the signer after it parses
 * them). Runs on a pool worker: serializing a large output map blocks like a run.
 */
import { canonicalJson, canonicalOutputs, encodeTensor, sha256Hex } from '../../protocol/index.js';
import type { Feeds } from '../engine/index.js';

/** Serialized outputs, their hash, and a confidence when the output is a probability table. */
export interface EncodedOutput {
  json: string;
  hash: string;
  confidence: number | null;
}

/** Mean of the row maxima when the only output looks like probabilities (rows summing to 1), else null. */
export function confidenceOf(outputs: Feeds): number | null {
  const tensors = Object.values(outputs);
  const t = tensors[0];
  if (
    tensors.length !== 1 ||
    !t ||
    !(t.data instanceof Float32Array || t.data instanceof Float64Array) ||
    t.dims.length < 1
  )
    return null;
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

/**
 * Encodes the named outputs (in that order) in canonical form: floats rounded to `precision`
 * significant digits (the task's, from the model's on-chain record), so nodes that computed the
 * same answer sign the same hash. A NaN or Infinity is the model's failure on this input.
 */
export function encodeOutputs(outputs: Feeds, names: string[], precision = 0): EncodedOutput {
  for (const name of names) {
    const data = outputs[name]!.data;
    if ((data instanceof Float32Array || data instanceof Float64Array) && data.some((v) => !Number.isFinite(v))) {
      throw new Error(`model produced non-finite values (NaN or Infinity) in output "${name}" for this input`);
    }
  }
  const output = canonicalOutputs({ outputs: names.map((n) => encodeTensor(n, outputs[n]!)) }, precision);
  const json = canonicalJson(output);
  return { json, hash: sha256Hex(json), confidence: confidenceOf(outputs) };
}

/** Outputs this small are serialized on the calling thread: a worker round trip would cost more than the work. */
export function cheapToEncode(outputs: Feeds): boolean {
  return Object.values(outputs).reduce((n, t) => n + t.data.length, 0) <= 4_096;
}
