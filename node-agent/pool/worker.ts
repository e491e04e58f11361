/**
 * An inference worker: owns one Engine and runs what the pool sends, one call at a time. The
 * engine's `run` blocks this thread, which is the point: the agent's main thread stays free.
 * Input parsing and output serialization run here too: JSON work on a large tensor blocks just the same,
 * and so does the ECIES of encrypted tasks (see ../sealed).
 */
import { workerData } from 'node:worker_threads';
import { ENGINES, type Engine, type Feeds, type ModelInfo, type TensorMeta } from '../engine/index.js';
import { allocateData, elementCount } from '../../protocol/tensor/index.js';
import { move, serve } from '../../protocol/workers/index.js';
import { checkInput, type InputLimits } from '../validate/index.js';
import { encodeOutputs } from '../encode/index.js';
import { openSealedInput, sealOutput } from '../sealed/index.js';

/** What a load reports. */
export interface LoadResult {
  info: ModelInfo;
  warmupMs: number;
  /** Set when the warm-up run failed (the model still loaded; real inputs may still run). */
  warmupError?: string;
}

/** A model to load: what `load` sends to every worker, and again to each replacement. */
export interface LoadCall {
  modelId: string;
  file: string;
  intraOpThreads: number;
  warmupShapes: Record<string, number[]>;
}

const engineName = (workerData as { engine: string }).engine;
const factory = ENGINES[engineName];
if (!factory) throw new Error(`unknown engine ${JSON.stringify(engineName)}`);
// Started at once, awaited by each call: a missing runtime fails the first call, not silently.
const engine: Promise<Engine> = factory();

/** Zero tensors shaped like the model's inputs: free dims get the configured warm-up size. */
function warmupFeeds(inputs: TensorMeta[], shapes: Record<string, number[]>): Feeds {
  const feeds: Feeds = {};
  for (const m of inputs) {
    if (!m.datatype) continue;
    const dims = shapes[m.name] ?? m.shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : 32));
    feeds[m.name] = { datatype: m.datatype, dims, data: allocateData(m.datatype, elementCount(dims)) };
  }
  return feeds;
}

/** Buffers of typed arrays, handed over to the main thread instead of copied. */
function buffers(feeds: Feeds): ArrayBuffer[] {
  return Object.values(feeds).flatMap((t) => (Array.isArray(t.data) ? [] : [t.data.buffer as ArrayBuffer]));
}

/** The calls an inference worker answers (typed for the pool by `typeof handlers`). */
export const handlers = {
  async load(m: LoadCall): Promise<LoadResult> {
    const e = await engine;
    const info = await e.load(m.modelId, m.file, { intraOpThreads: m.intraOpThreads });
    const started = performance.now();
    let warmupError: string | undefined;
    try {
      await e.run(m.modelId, warmupFeeds(info.inputs, m.warmupShapes));
    } catch (err) {
      warmupError = (err as Error).message;
    }
    return { info, warmupMs: performance.now() - started, warmupError };
  },
  async run(m: { modelId: string; feeds: Feeds }) {
    const outputs = await (await engine).run(m.modelId, m.feeds);
    return move(outputs, buffers(outputs));
  },
  validate(m: { bytes: Uint8Array; sha256: string; info: ModelInfo; limits: InputLimits }) {
    const checked = checkInput(m.bytes, m.sha256, m.info, m.limits);
    return move(checked, checked.ok ? buffers(checked.feeds) : []);
  },
  encode: (m: { outputs: Feeds; names: string[]; precision: number }) => encodeOutputs(m.outputs, m.names, m.precision),
  openSealed: (m: { privateKey: string; sealed: Uint8Array; inputHash: string }) =>
    openSealedInput(m.privateKey, m.sealed, m.inputHash),
  sealOutput: (m: { json: string; salt: string; replyTo: string }) => sealOutput(m.json, m.salt, m.replyTo),
  async release(m: { modelId: string }) {
    await (await engine).release(m.modelId);
  },
};

serve(handlers);
