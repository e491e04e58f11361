/**
 * bench:signer's PostgreSQL side (`--database postgres`): a throwaway server (tests/pg/server.ts),
 * the prepared SQLite database copied into it once (`signer db copy`'s copyDatabase) and cloned
 * for each suite, load spread over several replicas, and the server's own CPU.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyDatabase } from '../signer/db/copy.js';
import { startPostgres, type PgServer } from '../tests/pg/server.js';

/** The PostgreSQL database every PostgreSQL suite clones (allow_connections off once copied). */
const TEMPLATE = 'bench_prepared';

/** A server holding the prepared database as a template; `fresh()` clones it for one suite. */
export interface BenchPostgres {
  server: PgServer;
  /** A new database cloned from the prepared one; returns its URL. */
  fresh(): Promise<string>;
  /** CPU ms (user + system) the server's processes used so far, exited backends included. */
  cpuMs(): number;
  stop(): void;
}

/** Starts PostgreSQL and copies the prepared SQLite file into it. */
export async function benchPostgres(preparedSqlite: string): Promise<BenchPostgres> {
  const server = await startPostgres();
  try {
    await server.createDatabase(TEMPLATE);
    await copyDatabase(preparedSqlite, server.url(TEMPLATE));
  } catch (err) {
    server.stop();
    throw err;
  }
  let n = 0;
  const postmaster = Number(readFileSync(join(server.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    server,
    async fresh() {
      const name = `bench_run_${++n}`;
      await server.createDatabase(name, { template: TEMPLATE });
      return server.url(name);
    },
    cpuMs: () => treeCpuMs(postmaster),
    stop: () => server.stop(),
  };
}

/** /proc/<pid>/stat fields after the command name (Linux). */
function stat(pid: number): string[] {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
}

/**
 * CPU ms of a process and its children: its own time, its reaped children's (cutime, cstime) and
 * the live children's. The postmaster forks a backend per connection: this is the whole server.
 */
function treeCpuMs(pid: number): number {
  const ticks = (f: string[], from: number, to: number) => f.slice(from, to + 1).reduce((a, v) => a + Number(v), 0);
  let total = ticks(stat(pid), 11, 14);
  const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((c) => c > 0);
  for (const c of children) {
    try {
      total += ticks(stat(c), 11, 12);
    } catch {
      // exited between ps and the read: its time is in the postmaster's cutime now
    }
  }
  return total * 10;
}

/** The fields of an autocannon run the bench reports. */
export interface RunFigures {
  requests: number;
  perSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  failed: number;
}

/**
 * Runs against several replicas at once, merged: requests, rates and failures add up, and each
 * latency percentile is the highest of the replicas' (autocannon gives percentiles, not
 * histograms, so they cannot be merged exactly: the merged p99 is an upper bound).
 */
export function merge(runs: RunFigures[]): RunFigures {
  const top = (k: keyof RunFigures['latencyMs']) => Math.max(...runs.map((r) => r.latencyMs[k]));
  return {
    requests: runs.reduce((a, r) => a + r.requests, 0),
    perSecond: runs.reduce((a, r) => a + r.perSecond, 0),
    latencyMs: { p50: top('p50'), p90: top('p90'), p99: top('p99'), max: top('max') },
    failed: runs.reduce((a, r) => a + r.failed, 0),
  };
}
