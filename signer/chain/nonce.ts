/**
 * Hands out the signer account's nonces: a local sequence (no round trip per transaction), resynced
 * from the API when a broadcast is rejected. A nonce is never handed out twice while a transaction
 * built with it may still reach the mempool: neither one in flight here, nor one an open settlement
 * holds (built by this process before a restart, or by another replica that led before this one).
 */

/** What `/extended/v1/address/{principal}/nonces` says about an account. */
export interface AccountNonces {
  possible_next_nonce: number;
  detected_missing_nonces: number[];
}

export class NonceManager {
  private next: bigint | null = null;
  /** Gaps below `next` to fill first (nonces the mempool is missing). */
  private gaps: bigint[] = [];
  /** Built, not yet known to be in the mempool or rejected. */
  private readonly inFlight = new Set<bigint>();
  private lock: Promise<unknown> = Promise.resolve();

  /**
   * @param openNonces Nonces of the open (built or broadcast) settlements in the database, read at
   *   each sync: a built transaction not yet broadcast is invisible to the API, yet will be sent.
   */
  constructor(
    private readonly fetchNonces: () => Promise<AccountNonces>,
    private readonly openNonces: () => bigint[] = () => [],
  ) {}

  /** Reserves the next nonce. Calls are serialized, so concurrent builders get distinct nonces. */
  reserve(): Promise<bigint> {
    const run = this.lock.then(async () => {
      if (this.next === null) await this.sync();
      const n = this.gaps.length > 0 ? this.gaps.shift()! : this.next!++;
      this.inFlight.add(n);
      return n;
    });
    this.lock = run.catch(() => {});
    return run;
  }

  /** The transaction with nonce `n` reached the mempool. */
  accepted(n: bigint): void {
    this.inFlight.delete(n);
  }

  /**
   * The transaction with nonce `n` was rejected: it will never be mined, so its nonce is free
   * again, and the account is re-read from the API before the next reservation.
   */
  rejected(n: bigint): void {
    this.inFlight.delete(n);
    this.next = null;
  }

  private async sync(): Promise<void> {
    const r = await this.fetchNonces();
    const apiNext = BigInt(r.possible_next_nonce);
    // Nonces still in flight here, or held by open settlements, may not have reached the API's
    // view yet: never reuse them; the sequence goes on above the highest.
    const held = new Set([...this.inFlight, ...this.openNonces()]);
    const maxHeld = [...held].reduce((m, n) => (n > m ? n : m), -1n);
    this.next = apiNext > maxHeld ? apiNext : maxHeld + 1n;
    this.gaps = r.detected_missing_nonces
      .map(BigInt)
      .filter((n) => !held.has(n))
      .sort((a, b) => (a < b ? -1 : 1));
    // A rejected nonce at the top of the sequence is not "missing" for the API; it is simply next.
    for (let n = apiNext; n < this.next; n++) if (!held.has(n) && !this.gaps.includes(n)) this.gaps.push(n);
    this.gaps.sort((a, b) => (a < b ? -1 : 1));
  }
}
