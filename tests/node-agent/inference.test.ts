/**
 * Real onnxruntime on the real PP-OCR models, through the agent's worker pool and batcher:
 * known outputs, batched equal to unbatched, shapes that may not be stacked kept apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { DynamicBatcher, WorkerPool, type Feeds, type ModelInfo } from '../../node-agent/index.js';
import { syntheticInput } from '../../node-agent/bench/index.js';
import { CLS, DET, floats } from './helpers.js';

let pool: WorkerPool;
let clsInfo: ModelInfo;
let detInfo: ModelInfo;

beforeAll(async () => {
  pool = await WorkerPool.start({ workers: 2, intraOpThreads: 1, engine: 'onnxruntime' });
  clsInfo = (await pool.load('cls', CLS.path, CLS.warmupShape)).info;
  detInfo = (await pool.load('det', DET.path, DET.warmupShape)).info;
});
afterAll(() => pool.close());

const x = (dims: number[], data: Float32Array): Feeds => ({ x: { datatype: 'FP32', dims, data } });
const probs = (f: Feeds) => Array.from(f['softmax_0.tmp_0']!.data as Float32Array);

describe('models in the worker pool', () => {
  it('reports the models metadata: names, dtypes, free and fixed dims', () => {
    expect(clsInfo.inputs).toEqual([
      { name: 'x', datatype: 'FP32', shape: [expect.any(String), 3, expect.any(String), expect.any(String)] },
    ]);
    expect(clsInfo.outputs).toEqual([{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [expect.any(String), 2] }]);
    expect(detInfo.outputs[0]!.name).toBe('sigmoid_0.tmp_0');
    expect(pool.stats()).toMatchObject({ workers: 2, intraOpThreads: 1, restarts: 0 });
  });

  it('gives the classifier output pinned for a known input, equal to an in-process session', async () => {
    const dims = [1, 3, 48, 192];
    const out = await pool.run('cls', x(dims, syntheticInput(dims)));
    expect(out['softmax_0.tmp_0']!.dims).toEqual([1, 2]);
    const [p0, p1] = probs(out);
    // Pinned once from onnxruntime 1.30 on this model: a model or runtime change shows up here.
    expect(p0).toBeCloseTo(0.37465, 4);
    expect(p1).toBeCloseTo(0.62535, 4);
    const session = await ort.InferenceSession.create(CLS.path);
    const direct = await session.run({ x: new ort.Tensor('float32', syntheticInput(dims), dims) });
    await session.release();
    const ref = Array.from(direct['softmax_0.tmp_0']!.data as Float32Array);
    probs(out).forEach((v, i) => expect(Math.abs(v - ref[i]!)).toBeLessThan(1e-5));
  });

  it('gives the detector a probability map the size of the image', async () => {
    const dims = [1, 3, 64, 96];
    const out = await pool.run('det', x(dims, floats(dims, 7)));
    const map = out['sigmoid_0.tmp_0']!;
    expect(map.dims).toEqual([1, 1, 64, 96]);
    expect(Array.from(map.data as Float32Array).every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('fails a run the runtime cannot do with its message, and keeps serving', async () => {
    await expect(pool.run('cls', x([1, 3, 48, 192], new Float32Array(5)))).rejects.toThrow();
    await expect(pool.run('nope', x([1, 3, 48, 192], new Float32Array(3 * 48 * 192)))).rejects.toThrow(
      'model nope is not loaded',
    );
    expect((await pool.run('cls', x([1, 3, 48, 192], floats([1, 3, 48, 192], 3))))['softmax_0.tmp_0']!.dims).toEqual([
      1, 2,
    ]);
  });
});

describe('dynamic batching', () => {
  it('stacks concurrent requests into fewer runs, each answer equal to running it alone (1e-5)', async () => {
    const batcher = new DynamicBatcher(pool, { maxBatch: 8, maxQueueDelayMs: 30 });
    batcher.register('cls', clsInfo);
    const dims = [1, 3, 48, 192];
    const inputs = Array.from({ length: 12 }, (_, i) => floats(dims, i + 1));
    const alone = await Promise.all(inputs.map((d) => pool.run('cls', x(dims, d))));
    const batched = await Promise.all(inputs.map((d) => batcher.submit('cls', x(dims, d))));
    expect(batcher.counts.requests).toBe(12);
    expect(batcher.counts.runs).toBeLessThanOrEqual(4);
    batched.forEach((out, i) => {
      expect(out['softmax_0.tmp_0']!.dims).toEqual([1, 2]);
      probs(out).forEach((v, j) => expect(Math.abs(v - probs(alone[i]!)[j]!)).toBeLessThan(1e-5));
    });
    // The inputs differ, so the answers must too: a mix-up in splitting would show.
    expect(new Set(batched.map((o) => probs(o)[0]!.toFixed(6))).size).toBeGreaterThan(6);
    batcher.close();
  });

  it('splits requests that carry several rows and keeps different shapes apart', async () => {
    const batcher = new DynamicBatcher(pool, { maxBatch: 16, maxQueueDelayMs: 30 });
    batcher.register('cls', clsInfo);
    const two = [2, 3, 48, 192];
    const wide = [1, 3, 48, 320];
    const a = floats(two, 11);
    const b = floats(wide, 12);
    const c = floats([1, 3, 48, 192], 13);
    const [ra, rb, rc] = await Promise.all([
      batcher.submit('cls', x(two, a)),
      batcher.submit('cls', x(wide, b)),
      batcher.submit('cls', x([1, 3, 48, 192], c)),
    ]);
    expect(ra['softmax_0.tmp_0']!.dims).toEqual([2, 2]);
    expect(rb['softmax_0.tmp_0']!.dims).toEqual([1, 2]);
    expect(rc['softmax_0.tmp_0']!.dims).toEqual([1, 2]);
    const refs = await Promise.all([
      pool.run('cls', x(two, a)),
      pool.run('cls', x(wide, b)),
      pool.run('cls', x([1, 3, 48, 192], c)),
    ]);
    [ra, rb, rc].forEach((r, i) =>
      probs(r).forEach((v, j) => expect(Math.abs(v - probs(refs[i]!)[j]!)).toBeLessThan(1e-5)),
    );
    // Two shapes: the two 48x192 requests shared one run, the 48x320 one ran alone.
    expect(batcher.counts).toEqual({ runs: 2, requests: 3 });
    batcher.close();
  });

  it('does not stack a model registered with max_batch 1', async () => {
    const batcher = new DynamicBatcher(pool, { maxBatch: 16, maxQueueDelayMs: 30 });
    batcher.register('det', detInfo, 1);
    const dims = [1, 3, 32, 32];
    await Promise.all([1, 2, 3].map((s) => batcher.submit('det', x(dims, floats(dims, s)))));
    expect(batcher.counts).toEqual({ runs: 3, requests: 3 });
    batcher.close();
  });
});
