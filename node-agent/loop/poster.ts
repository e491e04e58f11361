/**
 * Posts signed results in batches without waiting to fill them: a result goes out at once when
 * no post is in flight, and results that finish while posts are in flight travel together in the
 * next one (Nagle-style), so a busy node makes one signed request per many results and an idle
 * one adds no delay.
 */
import type { CompleteOutcome } from '../../protocol/index.js';
import type { Completion } from './task.js';

/** Sends one batch and returns one outcome per completion, in order (throws when the call as a whole failed). */
export type SendBatch = (batch: Completion[]) => Promise<CompleteOutcome[]>;

/** Batch limits. */
export interface PosterOptions {
  /** Most results per request. */
  maxItems: number;
  /** Most output bytes per request (keeps the body under the signer's limit). */
  maxBytes: number;
  /** Requests in flight at once. */
  maxInFlight: number;
}

interface Queued {
  completion: Completion;
  bytes: number;
  resolve: (o: CompleteOutcome) => void;
  reject: (err: unknown) => void;
}

/** Queues completions and posts them in batches. */
export class ResultPoster {
  private queue: Queued[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly send: SendBatch,
    private readonly opts: PosterOptions,
  ) {
    if (opts.maxItems < 1 || opts.maxInFlight < 1)
      throw new Error('ResultPoster: maxItems and maxInFlight must be at least 1');
  }

  /** Resolves with this completion's outcome; rejects when its batch's request failed (the caller decides whether to retry). */
  post(completion: Completion): Promise<CompleteOutcome> {
    return new Promise((resolve, reject) => {
      const bytes = (completion.outputJson?.length ?? 0) + 512;
      this.queue.push({ completion, bytes, resolve, reject });
      this.schedule();
    });
  }

  private schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    // Results that finish in the same turn of the event loop go in one request.
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain() {
    while (this.queue.length > 0 && this.inFlight < this.opts.maxInFlight) {
      const batch = this.take();
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.drain();
      });
    }
  }

  private take(): Queued[] {
    let bytes = 0;
    let n = 0;
    while (
      n < this.queue.length &&
      n < this.opts.maxItems &&
      (n === 0 || bytes + this.queue[n]!.bytes <= this.opts.maxBytes)
    )
      bytes += this.queue[n++]!.bytes;
    return this.queue.splice(0, n);
  }

  private async flush(batch: Queued[]) {
    try {
      const outcomes = await this.send(batch.map((q) => q.completion));
      batch.forEach((q, i) => {
        const outcome = outcomes[i];
        if (outcome && outcome.task_id === q.completion.request.task_id) q.resolve(outcome);
        else
          q.reject(
            new Error(`the signer's batch answer does not match result ${i} (task ${q.completion.request.task_id})`),
          );
      });
    } catch (err) {
      for (const q of batch) q.reject(err);
    }
  }
}
