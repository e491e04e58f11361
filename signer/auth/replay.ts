/**
 * Signatures already accepted within the timestamp window. A request outside the window is
 * refused by its timestamp, so an entry can be forgotten once its window has passed.
 */
export class ReplayCache {
  #seen = new Map<string, number>();
  #nextPrune = 0;

  constructor(private readonly windowMs: number) {}

  /** Records a signature; returns false if it was already recorded (a replay). */
  claim(signature: string, timestamp: number, now = Date.now()): boolean {
    if (now >= this.#nextPrune) this.#prune(now);
    if (this.#seen.has(signature)) return false;
    this.#seen.set(signature, timestamp + this.windowMs);
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
