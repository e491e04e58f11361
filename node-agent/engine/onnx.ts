/** The onnxruntime-node implementation of `Engine`. */
import * as ort from 'onnxruntime-node';
import { OIP_TO_ORT, oipDatatypeOf } from '../../protocol/index.js';
import type { Engine, Feeds, LoadOptions, ModelInfo, TensorMeta } from './index.js';

function meta(m: ort.InferenceSession.ValueMetadata): TensorMeta {
  if (!m.isTensor) return { name: m.name, datatype: null, shape: [] };
  return { name: m.name, datatype: oipDatatypeOf(m.type), shape: [...m.shape] };
}

/** Holds one InferenceSession per loaded model id. */
export class OnnxEngine implements Engine {
  private sessions = new Map<string, { session: ort.InferenceSession; info: ModelInfo }>();

  async load(id: string, file: string, options: LoadOptions): Promise<ModelInfo> {
    const loaded = this.sessions.get(id);
    if (loaded) return loaded.info;
    const session = await ort.InferenceSession.create(file, {
      intraOpNumThreads: options.intraOpThreads,
      // One graph at a time per worker: parallelism comes from the pool, not from inter-op threads.
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    const info = { inputs: session.inputMetadata.map(meta), outputs: session.outputMetadata.map(meta) };
    this.sessions.set(id, { session, info });
    return info;
  }

  info(id: string): ModelInfo {
    return this.get(id).info;
  }

  async run(id: string, feeds: Feeds): Promise<Feeds> {
    const { session } = this.get(id);
    const input: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) input[name] = new ort.Tensor(OIP_TO_ORT[t.datatype], t.data, t.dims);
    const result = await session.run(input);
    const out: Feeds = {};
    for (const [name, value] of Object.entries(result)) {
      const tensor = value as ort.Tensor;
      const datatype = oipDatatypeOf(tensor.type);
      if (!datatype) throw new Error(`output "${name}" has type ${tensor.type}, which OIP JSON cannot carry`);
      out[name] = { datatype, dims: [...tensor.dims], data: tensor.data as Feeds[string]['data'] };
    }
    return out;
  }

  async release(id: string): Promise<void> {
    const loaded = this.sessions.get(id);
    this.sessions.delete(id);
    await loaded?.session.release();
  }

  private get(id: string) {
    const loaded = this.sessions.get(id);
    if (!loaded) throw new Error(`model ${id} is not loaded`);
    return loaded;
  }
}
