/**
 * A model's inputs and outputs, for the Open Inference Protocol's metadata and for checking a
 * request before it queues: those the console recorded when the file was uploaded, or else read
 * once from the artifact file in onnxruntime (a worker thread, console-models/onnx.ts) and kept.
 */
import { and, desc, eq, isNotNull } from 'drizzle-orm';
import { oipDatatypeOf } from '../../protocol/index.js';
import { inspectModel, type TensorInfo } from '../console-models/index.js';
import { consoleModels } from '../db/index.js';
import type { Services } from '../services.js';

/** A tensor's name, datatype and shape (-1 for a free dimension), as the OIP metadata lists them. */
export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

/** A model's inputs and outputs. */
export interface ModelIo {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

/** onnxruntime's view (`type: "float32"`, symbolic dims as names) in the protocol's terms (OIP datatypes, -1). */
function metadata(list: TensorInfo[]): TensorMetadata[] {
  return list.map((t) => ({
    name: t.name,
    datatype: (t.type && oipDatatypeOf(t.type)) ?? t.type ?? 'unknown',
    shape: t.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
  }));
}

/** Inputs and outputs the console recorded for this artifact at upload; null when none were. */
export function recordedIo(s: Pick<Services, 'store'>, artifactHash: string): ModelIo | null {
  const row = s.store.db
    .select({ inputs: consoleModels.inputs, outputs: consoleModels.outputs })
    .from(consoleModels)
    .where(and(eq(consoleModels.sha256, artifactHash), isNotNull(consoleModels.inputs)))
    .orderBy(desc(consoleModels.id))
    .limit(1)
    .get();
  return row
    ? {
        inputs: metadata(JSON.parse(row.inputs!) as TensorInfo[]),
        outputs: metadata(JSON.parse(row.outputs ?? '[]') as TensorInfo[]),
      }
    : null;
}

/** Recorded IO, or IO read once per artifact from its file in this signer's models folder. */
export class ModelIoReader {
  readonly #s: Pick<Services, 'store' | 'artifacts' | 'config' | 'log'>;
  readonly #read = new Map<string, { io: ModelIo | null; promise: Promise<ModelIo | null> }>();
  /** IO is a property of the file's bytes, and the hash names the bytes: once recorded, it holds for good. */
  readonly #recorded = new Map<string, ModelIo>();

  constructor(s: Pick<Services, 'store' | 'artifacts' | 'config' | 'log'>) {
    this.#s = s;
  }

  /** The artifact's IO, waiting for a first read of its file; null when neither is available. */
  of(artifactHash: string): Promise<ModelIo | null> {
    return Promise.resolve(this.#recordedIo(artifactHash) ?? this.#entry(artifactHash).promise);
  }

  /** The artifact's IO when known now; otherwise starts reading the file (for later requests) and answers null. */
  known(artifactHash: string): ModelIo | null {
    return this.#recordedIo(artifactHash) ?? this.#entry(artifactHash).io;
  }

  #recordedIo(artifactHash: string): ModelIo | null {
    const hit = this.#recorded.get(artifactHash) ?? recordedIo(this.#s, artifactHash);
    if (hit) this.#recorded.set(artifactHash, hit);
    return hit;
  }

  #entry(artifactHash: string) {
    let entry = this.#read.get(artifactHash);
    if (!entry) {
      const promise = this.#inspect(artifactHash);
      const created = { io: null as ModelIo | null, promise };
      void promise.then((io) => (created.io = io));
      this.#read.set(artifactHash, created);
      entry = created;
    }
    return entry;
  }

  async #inspect(artifactHash: string): Promise<ModelIo | null> {
    const artifact = await this.#s.artifacts.find(artifactHash);
    if (!artifact) return null;
    try {
      const io = await inspectModel(artifact.path, this.#s.config.models.validate_timeout_ms);
      return { inputs: metadata(io.inputs), outputs: metadata(io.outputs) };
    } catch (err) {
      this.#s.log.warn({ err, artifact_hash: artifactHash }, 'cannot read the inputs and outputs of a model artifact');
      return null;
    }
  }
}
