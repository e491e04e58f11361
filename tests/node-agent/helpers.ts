/**
 * Shared by the node-agent suites: the real models, deterministic inputs, and input blobs in
 * the Open Inference Protocol form.
 */
import { DEFAULT_MODELS } from '../../node-agent/index.js';
import type { OipTensor } from '../../protocol/index.js';

export const CLS = DEFAULT_MODELS.classifier;
export const DET = DEFAULT_MODELS.detector;

/** A deterministic pseudo-random float32 tensor in [-1, 1) (xorshift, so every seed differs). */
export function floats(dims: number[], seed = 1): Float32Array {
  const out = new Float32Array(dims.reduce((a, b) => a * b, 1));
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** An OIP tensor. */
export function oip(
  name: string,
  dims: number[],
  data: ArrayLike<number> | unknown[],
  datatype: OipTensor['datatype'] = 'FP32',
): OipTensor {
  return { name, shape: dims, datatype, data: Array.from(data as ArrayLike<unknown>) };
}

/** Bytes of an input blob `{"inputs": [...]}`. */
export function blob(...inputs: unknown[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ inputs }));
}
