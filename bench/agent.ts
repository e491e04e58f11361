/**
 * `npm run bench:agent`: for both default models, in one run, a raw in-process loop of
 * single-request `session.run` against the agent's worker pool with dynamic batching fed by
 * concurrent requests. Writes inferences/s and p50/p95 latency to bench/results/agent.json.
 * Goal: agent >= 1.5x the raw loop on the classifier.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import * as ort from 'onnxruntime-node';
import { WorkerPool } from '../node-agent/pool/index.js';
import { DynamicBatcher } from '../node-agent/batcher/index.js';
import { DEFAULT_MODELS } from '../node-agent/models/defaults.js';
import { measure, summarize, syntheticInput } from '../node-agent/bench/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const DELAY_MS = Number(process.env.BENCH_DELAY_MS ?? 2);

async function raw(file: string, dims: number[]) {
  // What a naive operator writes: onnxruntime's default options, one request at a time, on the main thread.
  const session = await ort.InferenceSession.create(file);
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', syntheticInput(dims), dims) };
  await session.run(feeds);
  const latencies: number[] = [];
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    const t = performance.now();
    await session.run(feeds);
    latencies.push(performance.now() - t);
  }
  const result = summarize(latencies, performance.now() - start);
  await session.release();
  return result;
}

async function agent(file: string, dims: number[], maxBatch: number, concurrency: number) {
  const pool = await WorkerPool.start({ workers: 0, intraOpThreads: 0, engine: 'onnxruntime' });
  const { info } = await pool.load('m', file, { x: dims });
  const batcher = new DynamicBatcher(pool, { maxBatch, maxQueueDelayMs: DELAY_MS });
  batcher.register('m', info);
  const result = { ...(await measure(batcher, 'm', info, dims, concurrency, SECONDS)), concurrency, max_batch: maxBatch, workers: pool.size, intra_op_threads: pool.intraOpThreads };
  batcher.close();
  await pool.close();
  return result;
}

const runs = [
  { model: 'classifier', known: DEFAULT_MODELS.classifier, concurrency: 32 },
  { model: 'detector', known: DEFAULT_MODELS.detector, concurrency: 4 },
];
const results: Record<string, unknown> = {};
for (const r of runs) {
  const dims = r.known.warmupShape.x;
  const rawResult = await raw(r.known.path, dims);
  const agentResult = await agent(r.known.path, dims, r.known.maxBatch, r.concurrency);
  results[r.model] = {
    input_shape: dims,
    raw_single_request_loop: rawResult,
    agent_pool_dynamic_batching: agentResult,
    speedup: +(agentResult.inferences_per_s / rawResult.inferences_per_s).toFixed(2),
  };
  console.log(r.model, JSON.stringify(results[r.model]));
}
const report = {
  benchmark: 'agent',
  date: new Date().toISOString(),
  // The box may be shared: the load average says how much of it this run had.
  machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version, load_average_1m: +loadavg()[0]!.toFixed(2) },
  settings: { seconds_per_run: SECONDS, max_queue_delay_ms: DELAY_MS },
  goal: 'agent >= 1.5x raw loop on the classifier',
  goal_met: (results.classifier as { speedup: number }).speedup >= 1.5,
  results,
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/agent.json', import.meta.url), JSON.stringify(report, null, 2) + '\n');
console.log(`wrote bench/results/agent.json (classifier speedup ${(results.classifier as { speedup: number }).speedup}x)`);
