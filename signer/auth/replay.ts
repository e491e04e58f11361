/**
 * Signatures already accepted within the timestamp window. A request outside the window is
 * refused by its timestamp, so an entry can be forgotten once its window has passed.
 * Entries are keyed on (r, s) only: the recovery byte takes no part in verification, so keying on
 * all 65 bytes let one signed request be replayed with each other recovery byte (issue 12).
 *
 * A single SQLite signer keeps them in memory. Replicas on one PostgreSQL keep them in
 * `replay_keys` (issue 15): a request accepted by one replica must be a replay on every other.
 */
import { signatureReplayKey } from '../../protocol/index.js';
import { prepared, type SignerDatabase } from '../db/index.js';

/** What the signer asks of its replay guard. */
export interface Replays {
  /** Records a signature's (r, s); returns false if it was already recorded (a replay, whatever its recovery byte). */
  claim(signature: string, timestamp: number, now?: number): boolean;
  /** Entries currently held (expired ones not yet pruned included). */
  readonly size: number;
}

/** Expired entries are dropped at most this often. */
const PRUNE_EVERY_MS = 10_000;

/** The in-memory replay cache of a single signer. */
export class ReplayCache implements Replays {
  #seen = new Map<string, number>();
  #nextPrune = 0;

  constructor(private readonly windowMs: number) {}

  claim(signature: string, timestamp: number, now = Date.now()): boolean {
    if (now >= this.#nextPrune) this.#prune(now);
    const key = signatureReplayKey(signature);
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, timestamp + this.windowMs);
    return true;
  }

  #prune(now: number): void {
    for (const [sig, expires] of this.#seen) if (expires < now) this.#seen.delete(sig);
    this.#nextPrune = now + Math.min(this.windowMs, PRUNE_EVERY_MS);
  }

  get size(): number {
    return this.#seen.size;
  }
}

/**
 * The replay cache replicas share, in `replay_keys`: one insert per signed request, which only
 * one replica can make for a key (the primary key decides, whoever commits first). Each replica
 * drops expired keys now and then; a delete that finds them gone already costs nothing.
 */
export class DbReplayCache implements Replays {
  #nextPrune = 0;

  constructor(
    private readonly store: SignerDatabase,
    private readonly windowMs: number,
  ) {}

  claim(signature: string, timestamp: number, now = Date.now()): boolean {
    const { sqlite } = this.store;
    if (now >= this.#nextPrune) {
      prepared(sqlite, 'delete from replay_keys where expires_at < ?').run(now);
      this.#nextPrune = now + Math.min(this.windowMs, PRUNE_EVERY_MS);
    }
    const key = signatureReplayKey(signature);
    const insert = 'insert into replay_keys (key, expires_at) values (?, ?) on conflict do nothing';
    return prepared(sqlite, insert).run(key, timestamp + this.windowMs).changes === 1;
  }

  get size(): number {
    return (prepared(this.store.sqlite, 'select count(*) as n from replay_keys').get() as { n: number }).n;
  }
}

/** The replay guard for this database: shared through the database on PostgreSQL, in memory on SQLite. */
export function replayCacheFor(store: SignerDatabase, windowMs: number): Replays {
  return store.dialect === 'postgres' ? new DbReplayCache(store, windowMs) : new ReplayCache(windowMs);
}
