/**
 * The agent's inference workers (a protocol/workers ThreadPool over ./worker.ts), each holding
 * every loaded model, so that onnxruntime's blocking `run` never stalls the agent's event loop.
 * A worker that dies is replaced with its models reloaded; the calls it was running fail with a
 * `WorkerCrashedError` (the loop reports that task failed rather than running it twice).
 */
import { availableParallelism } from 'node:os';
import { ThreadPool, workerFile } from '../../protocol/index.js';
import type { Feeds, ModelInfo } from '../engine/index.js';
import { cheapToCheck, checkInput, type InputLimits, type Validated } from '../validate/index.js';
import { cheapToEncode, encodeOutputs, type EncodedOutput } from '../encode/index.js';
import type { OpenedInput, SealedOutput, UnopenedInput } from '../sealed/index.js';
import type { handlers, LoadCall, LoadResult } from './worker.js';

export type { LoadResult };
export { PoolClosedError, WorkerCrashedError } from '../../protocol/index.js';

/** Pool sizing and the engine each worker runs. */
export interface PoolOptions {
  /** Worker threads; 0 = one per core. */
  workers: number;
  /**
   * onnxruntime intra-op threads per session; 0 = cores / workers (at least 1), so sessions
   * never oversubscribe the cores.
   */
  intraOpThreads: number;
  /** Engine name (see ENGINES). */
  engine: string;
  /** Called when a worker died and was replaced. */
  onReplace?: (reason: string) => void;
}

/** Buffers of `feeds`' typed arrays that hold exactly one tensor (a view into a larger buffer is copied instead). */
function ownBuffers(feeds: Feeds): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const { data } of Object.values(feeds)) {
    if (Array.isArray(data) || !(data.buffer instanceof ArrayBuffer)) continue;
    if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) out.add(data.buffer);
  }
  return [...out];
}

/** Runs go before validations and encodings: a run finishes tasks, a validation only starts one. */
const RUN = 1;

/** Runs engine jobs on worker threads. Create with `WorkerPool.start`. */
export class WorkerPool {
  readonly size: number;

  private constructor(
    private threads: ThreadPool<typeof handlers>,
    private models: Map<string, LoadCall>,
    readonly intraOpThreads: number,
  ) {
    this.size = threads.size;
  }

  /** Starts the workers and waits until each has its engine ready. */
  static async start(opts: PoolOptions): Promise<WorkerPool> {
    const cores = availableParallelism();
    const size = opts.workers > 0 ? opts.workers : cores;
    const models = new Map<string, LoadCall>();
    const threads = await ThreadPool.start<typeof handlers>({
      file: workerFile(import.meta.url, 'worker'),
      size,
      label: 'inference worker',
      workerData: { engine: opts.engine },
      // A replacement loads every model before it takes any work.
      setup: () => [...models.values()].map((arg) => ({ name: 'load', arg })),
      onReplace: opts.onReplace,
    });
    return new WorkerPool(
      threads,
      models,
      opts.intraOpThreads > 0 ? opts.intraOpThreads : Math.max(1, Math.floor(cores / size)),
    );
  }

  /** Workers replaced since start. */
  get restarts(): number {
    return this.threads.restarts;
  }

  /** Loads a model into every worker (and every future replacement), warming each up. */
  async load(modelId: string, file: string, warmupShapes: Record<string, number[]> = {}): Promise<LoadResult> {
    const call = { modelId, file, intraOpThreads: this.intraOpThreads, warmupShapes };
    this.models.set(modelId, call);
    return (await this.threads.each('load', call))[0]!;
  }

  /** Frees a model in every worker; later runs of it fail until it is loaded again. */
  async release(modelId: string): Promise<void> {
    this.models.delete(modelId);
    await this.threads.each('release', { modelId });
  }

  /**
   * Runs a loaded model on the next free worker. With `move` the feeds' typed arrays are handed
   * over, not copied (a 16-row batch is megabytes), and become unusable here.
   */
  run(modelId: string, feeds: Feeds, opts: { move?: boolean } = {}): Promise<Feeds> {
    const transfer = opts.move ? ownBuffers(feeds) : [];
    return this.threads.call('run', { modelId, feeds }, { priority: RUN, transfer });
  }

  /**
   * Checks a task's input bytes against their sha256, then parses and validates them, on the next
   * free worker: hashing and JSON.parse of a large tensor would stall the main thread. Small or
   * binary inputs are checked here at once (cheaper than the round trip).
   */
  validate(bytes: Uint8Array, sha256: string, info: ModelInfo, limits: InputLimits): Promise<Validated> {
    if (cheapToCheck(bytes)) return Promise.resolve(checkInput(bytes, sha256, info, limits));
    // Structured clone copies a view's whole buffer (e.g. a pull answer holding many inputs): send exactly these bytes.
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    return this.threads.call('validate', { bytes: own, sha256, info, limits });
  }

  /** Serializes and hashes outputs on the next free worker (see node-agent/encode); small outputs here at once. */
  encode(outputs: Feeds, names: string[], precision = 0): Promise<EncodedOutput> {
    if (cheapToEncode(outputs)) return Promise.resolve(encodeOutputs(outputs, names, precision));
    return this.threads.call('encode', { outputs, names, precision });
  }

  /**
   * Encrypted tasks: unseals an input with the node's key and checks its envelope against the task's
   * input hash, on the next free worker (ECIES costs milliseconds of pure JavaScript; see ../sealed).
   */
  openSealed(privateKey: string, sealed: Uint8Array, inputHash: string): Promise<OpenedInput | UnopenedInput> {
    const own = sealed.byteOffset === 0 && sealed.byteLength === sealed.buffer.byteLength ? sealed : sealed.slice();
    return this.threads.call('openSealed', { privateKey, sealed: own, inputHash });
  }

  /** Encrypted tasks: commits to the canonical output with the salt and seals it to the requester, on the next free worker. */
  sealOutput(json: string, salt: string, replyTo: string): Promise<SealedOutput> {
    return this.threads.call('sealOutput', { json, salt, replyTo });
  }

  /** How many more runs would start at once: idle workers not already spoken for by queued runs. */
  capacity(): number {
    return this.threads.capacity(RUN);
  }

  /** Calls `fn` whenever a worker finishes a job; returns an unsubscribe function. */
  onFree(fn: () => void): () => void {
    return this.threads.onFree(fn);
  }

  /** Busy workers, queued calls and replacements so far. */
  stats() {
    const { busy, queued, restarts } = this.threads.stats();
    return { workers: this.size, intraOpThreads: this.intraOpThreads, busy, queued, restarts };
  }

  /** Fails queued jobs, lets running ones finish (at most `graceMs`), then stops every worker. */
  close(graceMs = 30_000): Promise<void> {
    return this.threads.close(graceMs);
  }
}
