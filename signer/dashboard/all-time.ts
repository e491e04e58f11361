/**
 * The dashboard's all-time totals (./totals.ts), kept between polls and remade off the event loop.
 * The pass over every task costs 350-550 ms at 100,000 tasks; made inside a poll once per
 * `dashboard.totals_refresh_ms`, it was that poll's whole cost and so the p95 of polls. It runs on
 * one worker thread (./totals-worker.ts) over a read-only connection of its own instead: a poll
 * takes the last completed totals (reported as `tasks.by_source_at`) and, once they are
 * totals_refresh_ms old, starts the next pass without waiting for it. Only the first poll waits.
 * An in-memory database cannot be opened by a second connection: its pass stays inline.
 */
import type { SyncDb } from '../db/index.js';
import type { Logger } from 'pino';
import { PoolClosedError, ThreadPool, workerFile } from '../../protocol/index.js';
import { taskTotals, type TaskTotals } from './totals.js';
import type { handlers } from './totals-worker.js';

/** Totals with the time (ms, on the polls' clock) of the poll that started their pass. */
export type DatedTotals = TaskTotals & { at: number };

/** Options of `AllTimeTotals`. */
export interface AllTimeOptions {
  /** `dashboard.totals_refresh_ms`: how old totals may be before a poll starts the next pass. */
  refreshMs: number;
  log: Logger;
  /** Make each pass inside the poll that needs it (default: only for an in-memory database). */
  inline?: boolean;
  /**
   * What the thread opens (default: the connection's name). A PostgreSQL connection's name has no
   * password, so the signer passes the location it opened, password included.
   */
  location?: string;
}

/** How long closing waits for a pass under way (a pass takes well under a second). */
const CLOSE_GRACE_MS = 5_000;

/** The last all-time totals of one database and the pass that remakes them; closed with the services. */
export class AllTimeTotals {
  readonly inline: boolean;
  /** How long the last pass took on its thread (or inline), ms; null before the first. */
  lastPassMs: number | null = null;
  #last: DatedTotals | null = null;
  #pass: Promise<DatedTotals> | null = null;
  #pool: Promise<ThreadPool<typeof handlers>> | null = null;
  #closed = false;

  constructor(
    readonly sqlite: SyncDb,
    readonly opts: AllTimeOptions,
  ) {
    this.inline = opts.inline ?? (sqlite as { memory?: boolean }).memory === true;
  }

  /**
   * The totals a poll at `now` shows: the last completed ones, with a new pass started in the
   * background (one at a time) once they are `refreshMs` old or from a later clock. The first poll
   * waits for the first pass; in inline mode a stale poll makes its pass itself.
   */
  async get(now: number): Promise<DatedTotals> {
    const last = this.#last;
    if (last && now - last.at >= 0 && now - last.at < this.opts.refreshMs) return last;
    if (this.inline) return this.#inlinePass(now);
    if (!this.#pass) {
      this.#pass = this.#threadPass(now).finally(() => (this.#pass = null));
      // A background pass that fails is logged by #threadPass; nobody else may be waiting for it.
      this.#pass.catch(() => {});
    }
    return last ?? this.#pass;
  }

  /** Resolves once no pass is under way (a poll never waits for this; tests and the bench do). */
  async idle(): Promise<void> {
    while (this.#pass) await this.#pass.catch(() => {});
  }

  /** Live totals threads: 1 while a dashboard is polled, 0 when idle long enough or closed. */
  async threads(): Promise<number> {
    return (await this.#pool?.catch(() => null))?.stats().workers ?? 0;
  }

  /** Stops the thread (a pass under way may finish first); later stale polls fail. */
  async close(): Promise<void> {
    this.#closed = true;
    await (await this.#pool?.catch(() => null))?.close(CLOSE_GRACE_MS);
  }

  #inlinePass(at: number): DatedTotals {
    const t0 = performance.now();
    this.#last = { ...taskTotals(this.sqlite), at };
    this.lastPassMs = performance.now() - t0;
    return this.#last;
  }

  async #threadPass(at: number): Promise<DatedTotals> {
    try {
      if (this.#closed) throw new PoolClosedError('dashboard totals thread closed');
      // Started on the first pass; stopped after a few idle cycles, so a signer nobody watches runs no thread.
      this.#pool ??= ThreadPool.start<typeof handlers>({
        file: workerFile(import.meta.url, 'totals-worker'),
        size: 1,
        label: 'dashboard totals thread',
        lazy: true,
        unref: true,
        idleMs: Math.max(60_000, 3 * this.opts.refreshMs),
        resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 },
      });
      const { totals, ms } = await (await this.#pool).call('totals', { path: this.opts.location ?? this.sqlite.name });
      this.lastPassMs = ms;
      this.#last = { ...totals, at };
      return this.#last;
    } catch (err) {
      if (this.#closed) throw err;
      // A thread that cannot run leaves the dashboard its old cost rather than blank or frozen totals.
      this.opts.log.warn({ err }, 'dashboard: totals thread failed; all-time pass made inline');
      return this.#inlinePass(at);
    }
  }
}
