/**
 * The console's onnxruntime thread (signer/console-models/onnx.ts on protocol/workers): a job
 * past its time fails saying which setting to raise, and no thread stays once the jobs are done.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OnnxError, inspectModel, testRun } from '../../signer/console-models/onnx.js';
import { CLS } from '../node-agent/helpers.js';

const osThreads = () => Number(/^Threads:\s+(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

describe("console's onnxruntime thread", () => {
  it('reads a model, runs it, and keeps no thread once idle', async () => {
    // The first job also starts what a process starts once (libuv's pool, esbuild): count from after it.
    await inspectModel(CLS.path, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    const before = osThreads();
    const io = await inspectModel(CLS.path, 60_000);
    expect(io.inputs.map((i) => i.name)).toEqual(['x']);
    const run = await testRun(CLS.path, {}, 60_000);
    expect(run.outputs_summary[0]!.sample).toHaveLength(Math.min(16, run.outputs_summary[0]!.size));
    await expect.poll(osThreads, { timeout: 10_000 }).toBeLessThanOrEqual(before);
  });

  it('fails a job that takes too long with what to raise, then serves the next', async () => {
    // Warm: the bundle is built and the file cached, so the time limit falls inside onnxruntime's work.
    await inspectModel(CLS.path, 60_000);
    const err = await testRun(CLS.path, {}, 1).catch((e: Error) => e);
    expect(err).toBeInstanceOf(OnnxError);
    expect((err as Error).message).toBe('onnxruntime did not finish within 1 ms (models.validate_timeout_ms)');
    expect((await inspectModel(CLS.path, 60_000)).outputs).toHaveLength(1);
  });
});
