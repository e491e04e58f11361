/** Wakes long-polling pulls when a task becomes pending, instead of having them poll the database. */

/** A broadcast signal: `wait` resolves on the next `notify`, on timeout, or on abort. */
export class Notifier {
  #waiters = new Set<() => void>();

  /** Resolves true when notified, false on timeout or abort. */
  wait(ms: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve(false);
      const done = (notified: boolean) => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        resolve(notified);
      };
      const wake = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), ms);
      this.#waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Wakes every waiter. */
  notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /** How many are waiting (for stats). */
  get waiting(): number {
    return this.#waiters.size;
  }
}
