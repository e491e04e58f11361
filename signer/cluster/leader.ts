/**
 * Which replica leads: watches the chain, submits settlements, sweeps. A SQLite signer is alone
 * and always leads at epoch 1. Replicas on PostgreSQL take a session-level advisory lock
 * (`store.lock`, held on a connection of its own); the one that gets it bumps the lease row's
 * epoch in one transaction, and that epoch is its fencing token (fence.ts) for as long as it leads.
 */
import { hostname } from 'node:os';
import { atomic, prepared } from '../db/index.js';
import type { LeaderLock } from '../db/index.js';
import { isPostgres, type ClusterStore } from './fence.js';

/** This replica's part in the election. */
export interface Leader {
  /** True while this replica leads. */
  isLeader(): boolean;
  /** The fencing token of the current lead; 0 while following. */
  readonly epoch: number;
  /** Takes the lead if it is free (and bumps the epoch); true when this replica leads now. */
  tryLead(now?: number): boolean;
  /** Whether the lead still holds; when not, the epoch drops to 0 at once (its writes are then fenced out). */
  stillLeads(): boolean;
  /** Gives the lead up (closing). */
  resign(): void;
}

/** A SQLite signer: the only one, so it leads from the start, at epoch 1, without a lock. */
export class SoloLeader implements Leader {
  readonly epoch = 1;
  isLeader(): boolean {
    return true;
  }
  tryLead(): boolean {
    return true;
  }
  stillLeads(): boolean {
    return true;
  }
  resign(): void {}
}

/** Who holds the lease, for operators reading leader_lease: host, pid, start time. */
export function holderOf(startedAt = Date.now()): string {
  return `${hostname()} pid ${process.pid} started ${new Date(startedAt).toISOString()}`;
}

/** Bumps the lease's epoch (creating the row at epoch 1) in one transaction; returns the new epoch. */
export function takeLease(store: ClusterStore, holder: string, now = Date.now()): number {
  return atomic(store.sqlite, () => {
    const row = prepared(
      store.sqlite,
      'insert into leader_lease (id, epoch, holder, acquired_at) values (1, 1, ?, ?) on conflict (id) do update set epoch = leader_lease.epoch + 1, holder = excluded.holder, acquired_at = excluded.acquired_at returning epoch',
    ).get(holder, now) as { epoch: number | string };
    return Number(row.epoch);
  });
}

/** The lease's current epoch (null before anyone led). */
export function leaseEpoch(store: ClusterStore): number | null {
  const row = prepared(store.sqlite, 'select epoch from leader_lease where id = 1').get() as
    | { epoch: number | string }
    | undefined;
  return row ? Number(row.epoch) : null;
}

/** A replica on PostgreSQL: leads while it holds the advisory lock and the lease is at its epoch. */
export class ElectedLeader implements Leader {
  #epoch = 0;

  constructor(
    private readonly store: ClusterStore,
    private readonly lock: LeaderLock,
    readonly holder = holderOf(),
  ) {}

  get epoch(): number {
    return this.#epoch;
  }

  isLeader(): boolean {
    return this.#epoch > 0;
  }

  tryLead(now = Date.now()): boolean {
    if (this.#epoch > 0) return true;
    if (!this.lock.tryAcquire()) return false;
    try {
      this.#epoch = takeLease(this.store, this.holder, now);
    } catch (err) {
      // Holding the lock without an epoch would block every replica from leading.
      this.lock.release();
      throw err;
    }
    return true;
  }

  stillLeads(): boolean {
    if (this.#epoch === 0) return false;
    let holds = false;
    try {
      // The lease is read too: a lock connection the server dropped may not have noticed yet.
      holds = this.lock.alive() && leaseEpoch(this.store) === this.#epoch;
    } catch {
      holds = false;
    }
    if (!holds) this.demote();
    return holds;
  }

  resign(): void {
    if (this.#epoch > 0) this.demote();
  }

  private demote(): void {
    this.#epoch = 0;
    try {
      this.lock.release();
    } catch {
      // The lock's connection is already gone, and the lock with it.
    }
  }
}

/** One leader per open store: the lock lives on the store's connection, whatever services share it. */
const leaders = new WeakMap<ClusterStore, Leader>();

/**
 * The leader of a signer on this store: SoloLeader on SQLite; on PostgreSQL an ElectedLeader that
 * tries once at once, so a lone replica leads from the start as a SQLite signer does (the others
 * keep trying from their campaign loop, cluster/index.ts). Services built again on the same store
 * get the same leader: the advisory lock is re-entrant on its session, so a second ElectedLeader
 * would take it again and fence out the first.
 */
export function createLeader(store: ClusterStore): Leader {
  if (!isPostgres(store)) return new SoloLeader();
  if (!store.lock) throw new Error('a PostgreSQL store needs its leader lock (store.lock)');
  const known = leaders.get(store);
  if (known) return known;
  const leader = new ElectedLeader(store, store.lock);
  leaders.set(store, leader);
  try {
    leader.tryLead();
  } catch {
    // The campaign loop tries again, and logs what keeps failing.
  }
  return leader;
}
