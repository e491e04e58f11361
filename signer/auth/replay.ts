/**
 * Signatures already accepted within the timestamp window. A request outside the window is
 * refused by its timestamp, so an entry can be forgotten once its window has passed.
 * Entries are keyed on (r, s) only: the recovery byte takes no part in verification, so keying on
 * all 65 bytes let one signed request be replayed with each other recovery byte (issue 12).
 */
import { signatureReplayKey } from '../../protocol/index.js';

export class ReplayCache {
  #seen = new Map<string, number>();
  #nextPrune = 0;

  constructor(private readonly windowMs: number) {}

  /** Records a signature's (r, s); returns false if it was already recorded (a replay, whatever its recovery byte). */
  claim(signature: string, timestamp: number, now = Date.now()): boolean {
    if (now >= this.#nextPrune) this.#prune(now);
    const key = signatureReplayKey(signature);
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, timestamp + this.windowMs);
    return true;
  }

  #prune(now: number): void {
    for (const [sig, expires] of this.#seen) if (expires < now) this.#seen.delete(sig);
    this.#nextPrune = now + Math.min(this.windowMs, 10_000);
  }

  /** Entries currently held. */
  get size(): number {
    return this.#seen.size;
  }
}
