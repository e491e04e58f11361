/**
 * Node reputation, after the seed network's scheduler: successes and failures that decay
 * exponentially with a half-life, plus a penalty for a recent failure.
 */

/** Decayed counts of one node. */
export interface Reputation {
  successes: number;
  failures: number;
  /** When the counts were last decayed, ms. */
  at: number;
  lastFailureAt: number | null;
}

/** The counts decayed from `rep.at` to `now`. */
export function decay(rep: Reputation, now: number, halfLifeMs: number): Reputation {
  const factor = 0.5 ** (Math.max(0, now - rep.at) / halfLifeMs);
  return { ...rep, successes: rep.successes * factor, failures: rep.failures * factor, at: now };
}

/** Records one outcome. */
export function record(rep: Reputation, ok: boolean, now: number, halfLifeMs: number): Reputation {
  const d = decay(rep, now, halfLifeMs);
  return ok ? { ...d, successes: d.successes + 1 } : { ...d, failures: d.failures + 1, lastFailureAt: now };
}

/**
 * A score in (0, 1]: the smoothed success ratio (a new node starts at 2/3), halved while a
 * failure is recent (within a tenth of the half-life).
 */
export function reputationScore(rep: Reputation, now: number, halfLifeMs: number): number {
  const d = decay(rep, now, halfLifeMs);
  const ratio = (d.successes + 2) / (d.successes + d.failures + 3);
  const recentFailure = rep.lastFailureAt !== null && now - rep.lastFailureAt < halfLifeMs / 10;
  return recentFailure ? ratio / 2 : ratio;
}
