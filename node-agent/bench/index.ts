/**
 * Measuring this machine: concurrent requests through the pool and the batcher, as an operator's
 * agent would run them. `node-agent bench` turns the classifier's figure into the
 * performance_score the node registers with; bench/agent.ts reports the same measurement.
 */
import { allocateData, elementCount } from '../../protocol/index.js';
import type { DynamicBatcher } from '../batcher/index.js';
import type { ModelInfo } from '../engine/index.js';

/** Throughput and latency of one measurement. */
export interface Measurement {
  inferences: number;
  inferences_per_s: number;
  p50_ms: number;
  p95_ms: number;
  mean_batch: number;
}

/** Classifier inferences/s that score 100: what a 2-core cloud VM does with the default config. */
export const REFERENCE_CLASSIFIER_IPS = 2000;

/** The performance score for a classifier throughput: 100 at the reference, capped to the API's 1..1000. */
export function performanceScore(classifierIps: number): number {
  return Math.max(1, Math.min(1000, Math.round((100 * classifierIps) / REFERENCE_CLASSIFIER_IPS)));
}

/** A deterministic image-like input in [-1, 1], the normalisation PP-OCR uses. */
export function syntheticInput(dims: number[]): Float32Array {
  const data = allocateData('FP32', elementCount(dims)) as Float32Array;
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 0.9;
  return data;
}

/** p50/p95 and rate of latencies collected over `elapsedMs`. */
export function summarize(latencies: number[], elapsedMs: number): Omit<Measurement, 'mean_batch'> {
  const sorted = [...latencies].sort((a, b) => a - b);
  const pick = (q: number) => +(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(2);
  return {
    inferences: sorted.length,
    inferences_per_s: +((sorted.length / elapsedMs) * 1000).toFixed(1),
    p50_ms: pick(0.5),
    p95_ms: pick(0.95),
  };
}

/** Runs `concurrency` closed-loop clients for `seconds` against a loaded model through the batcher. */
export async function measure(
  batcher: DynamicBatcher,
  modelId: string,
  info: ModelInfo,
  dims: number[],
  concurrency: number,
  seconds: number,
): Promise<Measurement> {
  const input = info.inputs[0]!;
  const data = syntheticInput(dims);
  const before = { ...batcher.counts };
  const latencies: number[] = [];
  const start = performance.now();
  const client = async () => {
    while (performance.now() - start < seconds * 1000) {
      const t = performance.now();
      await batcher.submit(modelId, { [input.name]: { datatype: 'FP32', dims, data } });
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const runs = batcher.counts.runs - before.runs;
  const requests = batcher.counts.requests - before.requests;
  return { ...summarize(latencies, performance.now() - start), mean_batch: +(requests / Math.max(1, runs)).toFixed(2) };
}
