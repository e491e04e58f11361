/**
 * Triton-style dynamic batching. Requests for the same model whose inputs agree on everything
 * but the first (batch) dimension wait together for at most `maxQueueDelayMs`, or until
 * `maxBatch` rows are queued, then run as one stacked tensor; the outputs are split back per
 * request along dim 0. While every worker is busy, a ready queue keeps growing (up to
 * `maxBatch`), which is where batching pays: one run for many requests.
 */
import { allocateData, elementCount, type TensorData } from '../../protocol/index.js';
import type { Feeds, ModelInfo } from '../engine/index.js';

/** What the batcher needs from the pool. */
export interface Runner {
  /** `move`: the feeds' buffers are the runner's to hand over (a stacked batch nobody else holds). */
  run(modelId: string, feeds: Feeds, opts?: { move?: boolean }): Promise<Feeds>;
  capacity(): number;
  onFree(fn: () => void): () => void;
}

/** Batching limits (config `runtime.max_batch`, `runtime.max_queue_delay_ms`). */
export interface BatcherOptions {
  maxBatch: number;
  maxQueueDelayMs: number;
}

type Item = { feeds: Feeds; rows: number; resolve: (f: Feeds) => void; reject: (e: Error) => void };
type Queue = {
  modelId: string;
  maxBatch: number;
  items: Item[];
  rows: number;
  since: number;
  ready: boolean;
  timer: NodeJS.Timeout | null;
};

/** True when every input and output of the model has a free first dimension to stack along. */
export function isBatchable(info: ModelInfo): boolean {
  const free = (shape: (number | string)[]) => shape.length > 0 && typeof shape[0] === 'string';
  return info.inputs.every((m) => free(m.shape)) && info.outputs.every((m) => free(m.shape));
}

/** Stacks requests along dim 0 in front of a Runner. */
export class DynamicBatcher {
  private queues = new Map<string, Queue>();
  /** Per model: the most rows one run may stack (1 = never batch). */
  private maxBatch = new Map<string, number>();
  private unsubscribe: () => void;
  /** Runs dispatched and requests they carried, for the mean batch size. */
  readonly counts = { runs: 0, requests: 0 };

  constructor(
    private runner: Runner,
    private opts: BatcherOptions,
  ) {
    this.unsubscribe = runner.onFree(() => this.pump());
  }

  /** Tells the batcher a model's metadata (and optionally its own max batch), deciding whether its requests may be stacked. */
  register(modelId: string, info: ModelInfo, maxBatch = this.opts.maxBatch): void {
    this.maxBatch.set(modelId, isBatchable(info) ? maxBatch : 1);
  }

  /** Runs one request, possibly stacked with others; resolves with this request's own outputs. */
  submit(modelId: string, feeds: Feeds): Promise<Feeds> {
    const tensors = Object.entries(feeds).sort(([a], [b]) => a.localeCompare(b));
    const rows = tensors[0]?.[1].dims[0];
    const sameRows = tensors.every(([, t]) => t.dims.length > 0 && t.dims[0] === rows);
    const maxBatch = this.maxBatch.get(modelId) ?? 1;
    if (maxBatch <= 1 || !sameRows || !rows) return this.runAlone(modelId, feeds);
    const key = `${modelId}|${tensors.map(([n, t]) => `${n}:${t.datatype}:${t.dims.slice(1).join('x')}`).join('|')}`;
    return new Promise((resolve, reject) => {
      let q = this.queues.get(key);
      if (!q) {
        q = { modelId, maxBatch, items: [], rows: 0, since: performance.now(), ready: false, timer: null };
        this.queues.set(key, q);
      }
      q.items.push({ feeds, rows, resolve, reject });
      q.rows += rows;
      const queue = q;
      if (queue.rows >= maxBatch) this.markReady(queue);
      else queue.timer ??= setTimeout(() => this.markReady(queue), this.opts.maxQueueDelayMs);
      this.pump();
    });
  }

  /** Stops listening to the runner; queued requests still run when their delay expires. */
  close(): void {
    this.unsubscribe();
  }

  private runAlone(modelId: string, feeds: Feeds): Promise<Feeds> {
    this.counts.runs++;
    this.counts.requests++;
    return this.runner.run(modelId, feeds);
  }

  private markReady(q: Queue) {
    if (q.timer) clearTimeout(q.timer);
    q.timer = null;
    q.ready = true;
    this.pump();
  }

  private pump() {
    while (this.runner.capacity() > 0) {
      // Oldest ready queue first, so one busy model cannot starve another.
      let next: [string, Queue] | undefined;
      for (const entry of this.queues) if (entry[1].ready && (!next || entry[1].since < next[1].since)) next = entry;
      if (!next) return;
      const [key, q] = next;
      const batch: Item[] = [];
      let rows = 0;
      while (q.items.length > 0 && (batch.length === 0 || rows + q.items[0]!.rows <= q.maxBatch)) {
        const item = q.items.shift()!;
        batch.push(item);
        rows += item.rows;
      }
      q.rows -= rows;
      if (q.items.length === 0) this.queues.delete(key);
      else q.since = performance.now();
      void this.dispatch(q.modelId, batch, rows);
    }
  }

  private async dispatch(modelId: string, batch: Item[], rows: number) {
    if (batch.length === 1) {
      const [item] = batch;
      this.runAlone(modelId, item!.feeds).then(item!.resolve, item!.reject);
      return;
    }
    this.counts.runs++;
    this.counts.requests += batch.length;
    let outputs: Feeds;
    try {
      // The stacked tensors are this batch's own: moved to the worker rather than copied.
      outputs = await this.runner.run(
        modelId,
        stack(
          batch.map((i) => i.feeds),
          rows,
        ),
        { move: true },
      );
    } catch {
      // One request must not fail its neighbours: rerun each alone so each gets its own verdict.
      for (const item of batch) this.runAlone(modelId, item.feeds).then(item.resolve, item.reject);
      return;
    }
    let offset = 0;
    for (const item of batch) {
      try {
        item.resolve(unstack(outputs, offset, item.rows, rows));
      } catch (err) {
        item.reject(err as Error);
      }
      offset += item.rows;
    }
  }
}

/** Concatenates each named input of several requests along dim 0. */
function stack(requests: Feeds[], rows: number): Feeds {
  const out: Feeds = {};
  for (const [name, first] of Object.entries(requests[0]!)) {
    const dims = [rows, ...first.dims.slice(1)];
    const data = allocateData(first.datatype, elementCount(dims));
    let at = 0;
    for (const req of requests) {
      const part = req[name]!.data;
      if (Array.isArray(data)) (data as string[]).splice(at, part.length, ...(part as string[]));
      else (data as Exclude<TensorData, string[]>).set(part as never, at);
      at += part.length;
    }
    out[name] = { datatype: first.datatype, dims, data };
  }
  return out;
}

/** One request's rows of each output; refuses outputs whose first dim is not the stacked batch. */
function unstack(outputs: Feeds, offset: number, rows: number, total: number): Feeds {
  const out: Feeds = {};
  for (const [name, t] of Object.entries(outputs)) {
    if (t.dims[0] !== total)
      throw new Error(
        `output "${name}" has first dimension ${t.dims[0]}, not the batch of ${total}: cannot split it per request`,
      );
    const per = elementCount(t.dims.slice(1));
    out[name] = {
      datatype: t.datatype,
      dims: [rows, ...t.dims.slice(1)],
      data: t.data.slice(offset * per, (offset + rows) * per),
    };
  }
  return out;
}
