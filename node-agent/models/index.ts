/**
 * The models this node serves, keyed by artifact hash (sha256 of the .onnx file: what the
 * chain records). A file whose hash is not the expected one is refused; a model the node lacks
 * is downloaded from the signer and checked the same way. Each is loaded into the pool once.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { sha256Hex } from '../../protocol/index.js';
import type { ModelSpec } from '../config/index.js';
import type { ModelInfo } from '../engine/index.js';
import type { LoadResult } from '../pool/index.js';

export { DEFAULT_MODELS } from './defaults.js';

/** A model file this node can serve. */
export interface LocalModel {
  name: string;
  artifactHash: string;
  path: string;
  maxBatch?: number;
  warmupShape: Record<string, number[]>;
}

/** A model file that must not be served, and why. */
export class ModelRefusedError extends Error {
  override name = 'ModelRefusedError';
}

/** sha256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Hashes configured models and every .onnx in `dir`; configured files whose sha256 differs from the pinned one are refused. */
export async function scanModels(
  specs: ModelSpec[],
  dir: string,
): Promise<{ models: LocalModel[]; refused: { path: string; reason: string }[] }> {
  const models: LocalModel[] = [];
  const refused: { path: string; reason: string }[] = [];
  for (const spec of specs) {
    let actual: string;
    try {
      actual = await sha256File(spec.path);
    } catch (err) {
      refused.push({ path: spec.path, reason: `cannot read model file: ${(err as Error).message}` });
      continue;
    }
    if (spec.sha256 && actual !== spec.sha256) {
      refused.push({
        path: spec.path,
        reason: `sha256 is ${actual}, expected ${spec.sha256}: the file is not the published artifact`,
      });
      continue;
    }
    models.push({
      name: spec.name,
      artifactHash: actual,
      path: spec.path,
      maxBatch: spec.maxBatch,
      warmupShape: spec.warmupShape,
    });
  }
  if (dir) {
    const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.onnx')).sort();
    for (const f of files) {
      const path = join(dir, f);
      const artifactHash = await sha256File(path);
      if (!models.some((m) => m.artifactHash === artifactHash))
        models.push({ name: f.replace(/\.onnx$/, ''), artifactHash, path, warmupShape: {} });
    }
  }
  return { models, refused };
}

/** What the store needs to load a model and make it batchable. */
export interface ModelHost {
  load(modelId: string, file: string, warmupShapes: Record<string, number[]>): Promise<LoadResult>;
  register(modelId: string, info: ModelInfo, maxBatch?: number): void;
}

/** Local models plus on-demand downloads, each loaded once. */
export class ModelStore {
  private byHash = new Map<string, LocalModel>();
  private loading = new Map<string, Promise<ModelInfo>>();

  constructor(
    private host: ModelHost,
    models: LocalModel[],
    /** Where downloaded artifacts are kept. */
    private cacheDir: string,
    /** Fetches an artifact's bytes from the signer. */
    private download?: (artifactHash: string) => Promise<Uint8Array>,
    /** Told about every model loaded (with its warm-up outcome), for the operator's log. */
    private onLoad?: (model: LocalModel, result: LoadResult) => void,
  ) {
    for (const m of models) this.byHash.set(m.artifactHash, m);
  }

  /** Artifact hashes this node serves without downloading. */
  served(): string[] {
    return [...this.byHash.keys()];
  }

  /** Local models, for `node-agent models` and logs. */
  list(): LocalModel[] {
    return [...this.byHash.values()];
  }

  /** Loads (once) the model with this artifact hash, downloading and checking it first when it is not local. */
  ensure(artifactHash: string): Promise<ModelInfo> {
    let p = this.loading.get(artifactHash);
    if (!p) {
      p = this.fetchAndLoad(artifactHash);
      this.loading.set(artifactHash, p);
      // A failed load may succeed later (the signer was down, say): forget the failure.
      p.catch(() => this.loading.delete(artifactHash));
    }
    return p;
  }

  private async fetchAndLoad(artifactHash: string): Promise<ModelInfo> {
    let model = this.byHash.get(artifactHash);
    if (!model) {
      if (!this.download)
        throw new ModelRefusedError(`model ${artifactHash} is not on this node and downloads are off`);
      const bytes = await this.download(artifactHash);
      const actual = sha256Hex(bytes);
      if (actual !== artifactHash) {
        throw new ModelRefusedError(
          `downloaded artifact hashes to ${actual}, not the on-chain artifact hash ${artifactHash}; refusing to run it`,
        );
      }
      await mkdir(this.cacheDir, { recursive: true });
      const path = join(this.cacheDir, `${artifactHash}.onnx`);
      await writeFile(`${path}.part`, bytes);
      await rename(`${path}.part`, path);
      model = { name: artifactHash.slice(0, 12), artifactHash, path, warmupShape: {} };
      this.byHash.set(artifactHash, model);
    }
    const result = await this.host.load(artifactHash, model.path, model.warmupShape);
    this.host.register(artifactHash, result.info, model.maxBatch);
    this.onLoad?.(model, result);
    return result.info;
  }
}
