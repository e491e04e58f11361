import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DbReplayCache } from '../../signer/auth/replay.js';
import { ConsoleSetup } from '../../signer/console/setup.js';
import { DbLoginLimiter, LoginLimiter, type LoginThrottle } from '../../signer/console/login-limiter.js';
import type { SignerDatabase } from '../../signer/db/index.js';
import { twoConnections } from './helpers.js';

const SIG = `${'ab'.repeat(32)}${'11'.repeat(32)}00`;
const withRecovery = (sig: string, v: number) => sig.slice(0, 128) + v.toString(16).padStart(2, '0');

let one: SignerDatabase;
let two: SignerDatabase;
let close: () => void;
beforeEach(() => {
  ({ one, two, close } = twoConnections('signer-shared-'));
});
afterEach(() => close());

describe('replay keys in the database', () => {
  it('a signature claimed through one connection is a replay through the other, whatever its recovery byte', () => {
    const a = new DbReplayCache(one, 60_000);
    const b = new DbReplayCache(two, 60_000);
    expect(a.claim(SIG, 1_000, 1_000)).toBe(true);
    expect(b.claim(SIG, 1_000, 1_001)).toBe(false);
    expect(b.claim(withRecovery(SIG, 1), 1_000, 1_002)).toBe(false);
    expect(a.claim(SIG, 1_000, 1_003)).toBe(false);
    expect(b.size).toBe(1);
  });

  it('drops keys whose window has passed', () => {
    const a = new DbReplayCache(one, 60_000);
    expect(a.claim(SIG, 0, 0)).toBe(true);
    // The next claim after the window prunes the old key first.
    const other = `${'cd'.repeat(32)}${'11'.repeat(32)}00`;
    expect(new DbReplayCache(two, 60_000).claim(other, 70_000, 70_000)).toBe(true);
    expect(a.size).toBe(1);
  });
});

describe('login throttle in the database', () => {
  const limits = { maxPerPair: 3, maxPerAddress: 5, windowMs: 60_000 };

  it('counts failures from both connections together, as in memory', () => {
    const a = new DbLoginLimiter(one, limits);
    const b = new DbLoginLimiter(two, limits);
    const memory = new LoginLimiter(limits);
    const run = (l: LoginThrottle, other: LoginThrottle) => {
      l.fail('10.0.0.1', 'Admin', 1_000);
      other.fail('10.0.0.1', 'admin', 2_000);
      expect(l.throttled('10.0.0.1', 'admin', 2_500)).toBeNull();
      l.fail('10.0.0.1', 'admin', 3_000);
      return [l.throttled('10.0.0.1', 'admin', 4_000), other.throttled('10.0.0.1', 'admin', 4_000)];
    };
    const expected = run(memory, memory);
    expect(expected[0]).toEqual({ scope: 'pair', retryAfterSeconds: 57 });
    expect(run(a, b)).toEqual(expected);
    // Another username from the address is not refused yet (3 of 5), and the window ends.
    expect(b.throttled('10.0.0.1', 'root', 4_000)).toBeNull();
    expect(a.throttled('10.0.0.1', 'admin', 61_000)).toBeNull();
    // A failure after the window starts a new count at 1.
    b.fail('10.0.0.1', 'admin', 61_000);
    expect(a.throttled('10.0.0.1', 'admin', 61_500)).toBeNull();
    a.clear('10.0.0.1', 'admin');
    expect(one.sqlite.prepare('select count(*) as n from login_failures').get()).toEqual({ n: 0 });
  });
});

describe('console setup token in the database', () => {
  it('the token the first connection made checks on the second, which cannot make another; init takes it once', () => {
    const a = new ConsoleSetup(null, one);
    const b = new ConsoleSetup(null, two);
    const made = a.prepare(one)!;
    expect(made.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const found = b.prepare(two)!;
    expect(found.token).toBeNull();
    expect(b.pending).toBe(true);
    expect(() => b.check(made.token!)).not.toThrow();
    expect(() => b.check('x'.repeat(43))).toThrow(/does not match/);
    const taken = b.take(made.token!);
    // While one init holds it, another (on any replica) is refused rather than racing it.
    expect(() => a.take(made.token!)).toThrow(/being initialized/);
    taken.release();
    expect(a.pending).toBe(true);
    a.take(made.token!);
    a.finish();
    expect(b.pending).toBe(false);
    expect(() => b.check(made.token!)).toThrow(/no setup token/);
  });
});
