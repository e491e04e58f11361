/**
 * The canonical output form (protocol/tensor canonicalOutputs): honest nodes that computed the
 * same answer must sign the same output hash, or spot checks would slash them. Real onnxruntime
 * on the bundled classifier with two thread settings and two batch sizes, hashed at the default
 * precision that `deployModelArgs` records on chain.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_OUTPUT_PRECISION } from '../../protocol/contracts/index.js';
import { canonicalOutputs, jsonHash, roundSignificant, type InferenceOutputs } from '../../protocol/index.js';
import { WorkerPool, encodeOutputs, type Feeds } from '../../node-agent/index.js';
import { CLS, floats } from './helpers.js';

const SHAPE = [1, 3, 48, 192];
let single: WorkerPool;
let threaded: WorkerPool;
let output: string;

beforeAll(async () => {
  single = await WorkerPool.start({ workers: 1, intraOpThreads: 1, engine: 'onnxruntime' });
  threaded = await WorkerPool.start({ workers: 1, intraOpThreads: 2, engine: 'onnxruntime' });
  output = (await single.load('cls', CLS.path, CLS.warmupShape)).info.outputs[0]!.name;
  await threaded.load('cls', CLS.path, CLS.warmupShape);
});
afterAll(async () => {
  await single.close();
  await threaded.close();
});

const feeds = (dims: number[], data: Float32Array): Feeds => ({ x: { datatype: 'FP32', dims, data } });

describe('canonical outputs on the real classifier', () => {
  it('one thread alone and two threads in a batch of 8 sign the same hash for 20 inputs', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const input = floats(SHAPE, seed);
      const alone = await single.run('cls', feeds(SHAPE, input));
      const batch = new Float32Array(8 * input.length);
      for (let k = 0; k < 8; k++) batch.set(k === 5 ? input : floats(SHAPE, seed * 100 + k), k * input.length);
      const batched = await threaded.run('cls', feeds([8, ...SHAPE.slice(1)], batch));
      const row: Feeds = {
        [output]: { datatype: 'FP32', dims: [1, 2], data: (batched[output]!.data as Float32Array).slice(10, 12) },
      };
      expect(encodeOutputs(row, [output], DEFAULT_OUTPUT_PRECISION).hash, `input ${seed}`).toBe(
        encodeOutputs(alone, [output], DEFAULT_OUTPUT_PRECISION).hash,
      );
    }
  });

  it('the encoded output is canonical: the signer re-rounds it and gets the hash the node signed', async () => {
    const out = await single.run('cls', feeds(SHAPE, floats(SHAPE, 7)));
    const encoded = encodeOutputs(out, [output], DEFAULT_OUTPUT_PRECISION);
    const parsed = JSON.parse(encoded.json) as InferenceOutputs;
    expect(jsonHash(canonicalOutputs(parsed, DEFAULT_OUTPUT_PRECISION))).toBe(encoded.hash);
    for (const v of parsed.outputs[0]!.data as number[]) expect(roundSignificant(v, DEFAULT_OUTPUT_PRECISION)).toBe(v);
    expect(encoded.hash).not.toBe(encodeOutputs(out, [output], 0).hash);
  });
});

describe('roundSignificant', () => {
  it('makes floats that differ in their last bits equal, and leaves precision 0 exact', () => {
    const a = Math.fround(0.37465);
    const b = a + 2 ** -25; // one float32 ulp away, as another CPU or kernel may produce
    expect(a).not.toBe(b);
    expect(roundSignificant(a, 5)).toBe(roundSignificant(b, 5));
    expect(roundSignificant(a, 0)).toBe(a);
    expect(roundSignificant(123456.7, 3)).toBe(123000);
    expect(roundSignificant(-0.000123456, 2)).toBe(-0.00012);
  });

  it('is idempotent, so a second rounding never changes a canonical output', () => {
    for (const v of [0.1, 1 / 3, 2 / 3, 12345.678, -9.87654321e-9]) {
      for (const p of [1, 3, 5, 9]) expect(roundSignificant(roundSignificant(v, p), p)).toBe(roundSignificant(v, p));
    }
  });
});
