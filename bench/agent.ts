/**
 * `npm run bench:agent`: for both default models, in one run, a raw in-process loop of
 * single-request `session.run` against the agent's worker pool with dynamic batching fed by
 * concurrent requests. Writes inferences/s and p50/p95 latency to bench/results/agent.json.
 * Goal: agent >= 1.5x the raw loop on the classifier.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import * as ort from 'onnxruntime-node';
import { WorkerPool } from '../node-agent/pool/index.js';
import { DynamicBatcher } from '../node-agent/batcher/index.js';
import { DEFAULT_MODELS } from '../node-agent/models/defaults.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const DELAY_MS = Number(process.env.BENCH_DELAY_MS ?? 2);

/** A deterministic image-like input in [-1, 1], the normalisation PP-OCR uses. */
function input(dims: number[]): Float32Array {
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 0.9;
  return data;
}

function summary(latencies: number[], elapsedMs: number) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const pick = (q: number) => +sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(2);
  return { inferences: sorted.length, inferences_per_s: +((sorted.length / elapsedMs) * 1000).toFixed(1), p50_ms: pick(0.5), p95_ms: pick(0.95) };
}

async function raw(file: string, dims: number[]) {
  // What a naive operator writes: onnxruntime's default options, one request at a time, on the main thread.
  const session = await ort.InferenceSession.create(file);
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', input(dims), dims) };
  await session.run(feeds);
  const latencies: number[] = [];
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    const t = performance.now();
    await session.run(feeds);
    latencies.push(performance.now() - t);
  }
  const result = summary(latencies, performance.now() - start);
  await session.release();
  return result;
}

async function agent(file: string, dims: number[], maxBatch: number, concurrency: number) {
  const pool = await WorkerPool.start({ workers: 0, intraOpThreads: 0, engine: 'onnxruntime' });
  const { info } = await pool.load('m', file, { x: dims });
  const batcher = new DynamicBatcher(pool, { maxBatch, maxQueueDelayMs: DELAY_MS });
  batcher.register('m', info);
  const name = info.inputs[0]!.name;
  const data = input(dims);
  const latencies: number[] = [];
  const start = performance.now();
  const client = async () => {
    while (performance.now() - start < SECONDS * 1000) {
      const t = performance.now();
      await batcher.submit('m', { [name]: { datatype: 'FP32', dims, data } });
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const result = {
    ...summary(latencies, performance.now() - start),
    concurrency,
    max_batch: maxBatch,
    mean_batch: +(batcher.counts.requests / batcher.counts.runs).toFixed(2),
    workers: pool.size,
    intra_op_threads: pool.intraOpThreads,
  };
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
  machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
  settings: { seconds_per_run: SECONDS, max_queue_delay_ms: DELAY_MS },
  goal: 'agent >= 1.5x raw loop on the classifier',
  goal_met: (results.classifier as { speedup: number }).speedup >= 1.5,
  results,
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/agent.json', import.meta.url), JSON.stringify(report, null, 2) + '\n');
console.log(`wrote bench/results/agent.json (classifier speedup ${(results.classifier as { speedup: number }).speedup}x)`);
