/**
 * A pool worker: owns one Engine and runs what the pool sends, one job at a time. The engine's
 * `run` blocks this thread, which is the point: the agent's main thread stays free. Input
 * parsing and output serialization run here too: JSON work on a large tensor blocks just the same.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ENGINES } from '../engine/index.js';
import type { Feeds, TensorMeta } from '../engine/index.js';
import { allocateData, elementCount } from '../../protocol/tensor/index.js';
import { checkInput } from '../validate/index.js';
import { encodeOutputs } from '../encode/index.js';
import type { ToWorker, FromWorker } from './messages.js';

const port = parentPort!;
const engine = await ENGINES[(workerData as { engine: string }).engine]!();

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

async function handle(msg: ToWorker): Promise<[FromWorker, ArrayBuffer[]]> {
  switch (msg.type) {
    case 'load': {
      const info = await engine.load(msg.modelId, msg.file, { intraOpThreads: msg.intraOpThreads });
      const started = performance.now();
      let warmupError: string | undefined;
      try {
        await engine.run(msg.modelId, warmupFeeds(info.inputs, msg.warmupShapes));
      } catch (err) {
        warmupError = (err as Error).message;
      }
      return [{ jobId: msg.jobId, ok: true, result: { info, warmupMs: performance.now() - started, warmupError } }, []];
    }
    case 'run': {
      const outputs = await engine.run(msg.modelId, msg.feeds);
      return [{ jobId: msg.jobId, ok: true, result: outputs }, buffers(outputs)];
    }
    case 'validate': {
      const checked = checkInput(msg.bytes, msg.sha256, msg.info, msg.limits);
      return [{ jobId: msg.jobId, ok: true, result: checked }, checked.ok ? buffers(checked.feeds) : []];
    }
    case 'encode':
      return [{ jobId: msg.jobId, ok: true, result: encodeOutputs(msg.outputs, msg.names, msg.precision) }, []];
    case 'release':
      await engine.release(msg.modelId);
      return [{ jobId: msg.jobId, ok: true, result: null }, []];
  }
}

port.on('message', (msg: ToWorker) => {
  // A message this worker does not understand means main and worker disagree: die loudly, the pool replaces us.
  if (!msg || !['load', 'run', 'validate', 'encode', 'release'].includes(msg.type)) {
    throw new Error(`pool worker received an unknown message: ${JSON.stringify(msg).slice(0, 200)}`);
  }
  handle(msg).then(
    ([reply, transfer]) => port.postMessage(reply, transfer),
    (err: Error) => port.postMessage({ jobId: msg.jobId, ok: false, error: err.message } satisfies FromWorker),
  );
});
port.postMessage({ type: 'ready' });
