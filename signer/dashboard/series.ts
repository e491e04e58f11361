/**
 * Time series of the dashboard: one value per bucket (e.g. per minute of the last hour) for
 * usage, throughput and latency percentiles. Every figure is computed inside SQLite with
 * indexed range scans (inference_logs.created_at, inference_tasks.completed_at), so a poll
 * every few seconds costs milliseconds, not a copy of the rows into JavaScript.
 * better-sqlite3 binds JS numbers as REAL, hence the casts that make bucket numbers whole.
 */
import type { SyncDb } from '../db/index.js';
import { prepared } from '../db/index.js';
import { freshRows, type Range, type RowSource, type Window } from './buckets.js';

export { bucketStarts, bucketWindow, type Window } from './buckets.js';

/** Counts per bucket, one series per key (a model, a token, a source), zero where nothing happened. */
export type KeyedSeries = Record<string, number[]>;

/** Adds `n` to `out[key][b]`, starting a series of zeroes for a new key. */
export function addTo(out: KeyedSeries, w: Window, key: string, b: number, n: number): void {
  (out[key] ??= new Array<number>(w.count).fill(0))[b] += n;
}

/**
 * Direct-inference requests served (not refused by the token guard) per bucket, by model and by
 * API token (by its current name; a deleted token shows as `token #id`), in one pass over inference_logs.
 */
export function directCalls(
  sqlite: SyncDb,
  w: Window,
  rows: RowSource = freshRows(w),
): { byModel: KeyedSeries; byToken: KeyedSeries } {
  const sql = `select cast((created_at - :start) / :size as integer) b, model, token_id, count(*) n from inference_logs
    where created_at >= :start and created_at < :end and status != 'rejected' group by b, model, token_id`;
  const grouped = rows(
    'direct',
    (r: Range) => prepared(sqlite, sql).all(r) as { b: number; model: string; token_id: number | null; n: number }[],
  );
  // Names are read apart from the (kept) grouped rows, so a renamed token shows its new name.
  const names = new Map(
    (prepared(sqlite, 'select id, name from api_tokens').all() as { id: number; name: string }[]).map((t) => [
      t.id,
      t.name,
    ]),
  );
  const out = { byModel: {} as KeyedSeries, byToken: {} as KeyedSeries };
  for (const r of grouped) {
    addTo(out.byModel, w, r.model, r.b, r.n);
    if (r.token_id !== null) addTo(out.byToken, w, names.get(r.token_id) ?? `token #${r.token_id}`, r.b, r.n);
  }
  return out;
}

/**
 * Tasks that got a result per bucket, in one pass: by source (`chain`, `direct`, both always
 * present), which is throughput; and on-chain (escrowed) ones by model, the chain side of usage.
 */
export function results(
  sqlite: SyncDb,
  w: Window,
  rows: RowSource = freshRows(w),
): { bySource: KeyedSeries; chainByModel: KeyedSeries } {
  const sql = `select cast((completed_at - :start) / :size as integer) b, source, model_type model, count(*) n from inference_tasks
    where completed_at >= :start and completed_at < :end group by b, source, model_type`;
  const out = {
    bySource: { chain: new Array<number>(w.count).fill(0), direct: new Array<number>(w.count).fill(0) } as KeyedSeries,
    chainByModel: {} as KeyedSeries,
  };
  for (const r of rows(
    'results',
    (q: Range) => prepared(sqlite, sql).all(q) as { b: number; source: string; model: string; n: number }[],
  )) {
    addTo(out.bySource, w, r.source, r.b, r.n);
    if (r.source === 'chain') addTo(out.chainByModel, w, r.model, r.b, r.n);
  }
  return out;
}

/** p50 and p95 (ms, within 1.25%) per bucket (null where the bucket is empty), and over the whole window. */
export interface Percentiles {
  p50: (number | null)[];
  p95: (number | null)[];
  window: { p50: number | null; p95: number | null; samples: number };
}

/** Latency histogram bins per e (natural log): bins 2.5% wide, so a percentile is within 1.25% of the exact one. */
const BINS_PER_E = 40;

/** Nearest-rank p-th percentile of a histogram given as [bin, count] sorted by bin, as the bin's centre in ms. */
function fromHistogram(bins: [number, number][], total: number, p: number): number {
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (const [bin, n] of bins) if ((seen += n) >= rank) return Math.round(Math.exp(bin / BINS_PER_E));
  throw new Error(`histogram of ${total} samples has only ${seen}`);
}

/**
 * p50/p95 per bucket of `samples` (a select of `t` = time and `ms` = a duration) and over the
 * window, from a log-binned histogram that SQLite groups in one pass. Exact ranks would sort
 * every sample (seconds at 50,000 results an hour, blocking the signer's event loop); a
 * histogram costs one indexed scan, and its 2.5% bins are finer than a plot shows.
 * Durations under 1 ms count as 1 ms (ln needs a positive number).
 */
function percentiles(sqlite: SyncDb, w: Window, rows: RowSource, key: string, samples: string): Percentiles {
  const sql = `select cast((t - :start) / :size as integer) b, cast(round(ln(max(ms, 1)) * ${BINS_PER_E}) as integer) bin, count(*) n
    from (${samples}) group by b, bin order by b, bin`;
  const grouped = rows(key, (r: Range) => prepared(sqlite, sql).all(r) as { b: number; bin: number; n: number }[]);
  const perBucket = new Map<number, [number, number][]>();
  const whole = new Map<number, number>();
  for (const r of grouped) {
    let list = perBucket.get(r.b);
    if (!list) perBucket.set(r.b, (list = []));
    list.push([r.bin, r.n]);
    whole.set(r.bin, (whole.get(r.bin) ?? 0) + r.n);
  }
  const out: Percentiles = {
    p50: new Array(w.count).fill(null),
    p95: new Array(w.count).fill(null),
    window: { p50: null, p95: null, samples: 0 },
  };
  for (const [b, bins] of perBucket) {
    const n = bins.reduce((a, [, c]) => a + c, 0);
    out.p50[b] = fromHistogram(bins, n, 50);
    out.p95[b] = fromHistogram(bins, n, 95);
  }
  const all = [...whole].sort((x, y) => x[0] - y[0]);
  const samplesN = all.reduce((a, [, c]) => a + c, 0);
  if (samplesN > 0)
    out.window = { p50: fromHistogram(all, samplesN, 50), p95: fromHistogram(all, samplesN, 95), samples: samplesN };
  return out;
}

/** Task latency, created (seen on chain or accepted from a token holder) to result, per bucket of the result. */
export function taskLatency(sqlite: SyncDb, w: Window, rows: RowSource = freshRows(w)): Percentiles {
  return percentiles(
    sqlite,
    w,
    rows,
    'latency:tasks',
    'select completed_at t, completed_at - created_at ms from inference_tasks where completed_at >= :start and completed_at < :end',
  );
}

/** Latency of successful direct-inference requests as their callers saw it (inference_logs.latency_ms). */
export function directLatency(sqlite: SyncDb, w: Window, rows: RowSource = freshRows(w)): Percentiles {
  return percentiles(
    sqlite,
    w,
    rows,
    'latency:direct',
    "select created_at t, latency_ms ms from inference_logs where created_at >= :start and created_at < :end and status = 'success' and latency_ms is not null",
  );
}
