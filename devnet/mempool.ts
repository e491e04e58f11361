/**
 * The devnet's mempool: transactions accepted but not yet mined, per account in nonce order. A
 * nonce ahead of the account waits ("held") until the gap fills; contiguous ones are "ready" for
 * the miner in arrival order.
 */
import { type DecodedTx, minimumSpend } from './admission.js';

export class Mempool {
  private held = new Map<string, Map<bigint, DecodedTx>>();
  private ready: DecodedTx[] = [];
  /** Next nonce per account once everything ready is mined. */
  private queuedNext = new Map<string, bigint>();
  /** Fees and transfer amounts of each account's pending transactions. */
  private spends = new Map<string, bigint>();
  /** `origin:nonce` of every pending transaction. */
  private keys = new Set<string>();

  /** `confirmedNext` gives an account's next nonce on chain. */
  constructor(private readonly confirmedNext: (origin: string) => bigint) {}

  get readyCount(): number {
    return this.ready.length;
  }

  has(origin: string, nonce: bigint): boolean {
    return this.keys.has(`${origin}:${nonce}`);
  }

  /** What the account's pending transactions will spend at least. */
  spend(origin: string): bigint {
    return this.spends.get(origin) ?? 0n;
  }

  /** Nonces of the account's pending transactions, ascending. */
  nonces(origin: string): bigint[] {
    const n = [
      ...(this.held.get(origin)?.keys() ?? []),
      ...this.ready.filter((d) => d.origin === origin).map((d) => d.nonce),
    ];
    return n.sort((a, b) => (a < b ? -1 : 1));
  }

  add(d: DecodedTx): void {
    this.keys.add(`${d.origin}:${d.nonce}`);
    this.spends.set(d.origin, this.spend(d.origin) + minimumSpend(d));
    this.hold(d);
    this.promote(d.origin);
  }

  /** Takes up to `n` ready transactions, oldest first. */
  take(n: number): DecodedTx[] {
    return this.ready.splice(0, n);
  }

  /** Puts a taken transaction back to wait for an earlier nonce. */
  hold(d: DecodedTx): void {
    let held = this.held.get(d.origin);
    if (!held) this.held.set(d.origin, (held = new Map()));
    held.set(d.nonce, d);
  }

  /** A taken transaction was mined. */
  mined(d: DecodedTx): void {
    this.forget(d);
  }

  /** A taken transaction leaves the mempool unmined; the account's later nonces wait for a replacement. */
  drop(d: DecodedTx): void {
    this.forget(d);
    this.queuedNext.set(d.origin, d.nonce);
    for (const r of this.ready.filter((x) => x.origin === d.origin)) this.hold(r);
    this.ready = this.ready.filter((x) => x.origin !== d.origin);
  }

  private forget(d: DecodedTx): void {
    this.keys.delete(`${d.origin}:${d.nonce}`);
    this.spends.set(d.origin, this.spend(d.origin) - minimumSpend(d));
  }

  /** Moves the account's contiguous held nonces to ready. */
  private promote(origin: string): void {
    const held = this.held.get(origin)!;
    let next = this.queuedNext.get(origin) ?? this.confirmedNext(origin);
    while (held.has(next)) {
      this.ready.push(held.get(next)!);
      held.delete(next);
      next++;
    }
    this.queuedNext.set(origin, next);
    if (held.size === 0) this.held.delete(origin);
  }
}
