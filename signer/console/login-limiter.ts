/**
 * Failed-login throttling per client address and per (username, client address) pair. Never per
 * username alone: that let anyone, from anywhere, lock the real admin out by failing five logins
 * (issue 12). An attacker is slowed where it stands, and the right password from another address
 * still logs in. IPv6 addresses count per /64, the block one subscriber usually holds, so rotating
 * addresses inside it does not reset the count.
 *
 * A single SQLite signer keeps the counts in memory on purpose: a restart resetting them only
 * gives an attacker one more window, and a table would add a write to every failed attempt for no
 * real gain. Replicas behind a load balancer must count together, or each replica would grant its
 * own five tries: on PostgreSQL the counts live in `login_failures` (issue 15).
 */
import { isIPv6 } from 'node:net';
import { prepared, type SignerDatabase } from '../db/index.js';

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

/** What the console asks of its login throttle. */
export interface LoginThrottle {
  readonly limits: LoginLimits;
  /** Why a login for `username` from `address` must wait, or null when it may try now. */
  throttled(address: string | undefined, username: string, now?: number): Throttled | null;
  /** Records a failed login for `username` from `address`. */
  fail(address: string | undefined, username: string, now?: number): void;
  /** Forgets the failures of this address and pair (after a successful login from it). */
  clear(address: string | undefined, username: string): void;
}

/** A throttling key, the most failures it may have in a window, and what it throttles. */
interface Key {
  key: string;
  max: number;
  scope: Throttled['scope'];
}

function checkLimits({ maxPerPair, maxPerAddress, windowMs }: LoginLimits): void {
  if (!(maxPerPair >= 1) || !(maxPerAddress >= 1) || !(windowMs >= 1))
    throw new Error('LoginLimiter needs maxPerPair, maxPerAddress and windowMs >= 1');
}

function keysOf(limits: LoginLimits, address: string | undefined, username: string): Key[] {
  const addr = addressKey(address);
  return [
    { key: `addr ${addr}`, max: limits.maxPerAddress, scope: 'address' },
    { key: `pair ${addr} ${username.toLowerCase()}`, max: limits.maxPerPair, scope: 'pair' },
  ];
}

/** The longest wait among keys at their limit, as `throttled` answers it. */
function worstOf(
  keys: Key[],
  entryOf: (key: string) => { count: number; windowEnds: number } | undefined,
  now: number,
): Throttled | null {
  let worst: { until: number; scope: Throttled['scope'] } | null = null;
  for (const { key, max, scope } of keys) {
    const entry = entryOf(key);
    if (!entry || entry.windowEnds <= now || entry.count < max) continue;
    if (!worst || entry.windowEnds > worst.until) worst = { until: entry.windowEnds, scope };
  }
  return worst && { scope: worst.scope, retryAfterSeconds: Math.ceil((worst.until - now) / 1000) };
}

/** Counts failed logins per address and per (username, address) over a fixed window, in memory. */
export class LoginLimiter implements LoginThrottle {
  private readonly failures = new Map<string, { count: number; windowEnds: number }>();

  constructor(readonly limits: LoginLimits) {
    checkLimits(limits);
  }

  throttled(address: string | undefined, username: string, now = Date.now()): Throttled | null {
    return worstOf(keysOf(this.limits, address, username), (key) => this.failures.get(key), now);
  }

  fail(address: string | undefined, username: string, now = Date.now()): void {
    this.prune(now);
    for (const { key } of keysOf(this.limits, address, username)) {
      const entry = this.failures.get(key);
      if (!entry || entry.windowEnds <= now)
        this.failures.set(key, { count: 1, windowEnds: now + this.limits.windowMs });
      else entry.count++;
    }
  }

  clear(address: string | undefined, username: string): void {
    for (const { key } of keysOf(this.limits, address, username)) this.failures.delete(key);
  }

  // Bounds memory when many addresses fail once and never come back.
  private prune(now: number): void {
    if (this.failures.size < 10_000) return;
    for (const [key, entry] of this.failures) if (entry.windowEnds <= now) this.failures.delete(key);
  }
}

/** Expired windows are deleted at most this often. */
const PRUNE_EVERY_MS = 60_000;

/**
 * The same counts in `login_failures`, which every replica reads and writes: one upsert per key
 * and failure, so two replicas counting at once both count (the row lock orders them).
 */
export class DbLoginLimiter implements LoginThrottle {
  #nextPrune = 0;

  constructor(
    private readonly store: SignerDatabase,
    readonly limits: LoginLimits,
  ) {
    checkLimits(limits);
  }

  throttled(address: string | undefined, username: string, now = Date.now()): Throttled | null {
    const keys = keysOf(this.limits, address, username);
    const rows = prepared(
      this.store.sqlite,
      'select key, count, window_ends from login_failures where key in (?, ?)',
    ).all(keys[0]!.key, keys[1]!.key) as { key: string; count: number; window_ends: number }[];
    const byKey = new Map(rows.map((r) => [r.key, { count: r.count, windowEnds: r.window_ends }]));
    return worstOf(keys, (key) => byKey.get(key), now);
  }

  fail(address: string | undefined, username: string, now = Date.now()): void {
    const { sqlite } = this.store;
    if (now >= this.#nextPrune) {
      prepared(sqlite, 'delete from login_failures where window_ends <= ?').run(now);
      this.#nextPrune = now + PRUNE_EVERY_MS;
    }
    // A window that has ended starts again at 1, as in memory.
    const upsert = prepared(
      sqlite,
      'insert into login_failures (key, count, window_ends) values (?, 1, ?) on conflict (key) do update set count = case when login_failures.window_ends <= ? then 1 else login_failures.count + 1 end, window_ends = case when login_failures.window_ends <= ? then excluded.window_ends else login_failures.window_ends end',
    );
    for (const { key } of keysOf(this.limits, address, username)) upsert.run(key, now + this.limits.windowMs, now, now);
  }

  clear(address: string | undefined, username: string): void {
    const [addr, pair] = keysOf(this.limits, address, username);
    prepared(this.store.sqlite, 'delete from login_failures where key in (?, ?)').run(addr!.key, pair!.key);
  }
}

/** The login throttle for this database: shared through the database on PostgreSQL, in memory on SQLite. */
export function loginLimiterFor(store: SignerDatabase, limits: LoginLimits): LoginThrottle {
  return store.dialect === 'postgres' ? new DbLoginLimiter(store, limits) : new LoginLimiter(limits);
}
