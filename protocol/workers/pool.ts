/**
 * One typed pool of worker threads for every part that moves blocking work off its event loop
 * (inference, signature checks, model validation). Calls are typed by the worker file's handlers
 * (`ThreadPool<typeof import('./worker.js').handlers>`), wait in one bounded queue by priority,
 * and may time out. A worker that dies is replaced and the calls it had in flight fail with a
 * `WorkerCrashedError` naming why; a pool whose workers keep dying stops replacing them.
 * Why not piscina: the agent loads each model into every worker (and into each replacement)
 * and frees it from every worker, which needs calls aimed at every worker, and onnxruntime must
 * not be terminated mid-run, which needs a close that waits; both are a few lines here.
 */
import type { Worker } from 'node:worker_threads';
import type { ArgOf, CallMessage, Handlers, ReplyMessage, ResultOf } from './messages.js';
import { spawnWorker, type SpawnOptions } from './spawn.js';
import { CallTimeoutError, PoolClosedError, QueueFullError, WorkerCrashedError } from './errors.js';

/** How a pool runs its workers. */
export interface PoolOptions extends SpawnOptions {
  /** The worker file (see `workerFile`); it calls `serve(handlers)`. */
  file: URL;
  /** Workers (at least 1). */
  size: number;
  /** What the workers are, for error messages ("inference worker"). */
  label: string;
  /** Calls one worker runs at once (default 1: a handler that blocks its thread gains nothing from more). */
  perWorker?: number;
  /** Calls that may wait for a worker; one more fails with `QueueFullError` (default: no bound). */
  maxQueue?: number;
  /** Start workers on the first call rather than at `start` (default false). */
  lazy?: boolean;
  /** Stop a worker idle this long (0: as soon as it is idle); a later call starts one again. Default: never. */
  idleMs?: number;
  /** Idle workers do not keep the process alive (default false). */
  unref?: boolean;
  /**
   * What a timeout does to the worker: `terminate` it (default; it is replaced), or `retire` it: it
   * takes no more calls and stops once what it runs ends. Native code such as onnxruntime aborts
   * the whole process when its thread is terminated mid-call: such pools retire.
   */
  onTimeout?: 'terminate' | 'retire';
  /** Calls each replacement runs before any other (e.g. reloading models). */
  setup?: () => { name: string; arg: unknown }[];
  /** Told when a worker died and was replaced. */
  onReplace?: (reason: string) => void;
  /** More deaths than `deaths` within `windowMs` stop replacements (default 5 in 60 s). */
  crashLoop?: { deaths: number; windowMs: number };
}

/** Per-call options. */
export interface CallOptions {
  /** Buffers moved to the worker, not copied (they become unusable here). */
  transfer?: ArrayBuffer[];
  /** Fail with `CallTimeoutError` after this long; the worker is stopped (see `PoolOptions.onTimeout`). */
  timeoutMs?: number;
  /** Higher runs first among waiting calls (default 0). */
  priority?: number;
}

type Call = {
  msg: CallMessage;
  transfer: ArrayBuffer[];
  opts: CallOptions;
  resolve: (v: never) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  /** Already failed (timed out): a late answer is dropped. */
  done?: boolean;
};
type Slot = {
  worker: Worker;
  ready: boolean;
  running: Map<number, Call>;
  direct: Call[];
  idle?: NodeJS.Timeout;
  leaving?: boolean;
};

/** Worker threads running the handlers of one worker file. Create with `ThreadPool.start`. */
export class ThreadPool<H extends Handlers> {
  readonly size: number;
  private slots: Slot[] = [];
  private queue: Call[] = [];
  private nextId = 1;
  private closed = false;
  private broken: WorkerCrashedError | null = null;
  private deaths: number[] = [];
  private freeListeners = new Set<() => void>();
  /** Workers retired after a timeout, still finishing the call they were stuck in. */
  private retired = new Set<Slot>();
  /** Workers replaced since start. */
  restarts = 0;

  private constructor(private opts: PoolOptions) {
    this.size = Math.max(1, opts.size);
  }

  /** Starts the workers (unless `lazy`) and waits until each serves; rejects when one cannot start. */
  static async start<H extends Handlers>(opts: PoolOptions): Promise<ThreadPool<H>> {
    const pool = new ThreadPool<H>(opts);
    if (!opts.lazy) await Promise.all(Array.from({ length: pool.size }, () => pool.addSlot()));
    return pool;
  }

  /** Runs handler `name` on the next free worker. */
  call<K extends keyof H & string>(name: K, arg: ArgOf<H, K>, opts: CallOptions = {}): Promise<ResultOf<H, K>> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new PoolClosedError(`${this.opts.label} pool closed`));
    if (this.queue.length >= (this.opts.maxQueue ?? Infinity)) {
      return Promise.reject(new QueueFullError(`${this.queue.length} calls already wait for a ${this.opts.label}`));
    }
    return new Promise((resolve, reject) => {
      const call = this.makeCall(name, arg, opts, resolve, reject);
      // Among equal priorities first come, first served.
      const at = this.queue.findIndex((c) => (c.opts.priority ?? 0) < (opts.priority ?? 0));
      this.queue.splice(at < 0 ? this.queue.length : at, 0, call);
      if (this.slots.length < this.size) void this.addSlot().catch(() => {});
      this.pump();
    });
  }

  /** Runs handler `name` on every live worker at once (e.g. loading a model into each); results in worker order. */
  each<K extends keyof H & string>(name: K, arg: ArgOf<H, K>): Promise<ResultOf<H, K>[]> {
    if (this.broken) return Promise.reject(this.broken);
    const live = this.slots.filter((s) => !s.leaving);
    return Promise.all(
      live.map(
        (slot) =>
          new Promise<ResultOf<H, K>>((resolve, reject) => {
            slot.direct.push(this.makeCall(name, arg, {}, resolve, reject));
            this.pump();
          }),
      ),
    );
  }

  /** Free places that calls of at least `priority` have not already claimed (a batcher asks before forming a batch). */
  capacity(priority = -Infinity): number {
    const per = this.opts.perWorker ?? 1;
    const free = this.slots.reduce(
      (n, s) => n + (s.ready && !s.leaving && s.direct.length === 0 ? per - s.running.size : 0),
      0,
    );
    return Math.max(0, free - this.queue.filter((c) => (c.opts.priority ?? 0) >= priority).length);
  }

  /** Calls `fn` whenever a worker finishes a call; returns the unsubscribe function. */
  onFree(fn: () => void): () => void {
    this.freeListeners.add(fn);
    return () => this.freeListeners.delete(fn);
  }

  /** Workers, calls running and waiting, replacements so far. */
  stats() {
    const busy = this.slots.filter((s) => s.running.size > 0).length;
    return { workers: this.slots.length, busy, queued: this.queue.length, restarts: this.restarts };
  }

  /** Fails waiting calls, lets running ones finish (at most `graceMs`), then stops every worker. */
  async close(graceMs = 30_000): Promise<void> {
    this.closed = true;
    const gone = new PoolClosedError(`${this.opts.label} pool closed`);
    for (const call of this.queue.splice(0)) call.reject(gone);
    for (const slot of this.slots) for (const call of slot.direct.splice(0)) call.reject(gone);
    // Terminating a thread inside onnxruntime's run aborts the whole process (a native exception): wait.
    const slots = [...this.slots.splice(0), ...this.retired];
    const deadline = Date.now() + graceMs;
    while (slots.some((s) => s.running.size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const slot of slots) for (const call of slot.running.values()) call.reject(gone);
    await Promise.all(slots.map((s) => this.stop(s)));
  }

  private makeCall(
    name: string,
    arg: unknown,
    opts: CallOptions,
    resolve: (v: never) => void,
    reject: (e: Error) => void,
  ): Call {
    return { msg: { id: this.nextId++, name, arg }, transfer: opts.transfer ?? [], opts, resolve, reject };
  }

  private stop(slot: Slot): Promise<number> {
    slot.leaving = true;
    this.retired.delete(slot);
    clearTimeout(slot.idle);
    return slot.worker.terminate();
  }

  private async addSlot(): Promise<void> {
    const slot = { ready: false, running: new Map(), direct: [] } as unknown as Slot;
    this.slots.push(slot);
    for (const { name, arg } of this.opts.setup?.() ?? [])
      slot.direct.push(
        this.makeCall(
          name,
          arg,
          {},
          () => {},
          () => {},
        ),
      );
    const { file, workerData, resourceLimits } = this.opts;
    try {
      slot.worker = await spawnWorker(file, { workerData, resourceLimits });
    } catch (err) {
      this.slots.splice(this.slots.indexOf(slot), 1);
      throw this.failStart((err as Error).message);
    }
    if (this.opts.unref) slot.worker.unref();
    return new Promise((resolve, reject) => {
      slot.worker.on('message', (m: ReplyMessage) => {
        if ('ready' in m) {
          slot.ready = true;
          resolve();
        } else {
          this.settle(slot, m);
        }
        // Listeners first, while this worker is still free: a batch that waited for it must not lose it.
        for (const fn of this.freeListeners) fn();
        this.pump();
      });
      let error = '';
      slot.worker.once('error', (err) => (error = `threw: ${err.message}`));
      slot.worker.once('exit', (code) => this.died(slot, error || `exited with code ${code}`, reject));
    });
  }

  /** The error a start failure gives; waiting calls fail with it too when no worker is left to run them. */
  private failStart(why: string): Error {
    const err = new Error(`${this.opts.label} failed to start: ${why}`);
    if (this.slots.length === 0) for (const call of this.queue.splice(0)) call.reject(err);
    return err;
  }

  private settle(slot: Slot, m: Exclude<ReplyMessage, { ready: true }>) {
    const call = slot.running.get(m.id);
    if (!call) return;
    slot.running.delete(m.id);
    clearTimeout(call.timer);
    // A timed-out call's late answer is dropped; a retired worker stops once it has nothing left to run.
    if (!call.done) {
      if (m.ok) call.resolve(m.value as never);
      else call.reject(Object.assign(new Error(m.error), { name: m.errorName }));
    }
    if (this.retired.has(slot) && slot.running.size === 0) void this.stop(slot);
    else this.scheduleIdle(slot);
  }

  private scheduleIdle(slot: Slot) {
    const { idleMs } = this.opts;
    if (idleMs === undefined || slot.running.size > 0 || slot.direct.length > 0 || this.queue.length > 0) return;
    clearTimeout(slot.idle);
    slot.idle = setTimeout(() => {
      const i = this.slots.indexOf(slot);
      if (slot.running.size > 0 || slot.direct.length > 0 || i < 0) return;
      this.slots.splice(i, 1);
      void this.stop(slot);
    }, idleMs);
    slot.idle.unref();
  }

  private died(slot: Slot, why: string, rejectStart: (e: Error) => void) {
    const reason = `${this.opts.label} ${why}`;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    const lost = [...slot.running.values(), ...slot.direct.splice(0)];
    slot.running.clear();
    this.retired.delete(slot);
    for (const call of lost) clearTimeout(call.timer);
    if (slot.leaving) {
      for (const call of lost)
        call.reject(new WorkerCrashedError(`${reason} (stopped) while running ${call.msg.name}`));
      if (!this.closed && this.queue.length > 0 && this.slots.length < this.size) void this.addSlot().catch(() => {});
      return;
    }
    for (const call of lost) call.reject(new WorkerCrashedError(`${reason} while running ${call.msg.name}`));
    if (!slot.ready) {
      // A worker that cannot even start (bad engine, missing runtime) is not retried in a loop.
      rejectStart(this.failStart(why));
      return;
    }
    if (this.closed) return;
    this.restarts++;
    this.opts.onReplace?.(reason);
    const now = Date.now();
    const { deaths, windowMs } = this.opts.crashLoop ?? { deaths: 5, windowMs: 60_000 };
    this.deaths = [...this.deaths.filter((t) => now - t < windowMs), now];
    if (this.deaths.length > deaths) {
      // Something kills every worker (a model that crashes the runtime at load, say): stop respawning.
      const n = this.deaths.length;
      this.broken = new WorkerCrashedError(
        `${this.opts.label}s crashed ${n} times within ${windowMs / 1000} s (last: ${why}); not replacing them`,
      );
      for (const call of this.queue.splice(0)) call.reject(this.broken);
      for (const s of this.slots) for (const call of s.direct.splice(0)) call.reject(this.broken);
      return;
    }
    void this.addSlot().catch(() => {});
  }

  private startCall(slot: Slot, call: Call) {
    clearTimeout(slot.idle);
    slot.running.set(call.msg.id, call);
    if (call.opts.timeoutMs !== undefined) {
      call.timer = setTimeout(() => {
        call.done = true;
        call.reject(
          new CallTimeoutError(`${this.opts.label} did not finish ${call.msg.name} within ${call.opts.timeoutMs} ms`),
        );
        // The thread is stuck in that call: take it out of service (not a crash); the next call starts another.
        const i = this.slots.indexOf(slot);
        if (i >= 0) this.slots.splice(i, 1);
        slot.leaving = true;
        if (this.opts.onTimeout === 'retire') this.retired.add(slot);
        else void this.stop(slot);
        if (this.queue.length > 0 && this.slots.length < this.size) void this.addSlot().catch(() => {});
      }, call.opts.timeoutMs);
    }
    slot.worker.postMessage(call.msg, call.transfer);
  }

  /** Calls aimed at a worker first, then waiting calls each to the least busy worker with room. */
  private pump() {
    if (this.closed) return;
    const per = this.opts.perWorker ?? 1;
    const open = (s: Slot) => s.ready && !s.leaving && s.running.size < per;
    for (const slot of this.slots)
      while (open(slot) && slot.direct.length > 0) this.startCall(slot, slot.direct.shift()!);
    while (this.queue.length > 0) {
      let best: Slot | undefined;
      for (const s of this.slots)
        if (open(s) && s.direct.length === 0 && (!best || s.running.size < best.running.size)) best = s;
      if (!best) return;
      this.startCall(best, this.queue.shift()!);
    }
  }
}
