/**
 * `npm run bench:agent`: for both default models, in one run, a raw in-process loop of
 * single-request `session.run` against the agent's worker pool with dynamic batching fed by
 * concurrent requests, taking turns in short rounds. Writes inferences/s and p50/p95 latency to
 * bench/results/agent.json.
 * Goal: agent >= 1.5x the raw loop on the classifier.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import * as ort from 'onnxruntime-node';
import { WorkerPool } from '../node-agent/pool/index.js';
import { DynamicBatcher } from '../node-agent/batcher/index.js';
import { DEFAULT_MODELS } from '../node-agent/models/defaults.js';
import { summarize, syntheticInput } from '../node-agent/bench/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DELAY_MS = Number(process.env.BENCH_DELAY_MS ?? 2);

/** Latencies and busy time of one side, summed over its rounds. */
class Side {
  latencies: number[] = [];
  elapsed = 0;
  /** Runs `client` in `concurrency` closed loops for `ms`. */
  async round(ms: number, concurrency: number, request: () => Promise<unknown>) {
    const start = performance.now();
    const loop = async () => {
      while (performance.now() - start < ms) {
        const t = performance.now();
        await request();
        this.latencies.push(performance.now() - t);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
    this.elapsed += performance.now() - start;
  }
}

/** Raw and agent take turns in short rounds, so a shared machine's changing load hits both alike. */
async function compare(file: string, dims: number[], maxBatch: number, concurrency: number) {
  // The raw side is what a naive operator writes: onnxruntime's default options, one request at a time, on the main thread.
  const session = await ort.InferenceSession.create(file);
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', syntheticInput(dims), dims) };
  await session.run(feeds);
  const pool = await WorkerPool.start({ workers: 0, intraOpThreads: 0, engine: 'onnxruntime' });
  const { info } = await pool.load('m', file, { x: dims });
  const batcher = new DynamicBatcher(pool, { maxBatch, maxQueueDelayMs: DELAY_MS });
  batcher.register('m', info);
  const request = { [info.inputs[0]!.name]: { datatype: 'FP32' as const, dims, data: syntheticInput(dims) } };
  const raw = new Side();
  const agent = new Side();
  const ms = (SECONDS * 1000) / ROUNDS;
  for (let r = 0; r < ROUNDS; r++) {
    await raw.round(ms, 1, () => session.run(feeds));
    await agent.round(ms, concurrency, () => batcher.submit('m', request));
  }
  const result = {
    input_shape: dims,
    raw_single_request_loop: summarize(raw.latencies, raw.elapsed),
    agent_pool_dynamic_batching: {
      ...summarize(agent.latencies, agent.elapsed),
      mean_batch: +(batcher.counts.requests / batcher.counts.runs).toFixed(2),
      concurrency,
      max_batch: maxBatch,
      workers: pool.size,
      intra_op_threads: pool.intraOpThreads,
    },
    speedup: 0,
  };
  result.speedup = +(
    result.agent_pool_dynamic_batching.inferences_per_s / result.raw_single_request_loop.inferences_per_s
  ).toFixed(2);
  batcher.close();
  await pool.close();
  await session.release();
  return result;
}

const runs = [
  { model: 'classifier', known: DEFAULT_MODELS.classifier, concurrency: 32 },
  { model: 'detector', known: DEFAULT_MODELS.detector, concurrency: 4 },
];
const results: Record<string, unknown> = {};
for (const r of runs) {
  results[r.model] = await compare(r.known.path, r.known.warmupShape.x, r.known.maxBatch, r.concurrency);
  console.log(r.model, JSON.stringify(results[r.model]));
}
const report = {
  benchmark: 'agent',
  date: new Date().toISOString(),
  // The box may be shared: the load average says how much of it this run had.
  machine: {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    load_average_1m: +loadavg()[0]!.toFixed(2),
  },
  settings: { seconds_per_side: SECONDS, rounds: ROUNDS, max_queue_delay_ms: DELAY_MS },
  goal: 'agent >= 1.5x raw loop on the classifier',
  goal_met: (results.classifier as { speedup: number }).speedup >= 1.5,
  results,
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/agent.json', import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
console.log(
  `wrote bench/results/agent.json (classifier speedup ${(results.classifier as { speedup: number }).speedup}x)`,
);
