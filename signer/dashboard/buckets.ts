/**
 * Grouped rows of closed buckets, kept between refreshes. A dashboard polled every few seconds
 * over an hour of minutes would otherwise group the whole hour (50,000 results at 100,000 tasks a
 * couple of hours) on every poll; a bucket that has closed no longer changes, so each refresh
 * groups only the buckets still open plus any that closed since the last one.
 *
 * A bucket counts as closed once `lag` ms have passed since its end: results and settlements are
 * stamped when they are written, but a direct request's usage row carries its arrival time and is
 * written when it ends, up to `inference.max_timeout_ms` later.
 */

/** The buckets a series is cut into: `count` buckets of `size` ms, the last one holding `now`. */
export interface Window {
  /** Start (ms) of the first bucket. */
  start: number;
  /** End (ms, exclusive) of the last bucket. */
  end: number;
  size: number;
  count: number;
}

/** The window of `count` buckets of `size` ms that ends with the bucket holding `now`. */
export function bucketWindow(now: number, size: number, count: number): Window {
  if (!(size > 0 && Number.isInteger(size)))
    throw new Error(`bucket size must be a positive whole number of ms, got ${size}`);
  if (!(count > 0 && Number.isInteger(count)))
    throw new Error(`bucket count must be a positive whole number, got ${count}`);
  const end = (Math.floor(now / size) + 1) * size;
  return { start: end - count * size, end, size, count };
}

/** Start time (ms) of every bucket of the window: the x axis of every series. */
export function bucketStarts(w: Window): number[] {
  return Array.from({ length: w.count }, (_, i) => w.start + i * w.size);
}

/** A time range of whole buckets, as the series queries bind it. */
export interface Range {
  start: number;
  end: number;
  size: number;
}

/** A grouped row: `b` is its bucket's index from the start of the range it was queried over. */
export interface BucketRow {
  b: number;
  [column: string]: unknown;
}

/** Rows of one grouped query over the window, `b` counted from the window's start. */
export type RowSource = <R extends BucketRow>(key: string, query: (r: Range) => R[]) => R[];

/** Queries the whole window every time: what the series functions do without a cache. */
export function freshRows(w: Window): RowSource {
  return (_key, query) => query({ start: w.start, end: w.end, size: w.size });
}

interface Kept {
  size: number;
  /** Closed buckets [from, to) are all in `rows` (an absent key: no rows in that bucket). */
  from: number;
  to: number;
  rows: Map<number, BucketRow[]>;
}

/** One cache per query, keyed by a name the caller gives it. */
export class BucketCache {
  readonly #kept = new Map<string, Kept>();

  constructor(readonly lagMs: number) {}

  /** A row source for window `w` at time `now` that reuses the closed buckets grouped before. */
  source(w: Window, now: number): RowSource {
    const closedEnd = Math.max(w.start, Math.min(w.end, Math.floor((now - this.lagMs) / w.size) * w.size));
    return <R extends BucketRow>(key: string, query: (r: Range) => R[]): R[] => {
      let k = this.#kept.get(key);
      // A new bucket size, a window past what is kept, or a clock gone back: start again.
      if (!k || k.size !== w.size || k.to < w.start || k.from > w.start || k.to > closedEnd) {
        k = { size: w.size, from: w.start, to: w.start, rows: new Map() };
        this.#kept.set(key, k);
      }
      if (k.to < closedEnd) {
        for (const r of query({ start: k.to, end: closedEnd, size: w.size })) {
          const at = k.to + r.b * w.size;
          const list = k.rows.get(at);
          if (list) list.push(r);
          else k.rows.set(at, [r]);
        }
        k.to = closedEnd;
      }
      for (const at of k.rows.keys()) if (at < w.start) k.rows.delete(at);
      k.from = w.start;
      const out: R[] = [];
      // Kept rows are renumbered in place (callers only read them before the next refresh): no copy per row.
      for (const [at, rows] of k.rows) {
        const b = (at - w.start) / w.size;
        for (const r of rows) {
          r.b = b;
          out.push(r as R);
        }
      }
      if (closedEnd < w.end) {
        const shift = (closedEnd - w.start) / w.size;
        for (const r of query({ start: closedEnd, end: w.end, size: w.size })) {
          r.b += shift;
          out.push(r);
        }
      }
      return out;
    };
  }
}
