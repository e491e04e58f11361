/**
 * A pool of worker_threads, each holding every loaded model, so that onnxruntime's blocking
 * `run` never stalls the agent's event loop. A worker that throws or exits is replaced, its
 * models reloaded, and the job it was running retried once on the replacement.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { Feeds, ModelInfo } from '../engine/index.js';
import type { FromWorker, LoadResult, ToWorker } from './messages.js';
import { cheapToCheck, checkInput, type InputLimits, type Validated } from '../validate/index.js';
import { cheapToEncode, encodeOutputs, type EncodedOutput } from '../encode/index.js';

export type { LoadResult };

/** Pool sizing and the engine each worker runs. */
export interface PoolOptions {
  /** Worker threads; 0 = one per core. */
  workers: number;
  /** onnxruntime intra-op threads per session; 0 = cores / workers (at least 1), so sessions never oversubscribe the cores. */
  intraOpThreads: number;
  /** Engine name (see ENGINES). */
  engine: string;
  /** Called when a worker died and was replaced. */
  onReplace?: (reason: string) => void;
}

/** The pool was closed before a job ran: not the job's fault. */
export class PoolClosedError extends Error {
  override name = 'PoolClosedError';
}

/** A job failed because its worker died twice while running it. */
export class WorkerCrashedError extends Error {
  override name = 'WorkerCrashedError';
}

/** More worker deaths than this within the window is a crash loop: the pool stops replacing workers. */
const CRASH_LOOP_DEATHS = 5;
const CRASH_LOOP_WINDOW_MS = 60_000;

type Job = { msg: ToWorker; resolve: (v: unknown) => void; reject: (e: Error) => void; attempts: number };
type Slot = { worker: Worker; ready: boolean; busy: Job | null; direct: Job[] };

/** The worker entry: .ts when running from source (tsx/vitest register a loader inside the worker), .js when built. */
function spawn(engine: string): Worker {
  const entry = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { workerData: { engine } });
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/\.cjs$/, '.mjs');
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData: { engine } });
}

/** Runs engine jobs on worker threads. Create with `WorkerPool.start`. */
export class WorkerPool {
  readonly size: number;
  readonly intraOpThreads: number;
  private slots: Slot[] = [];
  private queue: Job[] = [];
  private models = new Map<string, Extract<ToWorker, { type: 'load' }>>();
  private nextJob = 1;
  private closed = false;
  private freeListeners = new Set<() => void>();
  /** Workers replaced since start. */
  restarts = 0;
  private recentDeaths: number[] = [];
  /** Set when the workers crash-looped: every later job fails with it. */
  private broken: WorkerCrashedError | null = null;

  private constructor(private opts: PoolOptions) {
    const cores = availableParallelism();
    this.size = opts.workers > 0 ? opts.workers : cores;
    this.intraOpThreads = opts.intraOpThreads > 0 ? opts.intraOpThreads : Math.max(1, Math.floor(cores / this.size));
  }

  /** Starts the workers and waits until each has its engine ready. */
  static async start(opts: PoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(opts);
    await Promise.all(Array.from({ length: pool.size }, () => pool.addSlot()));
    return pool;
  }

  /** Loads a model into every worker (and every future replacement), warming each up. */
  async load(modelId: string, file: string, warmupShapes: Record<string, number[]> = {}): Promise<LoadResult> {
    if (this.broken) throw this.broken;
    const msg = { type: 'load' as const, jobId: 0, modelId, file, intraOpThreads: this.intraOpThreads, warmupShapes };
    this.models.set(modelId, msg);
    const results = await Promise.all(this.slots.map((slot) => this.direct(slot, { ...msg, jobId: this.nextJob++ })));
    return results[0] as LoadResult;
  }

  /** Frees a model in every worker; later runs of it fail until it is loaded again. */
  async release(modelId: string): Promise<void> {
    this.models.delete(modelId);
    await Promise.all(this.slots.map((slot) => this.direct(slot, { type: 'release', jobId: this.nextJob++, modelId })));
  }

  /** Runs a loaded model on the next free worker. */
  run(modelId: string, feeds: Feeds): Promise<Feeds> {
    return this.enqueue({ type: 'run', jobId: this.nextJob++, modelId, feeds }) as Promise<Feeds>;
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
    return this.enqueue({ type: 'validate', jobId: this.nextJob++, bytes: own, sha256, info, limits }) as Promise<Validated>;
  }

  /** How many more runs would start at once: idle workers not already spoken for by queued runs. */
  capacity(): number {
    const idle = this.slots.filter((s) => s.ready && !s.busy && s.direct.length === 0).length;
    return Math.max(0, idle - this.queue.filter((j) => j.msg.type === 'run').length);
  }

  /** Calls `fn` whenever a worker finishes a job; returns an unsubscribe function. */
  onFree(fn: () => void): () => void {
    this.freeListeners.add(fn);
    return () => this.freeListeners.delete(fn);
  }

  /** Busy workers, queued runs and replacements so far. */
  stats() {
    return { workers: this.size, intraOpThreads: this.intraOpThreads, busy: this.slots.filter((s) => s.busy).length, queued: this.queue.length, restarts: this.restarts };
  }

  /** Rejects queued jobs, lets running ones finish (at most `graceMs`), then stops every worker. */
  async close(graceMs = 30_000): Promise<void> {
    this.closed = true;
    const gone = new PoolClosedError('worker pool closed');
    for (const job of this.queue.splice(0)) job.reject(gone);
    for (const slot of this.slots) for (const job of slot.direct.splice(0)) job.reject(gone);
    // Terminating a worker inside onnxruntime's run aborts the whole process (a native exception), so wait.
    const deadline = Date.now() + graceMs;
    while (this.slots.some((s) => s.busy) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const slot of this.slots) slot.busy?.reject(gone);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  /** Serializes and hashes outputs on the next free worker (see node-agent/encode); small outputs here at once. */
  encode(outputs: Feeds, names: string[], precision = 0): Promise<EncodedOutput> {
    if (cheapToEncode(outputs)) return Promise.resolve(encodeOutputs(outputs, names, precision));
    return this.enqueue({ type: 'encode', jobId: this.nextJob++, outputs, names, precision }) as Promise<EncodedOutput>;
  }

  private enqueue(msg: ToWorker): Promise<unknown> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.queue.push({ msg, resolve, reject, attempts: 0 });
      this.pump();
    });
  }

  private direct(slot: Slot, msg: ToWorker): Promise<unknown> {
    return new Promise((resolve, reject) => {
      slot.direct.push({ msg, resolve, reject, attempts: 0 });
      this.pump();
    });
  }

  private addSlot(inherit: Job[] = []): Promise<void> {
    const worker = spawn(this.opts.engine);
    const slot: Slot = { worker, ready: false, busy: null, direct: [] };
    // A replacement first reloads every model, then takes over what the dead worker had pending.
    for (const msg of this.models.values()) slot.direct.push({ msg: { ...msg, jobId: this.nextJob++ }, resolve: () => {}, reject: () => {}, attempts: 0 });
    slot.direct.push(...inherit);
    this.slots.push(slot);
    return new Promise((resolve, reject) => {
      worker.on('message', (m: FromWorker | { type: 'ready' }) => {
        if ('type' in m) {
          slot.ready = true;
          resolve();
        } else {
          this.settle(slot, m);
        }
        // The batcher first, while this worker is still free: a batch that waited for it must not lose it to queued validations.
        for (const fn of this.freeListeners) fn();
        this.pump();
      });
      worker.once('error', (err) => this.replace(slot, `worker threw: ${err.message}`, reject));
      worker.once('exit', (code) => this.replace(slot, `worker exited with code ${code}`, reject));
    });
  }

  private settle(slot: Slot, m: FromWorker) {
    const job = slot.busy;
    if (!job || job.msg.jobId !== m.jobId) return;
    slot.busy = null;
    if (m.ok) job.resolve(m.result);
    else job.reject(new Error(m.error));
  }

  private replace(slot: Slot, reason: string, rejectStart: (e: Error) => void) {
    const i = this.slots.indexOf(slot);
    if (i < 0 || this.closed) return;
    this.slots.splice(i, 1);
    void slot.worker.terminate();
    if (!slot.ready) {
      // A worker that cannot even start (bad engine, missing runtime) is not retried in a loop.
      rejectStart(new Error(`pool worker failed to start: ${reason}`));
      return;
    }
    this.restarts++;
    this.opts.onReplace?.(reason);
    const now = Date.now();
    this.recentDeaths = [...this.recentDeaths.filter((t) => now - t < CRASH_LOOP_WINDOW_MS), now];
    if (this.recentDeaths.length > CRASH_LOOP_DEATHS) {
      // Something kills every worker (a model that crashes the runtime at load, say): stop respawning.
      const err = (this.broken = new WorkerCrashedError(`inference workers crashed ${this.recentDeaths.length} times within ${CRASH_LOOP_WINDOW_MS / 1000} s (last: ${reason}); not replacing them`));
      for (const j of [...this.queue.splice(0), ...slot.direct, ...(slot.busy ? [slot.busy] : [])]) j.reject(err);
      return;
    }
    const inherit = slot.direct;
    const job = slot.busy;
    if (job?.msg.type === 'load') {
      inherit.unshift(job);
    } else if (job && job.msg.type !== 'release' && job.attempts === 0) {
      job.attempts++;
      this.queue.unshift(job);
    } else if (job) {
      job.reject(new WorkerCrashedError(`${reason} while running a ${job.msg.type} job (after a retry)`));
    }
    this.addSlot(inherit).catch((err: Error) => {
      for (const j of this.queue.splice(0)) j.reject(err);
    });
  }

  /** Runs before validations: a run finishes tasks, a validation only starts one. */
  private takeQueued(): Job | undefined {
    const i = this.queue.findIndex((j) => j.msg.type === 'run');
    return i >= 0 ? this.queue.splice(i, 1)[0] : this.queue.shift();
  }

  private pump() {
    if (this.closed) return;
    for (const slot of this.slots) {
      if (!slot.ready || slot.busy) continue;
      const job = slot.direct.shift() ?? this.takeQueued();
      if (!job) continue;
      slot.busy = job;
      slot.worker.postMessage(job.msg);
    }
  }
}
