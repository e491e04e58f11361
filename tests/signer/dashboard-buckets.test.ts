/**
 * The dashboard's kept buckets: a closed bucket is grouped once and reused by later refreshes,
 * buckets within the lag are grouped again (a late usage row still counts), and the window's
 * old buckets fall out.
 */
import { describe, expect, it } from 'vitest';
import { BucketCache, bucketWindow, type Range } from '../../signer/dashboard/buckets.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 5, 12, 0, 30);

/** A fake grouped query over events at given times: one row per bucket holding any. */
function table(times: number[]) {
  const asked: Range[] = [];
  const query = (r: Range) => {
    asked.push(r);
    const per = new Map<number, number>();
    for (const t of times)
      if (t >= r.start && t < r.end)
        per.set(Math.floor((t - r.start) / r.size), (per.get(Math.floor((t - r.start) / r.size)) ?? 0) + 1);
    return [...per].map(([b, n]) => ({ b, n }));
  };
  return { times, asked, query };
}

function counts(rows: { b: number; n: number }[], count: number): number[] {
  const out = new Array<number>(count).fill(0);
  for (const r of rows) out[r.b] += r.n;
  return out;
}

describe('kept buckets', () => {
  it('groups closed buckets once and only the open ones on the next refresh, counting as a fresh query does', () => {
    const t = table([T0 - 5 * MINUTE, T0 - 3 * MINUTE, T0 - 3 * MINUTE + 1, T0 - 1_000, T0]);
    const cache = new BucketCache(MINUTE);
    const w = bucketWindow(T0, MINUTE, 10);
    expect(counts(cache.source(w, T0)('k', t.query), 10)).toEqual(counts(t.query(w), 10));
    t.asked.length = 0;
    const later = T0 + 3_000;
    const rows = cache.source(bucketWindow(later, MINUTE, 10), later)('k', t.query);
    expect(counts(rows, 10)).toEqual([0, 0, 0, 0, 1, 0, 2, 0, 0, 2]);
    // Only from the first bucket within the lag (11:59) to the window's end.
    expect(t.asked).toEqual([{ start: T0 - 30_000 - MINUTE, end: T0 + 30_000, size: MINUTE }]);
  });

  it('counts a row written late into a bucket still within the lag, and drops buckets that left the window', () => {
    const t = table([T0 - 9 * MINUTE - 10_000, T0 - 40_000]);
    const cache = new BucketCache(MINUTE);
    cache.source(bucketWindow(T0, MINUTE, 10), T0)('k', t.query);
    // A request that arrived 50 s ago is metered now: its bucket (11:59) is not closed yet.
    t.times.push(T0 - 50_000);
    const next = T0 + MINUTE;
    const rows = cache.source(bucketWindow(next, MINUTE, 10), next)('k', t.query);
    expect(counts(rows, 10)).toEqual([0, 0, 0, 0, 0, 0, 0, 2, 0, 0]);
  });

  it('starts again when the bucket size changes or the clock goes back', () => {
    const t = table([T0 - 5 * MINUTE]);
    const cache = new BucketCache(MINUTE);
    cache.source(bucketWindow(T0, MINUTE, 10), T0)('k', t.query);
    const back = T0 - 4 * MINUTE;
    t.times.push(back - 30_000);
    expect(counts(cache.source(bucketWindow(back, MINUTE, 10), back)('k', t.query), 10)).toEqual(
      counts(t.query(bucketWindow(back, MINUTE, 10)), 10),
    );
    const w = bucketWindow(T0, 30_000, 10);
    expect(counts(cache.source(w, T0)('k', t.query), 10)).toEqual(counts(t.query(w), 10));
  });
});
