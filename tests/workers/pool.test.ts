/**
 * The typed worker pool (protocol/workers) on a real worker file: calls typed by its handlers,
 * priority and a bounded queue, timeouts, a worker that really exits, and a close that leaves no
 * thread running.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool, workerFile } from '../../protocol/workers/index.js';
import type { handlers } from './worker.js';

type H = typeof handlers;
const file = workerFile(import.meta.url, 'worker');
let pool: ThreadPool<H> | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

/** The process's OS threads (Linux): a worker thread is one, gone once terminated and joined. */
const osThreads = () => Number(/^Threads:\s+(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

const start = (opts: Partial<Parameters<typeof ThreadPool.start>[0]> = {}) =>
  ThreadPool.start<H>({ file, size: 1, label: 'test worker', ...opts });

describe('ThreadPool', () => {
  it('runs typed calls from a .ts worker file on worker threads', async () => {
    pool = await start({ size: 2, workerData: { hello: 'there' } });
    const out = await pool.call('echo', { text: 'hi' });
    expect(out).toMatchObject({ text: 'hi', data: { hello: 'there' } });
    expect(out.threadId).toBeGreaterThan(0);
    const moved = await pool.call('bytes', { n: 1000 });
    expect(moved).toBeInstanceOf(Uint8Array);
    expect(moved.byteLength).toBe(1000);
  });

  it("fails only the call whose handler throws, with the handler's message and name", async () => {
    pool = await start();
    await expect(pool.call('fail', { message: 'bad input' })).rejects.toMatchObject({
      name: 'RangeError',
      message: 'bad input',
    });
    expect((await pool.call('echo', { text: 'still here' })).text).toBe('still here');
    expect(pool.stats().restarts).toBe(0);
  });

  it('replaces a worker that exits and fails its in-flight calls saying so', async () => {
    const replaced: string[] = [];
    pool = await start({ perWorker: 4, onReplace: (r) => replaced.push(r) });
    const sleeping = pool.call('sleep', { ms: 5_000 }).catch((e: Error) => e);
    const exiting = pool.call('exit', { code: 3 }).catch((e: Error) => e);
    for (const err of [await exiting, await sleeping]) {
      expect(err).toMatchObject({ name: 'WorkerCrashedError', code: 'worker_crashed' });
      expect((err as Error).message).toMatch(/^test worker exited with code 3 while running (exit|sleep)$/);
    }
    expect(replaced).toEqual(['test worker exited with code 3']);
    expect((await pool.call('echo', { text: 'again' })).text).toBe('again');
    expect(pool.stats()).toEqual({ workers: 1, busy: 0, queued: 0, restarts: 1 });
  });

  it('stops replacing workers that keep dying, and says so', async () => {
    pool = await start({ crashLoop: { deaths: 2, windowMs: 60_000 } });
    for (let i = 0; i < 3; i++) await pool.call('exit', { code: 1 }).catch(() => {});
    const message = /^test workers crashed 3 times within 60 s \(last: exited with code 1\); not replacing them$/;
    await expect(pool.call('echo', { text: 'x' })).rejects.toThrow(message);
  });

  it('bounds its queue and runs higher priorities first', async () => {
    pool = await start({ maxQueue: 2 });
    const order: string[] = [];
    const busy = pool.call('block', { ms: 300 });
    const low = pool.call('echo', { text: 'low' }).then((r) => order.push(r.text));
    const high = pool.call('echo', { text: 'high' }, { priority: 1 }).then((r) => order.push(r.text));
    await expect(pool.call('echo', { text: 'one too many' })).rejects.toMatchObject({
      name: 'QueueFullError',
      code: 'queue_full',
    });
    expect(pool.capacity()).toBe(0);
    await Promise.all([busy, low, high]);
    expect(order).toEqual(['high', 'low']);
    expect(pool.capacity()).toBe(1);
  });

  it('times a call out, stops its stuck thread and starts another for the next call', async () => {
    pool = await start();
    const err = await pool.call('block', { ms: 3_000 }, { timeoutMs: 100 }).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'CallTimeoutError', message: 'test worker did not finish block within 100 ms' });
    expect((await pool.call('echo', { text: 'next' })).text).toBe('next');
    expect(pool.stats().restarts).toBe(0);
  });

  it('can retire a timed-out worker instead (native code must not be terminated mid-call): it stops once done', async () => {
    const before = osThreads();
    pool = await start({ onTimeout: 'retire' });
    const slow = pool.call('block', { ms: 600 }, { timeoutMs: 100 });
    await expect(slow).rejects.toMatchObject({ name: 'CallTimeoutError' });
    // The next call runs on a new thread beside the retired one, which is still blocked.
    expect((await pool.call('echo', { text: 'beside' })).text).toBe('beside');
    expect(osThreads()).toBe(before + 2);
    await expect.poll(osThreads, { timeout: 5_000 }).toBe(before + 1);
  });

  it('starts lazily, stops idle workers and runs a call on every worker', async () => {
    pool = await start({ size: 2, lazy: true, idleMs: 50 });
    expect(pool.stats().workers).toBe(0);
    await pool.call('echo', { text: 'wake' });
    await expect.poll(() => pool!.stats().workers).toBe(0);
    pool = await start({ size: 3 });
    const ids = (await pool.each('echo', { text: 'all' })).map((r) => r.threadId);
    expect(new Set(ids).size).toBe(3);
  });

  it('closes after running calls finish, fails waiting ones, and leaves no thread behind', async () => {
    const before = osThreads();
    pool = await start({ size: 2 });
    expect(osThreads()).toBe(before + 2);
    const running = pool.call('block', { ms: 200 });
    const running2 = pool.call('block', { ms: 200 });
    const waiting = pool.call('echo', { text: 'late' }).catch((e: Error) => e);
    await pool.close();
    expect(await Promise.all([running, running2])).toEqual([200, 200]);
    expect(await waiting).toMatchObject({ name: 'PoolClosedError', code: 'pool_closed' });
    await expect(pool.call('echo', { text: 'after' })).rejects.toMatchObject({ name: 'PoolClosedError' });
    expect(pool.stats().workers).toBe(0);
    expect(osThreads()).toBe(before);
    pool = undefined;
  });

  it('refuses to start when the worker file fails at load, saying why', async () => {
    const missing = new URL('./no-such-worker.ts', import.meta.url);
    await expect(ThreadPool.start({ file: missing, size: 1, label: 'test worker' })).rejects.toThrow(
      /^test worker failed to start: /,
    );
  });
});
