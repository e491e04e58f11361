/**
 * The runtime seam: the pool's workers talk to an `Engine`, never to onnxruntime directly, so
 * another runtime can be added here without touching the pool, the batcher or the loop.
 */
import type { OipDatatype, RawTensor } from '../../protocol/index.js';

export type { RawTensor };

/** One input or output of a model; a string dim is symbolic (free), a number is fixed. */
export interface TensorMeta {
  name: string;
  /** null when the value is not a tensor or its type cannot travel as OIP JSON. */
  datatype: OipDatatype | null;
  shape: (number | string)[];
}

/** What a loaded model takes and gives. */
export interface ModelInfo {
  inputs: TensorMeta[];
  outputs: TensorMeta[];
}

/** Named tensors in or out of a model. */
export type Feeds = Record<string, RawTensor>;

/** Per-session options the pool chooses. */
export interface LoadOptions {
  /** Threads onnxruntime may use inside one run of this session. */
  intraOpThreads: number;
}

/** A model runtime. One instance lives in each pool worker and may hold several models. */
export interface Engine {
  /** Loads a model file under `id` and returns its metadata; loading an id twice keeps the first. */
  load(id: string, file: string, options: LoadOptions): Promise<ModelInfo>;
  /** Metadata of a loaded model. */
  info(id: string): ModelInfo;
  /** Runs a loaded model; blocks the calling thread while the runtime computes. */
  run(id: string, feeds: Feeds): Promise<Feeds>;
  /** Frees a model. */
  release(id: string): Promise<void>;
}

/** Engines by the name used in config (`runtime.engine`). Loaded lazily: only a worker imports a runtime. */
export const ENGINES: Record<string, () => Promise<Engine>> = {
  onnxruntime: async () => new (await import('./onnx.js')).OnnxEngine(),
};

/** Names accepted by `runtime.engine`. */
export const ENGINE_NAMES = Object.keys(ENGINES);
