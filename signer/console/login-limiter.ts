/**
 * Failed-login counting per client address and per username. Kept in memory on purpose: a
 * restart resetting the counts only gives an attacker one more window, and a table would add a
 * write to every failed attempt for no real gain.
 */

/** Counts failed logins per key over a fixed window. */
export class LoginLimiter {
  private readonly failures = new Map<string, { count: number; windowEnds: number }>();

  constructor(
    readonly maxFailures: number,
    readonly windowMs: number,
  ) {
    if (!(maxFailures >= 1) || !(windowMs >= 1)) throw new Error('LoginLimiter needs maxFailures >= 1 and windowMs >= 1');
  }

  /** Seconds until any of `keys` may try again (0: they may try now). */
  retryAfterSeconds(keys: string[], now = Date.now()): number {
    let until = 0;
    for (const key of keys) {
      const entry = this.failures.get(key);
      if (!entry || entry.windowEnds <= now) continue;
      if (entry.count >= this.maxFailures) until = Math.max(until, entry.windowEnds);
    }
    return until === 0 ? 0 : Math.ceil((until - now) / 1000);
  }

  /** Records a failed attempt for each key. */
  fail(keys: string[], now = Date.now()): void {
    this.prune(now);
    for (const key of keys) {
      const entry = this.failures.get(key);
      if (!entry || entry.windowEnds <= now) this.failures.set(key, { count: 1, windowEnds: now + this.windowMs });
      else entry.count++;
    }
  }

  /** Forgets the failures of `keys` (after a successful login). */
  clear(keys: string[]): void {
    for (const key of keys) this.failures.delete(key);
  }

  // Bounds memory when many addresses fail once and never come back.
  private prune(now: number): void {
    if (this.failures.size < 10_000) return;
    for (const [key, entry] of this.failures) if (entry.windowEnds <= now) this.failures.delete(key);
  }
}
