/**
 * Failed-login throttling per client address and per (username, client address) pair. Never per
 * username alone: that let anyone, from anywhere, lock the real admin out by failing five logins
 * (issue 12). An attacker is slowed where it stands, and the right password from another address
 * still logs in. IPv6 addresses count per /64, the block one subscriber usually holds, so rotating
 * addresses inside it does not reset the count.
 *
 * Kept in memory on purpose: a restart resetting the counts only gives an attacker one more
 * window, and a table would add a write to every failed attempt for no real gain.
 */
import { isIPv6 } from 'node:net';

/** Limits of a `LoginLimiter`. */
export interface LoginLimits {
  /** Failed logins for one username from one address before that pair is refused. */
  maxPerPair: number;
  /** Failed logins from one address, whatever the username, before the address is refused. */
  maxPerAddress: number;
  /** Window started by a key's first failure (ms). */
  windowMs: number;
}

/** Which throttle refused a login, and for how long. */
export interface Throttled {
  scope: 'address' | 'pair';
  retryAfterSeconds: number;
}

/** The throttling key of a client address: IPv4 (IPv4-mapped IPv6 included) as is, IPv6 as its /64. */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (!isIPv6(address)) return address;
  const [head, tail = ''] = address.toLowerCase().split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') && tail ? tail.split(':') : [];
  // An embedded IPv4 tail only ever sits in the low 64 bits, so it never reaches the prefix.
  const groups = address.includes('::')
    ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** Counts failed logins per address and per (username, address) over a fixed window. */
export class LoginLimiter {
  private readonly failures = new Map<string, { count: number; windowEnds: number }>();

  constructor(readonly limits: LoginLimits) {
    const { maxPerPair, maxPerAddress, windowMs } = limits;
    if (!(maxPerPair >= 1) || !(maxPerAddress >= 1) || !(windowMs >= 1))
      throw new Error('LoginLimiter needs maxPerPair, maxPerAddress and windowMs >= 1');
  }

  #keys(address: string | undefined, username: string): { key: string; max: number; scope: Throttled['scope'] }[] {
    const addr = addressKey(address);
    return [
      { key: `addr ${addr}`, max: this.limits.maxPerAddress, scope: 'address' },
      { key: `pair ${addr} ${username.toLowerCase()}`, max: this.limits.maxPerPair, scope: 'pair' },
    ];
  }

  /** Why a login for `username` from `address` must wait, or null when it may try now. */
  throttled(address: string | undefined, username: string, now = Date.now()): Throttled | null {
    let worst: { until: number; scope: Throttled['scope'] } | null = null;
    for (const { key, max, scope } of this.#keys(address, username)) {
      const entry = this.failures.get(key);
      if (!entry || entry.windowEnds <= now || entry.count < max) continue;
      if (!worst || entry.windowEnds > worst.until) worst = { until: entry.windowEnds, scope };
    }
    return worst && { scope: worst.scope, retryAfterSeconds: Math.ceil((worst.until - now) / 1000) };
  }

  /** Records a failed login for `username` from `address`. */
  fail(address: string | undefined, username: string, now = Date.now()): void {
    this.prune(now);
    for (const { key } of this.#keys(address, username)) {
      const entry = this.failures.get(key);
      if (!entry || entry.windowEnds <= now)
        this.failures.set(key, { count: 1, windowEnds: now + this.limits.windowMs });
      else entry.count++;
    }
  }

  /** Forgets the failures of this address and pair (after a successful login from it). */
  clear(address: string | undefined, username: string): void {
    for (const { key } of this.#keys(address, username)) this.failures.delete(key);
  }

  // Bounds memory when many addresses fail once and never come back.
  private prune(now: number): void {
    if (this.failures.size < 10_000) return;
    for (const [key, entry] of this.failures) if (entry.windowEnds <= now) this.failures.delete(key);
  }
}
