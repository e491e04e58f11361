/**
 * The worker pool survives its workers: one that dies is replaced (models reloaded, the job it
 * was running failed saying why), and inference never stalls the agent's event loop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import type { Worker } from 'node:worker_threads';
import { WorkerPool, type Feeds } from '../../node-agent/index.js';
import { CLS, DET, floats } from './helpers.js';

let pool: WorkerPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

const x = (dims: number[], seed = 1): Feeds => ({ x: { datatype: 'FP32', dims, data: floats(dims, seed) } });
const workerOf = (p: WorkerPool, i: number) =>
  (p as unknown as { threads: { slots: { worker: Worker }[] } }).threads.slots[i]!.worker;
/** Makes a worker throw an uncaught error, as a bug in it would: the thread really exits. */
const crash = (p: WorkerPool, i: number) => workerOf(p, i).postMessage({ type: 'not-a-job' });

/** Longest gap between 5 ms ticks while `work` runs. */
async function maxTickGap(work: () => Promise<unknown>): Promise<{ gap: number; elapsed: number }> {
  let last = performance.now();
  let gap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
  }, 5);
  const start = performance.now();
  await work();
  const elapsed = performance.now() - start;
  // Let the timer fire once more: a blocked loop shows its gap on the first tick after the block.
  await new Promise((r) => setTimeout(r, 20));
  clearInterval(timer);
  return { gap, elapsed };
}

describe('worker pool', () => {
  it('replaces a worker that throws, reloads its models and keeps answering', async () => {
    const replaced: string[] = [];
    pool = await WorkerPool.start({
      workers: 2,
      intraOpThreads: 1,
      engine: 'onnxruntime',
      onReplace: (r) => replaced.push(r),
    });
    await pool.load('cls', CLS.path, CLS.warmupShape);
    const before = await pool.run('cls', x([1, 3, 48, 192]));
    crash(pool, 0);
    crash(pool, 1);
    await expect.poll(() => pool!.stats().restarts, { timeout: 20_000 }).toBe(2);
    expect(replaced[0]).toMatch(/^inference worker threw: worker received an unknown call: \{"type":"not-a-job"\}$/);
    const after = await Promise.all([1, 2, 3, 4].map(() => pool!.run('cls', x([1, 3, 48, 192]))));
    for (const out of after)
      expect(Array.from(out['softmax_0.tmp_0']!.data as Float32Array)).toEqual(
        Array.from(before['softmax_0.tmp_0']!.data as Float32Array),
      );
    await expect.poll(() => pool!.stats()).toEqual({ workers: 2, intraOpThreads: 1, busy: 0, queued: 0, restarts: 2 });
  });

  it('fails the job a dying worker was running, saying why, and runs the next on its replacement', async () => {
    pool = await WorkerPool.start({ workers: 1, intraOpThreads: 1, engine: 'onnxruntime' });
    await pool.load('det', DET.path, DET.warmupShape);
    // The worker dies on the message just before the job: the job was sent to a worker that never answers.
    crash(pool, 0);
    const lost = await pool.run('det', x([1, 3, 640, 640], 2)).catch((e: Error) => e);
    expect(lost).toMatchObject({ name: 'WorkerCrashedError', code: 'worker_crashed' });
    expect((lost as Error).message).toMatch(
      /^inference worker threw: worker received an unknown call: .* while running run$/,
    );
    const out = await pool.run('det', x([1, 3, 640, 640], 2));
    expect(out['sigmoid_0.tmp_0']!.dims).toEqual([1, 1, 640, 640]);
    expect(pool.stats().restarts).toBe(1);
  });

  it('closes only after the runs in progress finish (terminating onnxruntime mid-run would abort the process)', async () => {
    pool = await WorkerPool.start({ workers: 1, intraOpThreads: 1, engine: 'onnxruntime' });
    await pool.load('det', DET.path, DET.warmupShape);
    const running = pool.run('det', x([1, 3, 960, 960], 5));
    const queued = pool.run('det', x([1, 3, 960, 960], 6)).catch((e: Error) => e);
    await expect.poll(() => pool!.stats().busy).toBe(1);
    await pool.close();
    expect((await running)['sigmoid_0.tmp_0']!.dims).toEqual([1, 1, 960, 960]);
    expect(await queued).toMatchObject({ name: 'PoolClosedError', message: 'inference worker pool closed' });
    pool = undefined;
  });

  it('stops replacing workers that keep dying, and says so', async () => {
    pool = await WorkerPool.start({ workers: 1, intraOpThreads: 1, engine: 'onnxruntime' });
    for (let i = 1; i <= 5; i++) {
      crash(pool, 0);
      await expect.poll(() => pool!.stats().restarts, { timeout: 20_000 }).toBe(i);
      await expect.poll(() => pool!.capacity(), { timeout: 20_000 }).toBe(1);
    }
    crash(pool, 0);
    const message = /^inference workers crashed 6 times within 60 s \(last: threw: .*\); not replacing them$/;
    // The run sent to the dying worker fails with its death; every later one with the crash loop.
    await expect(pool.run('cls', x([1, 3, 48, 192]))).rejects.toMatchObject({ name: 'WorkerCrashedError' });
    await expect(pool.run('cls', x([1, 3, 48, 192]))).rejects.toThrow(message);
    await expect(pool.load('cls', CLS.path, CLS.warmupShape)).rejects.toThrow(message);
  });

  it('hands a batch over to its worker without copying it when asked, and copies it otherwise', async () => {
    pool = await WorkerPool.start({ workers: 1, intraOpThreads: 1, engine: 'onnxruntime' });
    await pool.load('cls', CLS.path, CLS.warmupShape);
    const kept = x([4, 3, 48, 192], 3);
    const moved = x([4, 3, 48, 192], 3);
    const [a, b] = await Promise.all([pool.run('cls', kept), pool.run('cls', moved, { move: true })]);
    expect(kept.x!.data.length).toBe(4 * 3 * 48 * 192);
    // A moved buffer is detached here: the worker has it.
    expect(moved.x!.data.length).toBe(0);
    expect(Array.from(b['softmax_0.tmp_0']!.data as Float32Array)).toEqual(
      Array.from(a['softmax_0.tmp_0']!.data as Float32Array),
    );
  });

  it('releases a model from every worker', async () => {
    pool = await WorkerPool.start({ workers: 2, intraOpThreads: 1, engine: 'onnxruntime' });
    await pool.load('cls', CLS.path, CLS.warmupShape);
    await pool.release('cls');
    const runs = await Promise.all(
      [1, 2].map(() => pool!.run('cls', x([1, 3, 48, 192])).catch((e: Error) => e.message)),
    );
    expect(runs).toEqual(['model cls is not loaded', 'model cls is not loaded']);
  });

  it('refuses to start when its engine does not exist, saying why', async () => {
    await expect(WorkerPool.start({ workers: 1, intraOpThreads: 1, engine: 'no-such-engine' })).rejects.toThrow(
      /^inference worker failed to start: threw: unknown engine "no-such-engine"$/,
    );
  });

  it('keeps the event loop responsive while the detector runs, unlike an in-process session', async () => {
    const dims = [1, 3, 1280, 1280];
    const session = await ort.InferenceSession.create(DET.path, { intraOpNumThreads: 1 });
    const feeds = { x: new ort.Tensor('float32', floats(dims, 4), dims) };
    const inline = await maxTickGap(() => session.run(feeds));
    await session.release();
    // The control: run on the main thread, one inference freezes every timer for its whole duration.
    expect(inline.gap).toBeGreaterThan(0.8 * inline.elapsed);

    pool = await WorkerPool.start({ workers: 1, intraOpThreads: 1, engine: 'onnxruntime' });
    await pool.load('det', DET.path, DET.warmupShape);
    const jobs = [1, 2, 3].map((s) => x(dims, s));
    const offThread = await maxTickGap(() => Promise.all(jobs.map((feeds) => pool!.run('det', feeds))));
    // Relative bounds, so a loaded machine slows both sides alike.
    expect(offThread.gap).toBeLessThan(offThread.elapsed / 4);
    expect(offThread.gap).toBeLessThan(inline.gap / 2);
  });
});
