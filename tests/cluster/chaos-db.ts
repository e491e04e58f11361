/**
 * The chaos test's PostgreSQL: a throwaway server (tests/pg/server.ts) with one migrated database
 * the replicas share, and what the test reads from it besides the chain: which replica leads, and
 * when a settlement landed after a kill.
 */
import pg from 'pg';
import { migratePostgres } from '../../signer/db/pg-migrate.js';
import { startPostgres } from '../pg/server.js';
import { sleep } from './chaos-fixture.js';

/** The shared database, as the chaos test sees it. */
export interface ClusterDb {
  /** What the replicas are given as `--database`. */
  location: string;
  /** The pid of the replica that took the leader lease last (leader_lease.holder; null before any did). */
  leaderPid(): Promise<number | null>;
  /**
   * Ms from `killedAt` to the first complete-tasks settlement a replica saw confirmed on chain
   * after it (its `updated_at`: only a live leader writes it), or null if none within `timeoutMs`.
   */
  settledAfter(killedAt: number, timeoutMs: number): Promise<number | null>;
  /** When the lease was last taken (leader_lease.acquired_at, ms; null before any replica led). */
  leaderSince(): Promise<number | null>;
  /** Resolves once a task waits for its settlement (completed), or after `timeoutMs`; true if one does. */
  untilUnsettled(timeoutMs: number): Promise<boolean>;
  /** Resolves once the database holds `n` tasks. */
  untilTasks(n: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts the server and migrates the database the replicas share. */
export async function clusterDb(): Promise<ClusterDb> {
  const server = await startPostgres();
  await server.createDatabase('chaos');
  const location = server.url('chaos');
  const client = new pg.Client({ connectionString: location });
  await client.connect();
  await migratePostgres(client);
  const one = async <T>(sql: string, params: unknown[] = []): Promise<T | undefined> =>
    (await client.query(sql, params)).rows[0] as T | undefined;
  return {
    location,
    async leaderPid() {
      const row = await one<{ holder: string }>('select holder from leader_lease where id = 1');
      const pid = row && /\bpid (\d+)/.exec(row.holder)?.[1];
      return pid ? Number(pid) : null;
    },
    async settledAfter(killedAt, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const row = await one<{ at: string | null }>(
          `select min(updated_at) as at from settlements where kind = 'complete-tasks' and status = 'confirmed' and updated_at > $1`,
          [killedAt],
        );
        if (row?.at) return Number(row.at) - killedAt;
        await sleep(100);
      }
      return null;
    },
    async leaderSince() {
      const row = await one<{ at: string }>('select acquired_at as at from leader_lease where id = 1');
      return row ? Number(row.at) : null;
    },
    async untilUnsettled(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (await one("select 1 from inference_tasks where status = 'completed' limit 1")) return true;
        await sleep(20);
      }
      return false;
    },
    async untilTasks(n) {
      while (Number((await one<{ n: string }>('select count(*) as n from inference_tasks'))?.n ?? 0) < n)
        await sleep(100);
    },
    async close() {
      await client.end();
      server.stop();
    },
  };
}
