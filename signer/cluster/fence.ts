/**
 * Fencing: a leader-only write commits only while the epoch its leader took is still the
 * current one. The lock alone cannot stop a paused old leader (a stalled event loop, a partition
 * the server has not noticed yet) from writing after another replica took over; the epoch can,
 * because the new leader bumps it under the same row lock every fenced write takes.
 */
import { atomic, prepared } from '../db/index.js';
import type { SignerDatabase } from '../db/index.js';
import type { Dialect, LeaderLock } from '../db/index.js';

/** What the cluster code needs of an open database (the lock exists on PostgreSQL only). */
export type ClusterStore = Pick<SignerDatabase, 'sqlite'> & { dialect?: Dialect; lock?: LeaderLock };

/** A leader-only write refused: another replica has taken the lead since `held` was acquired. */
export class FencedError extends Error {
  /** Stable, for logs and callers that tell it from other failures. */
  readonly code = 'leader_fenced';

  constructor(
    readonly held: number,
    readonly current: number | null,
  ) {
    super(
      held === 0
        ? 'this replica is not the leader: leader-only write refused'
        : `leader epoch ${held} is stale (the lease is at epoch ${current ?? 'none'}): leader-only write refused`,
    );
    this.name = 'FencedError';
  }
}

/** Whether the store is PostgreSQL (the only dialect with several replicas). */
export function isPostgres(store: ClusterStore): boolean {
  return store.dialect === 'postgres';
}

/**
 * Runs `fn` in one transaction (a savepoint inside an open one) that on PostgreSQL first checks,
 * under a share lock on the lease row, that the lease is still at `epoch`, and throws FencedError
 * (writing nothing) if not. The bump takes the row for update, so an old leader's write either
 * commits before the new epoch exists (and the new leader then sees it) or fails. On SQLite a
 * single signer always leads: no check.
 */
export function fenced<T>(store: ClusterStore, epoch: number, fn: () => T): T {
  if (!isPostgres(store)) return atomic(store.sqlite, fn);
  return atomic(store.sqlite, () => {
    const row = prepared(store.sqlite, 'select epoch from leader_lease where id = 1 for share').get() as
      | { epoch: number | string }
      | undefined;
    const current = row ? Number(row.epoch) : null;
    if (epoch === 0 || current !== epoch) throw new FencedError(epoch, current);
    return fn();
  });
}
