/**
 * The PostgreSQL facade's cost per statement (issue 15's go/no-go figure: ≤0.25 ms on loopback):
 * N `select $1` round trips through the synchronous facade (signer/db/pg-sync.ts: a worker thread
 * and Atomics.wait), beside the same N through an async `pg` Client on the main thread (the floor:
 * what the server and the socket cost without the thread hop). Prints ms per statement and the
 * load average it ran under; on a loaded 2-core machine the scheduler, not the facade, sets most
 * of both wall-clock figures, so CPU time per statement (this process, all threads) is printed too.
 *
 * `npx tsx bench/pg-facade.ts [N] [postgres://… (default: a throwaway server)]`
 */
import { loadavg } from 'node:os';
import pg from 'pg';
import { PgSyncDb } from '../signer/db/pg-sync.js';
import { startPostgres } from '../tests/pg/server.js';

const n = Number(process.argv[2] ?? 10_000);
/** This process's CPU time since `since` (all its threads: the facade's worker too), ms. */
const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1_000;
};
const server = process.argv[3] ? null : await startPostgres();
const url = process.argv[3] ?? server!.url();

try {
  const facade = new PgSyncDb(url, { migrate: false });
  const stmt = facade.prepare('select ? as x');
  for (let i = 0; i < 1_000; i++) stmt.get(i);
  const load = loadavg()[0]!.toFixed(2);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) stmt.get(i);
  const facadeMs = (performance.now() - t0) / n;
  const facadeCpu = cpuMs(c0) / n;
  facade.close();

  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const query = { name: 'x', text: 'select $1 as x', values: [0] as unknown[] };
  for (let i = 0; i < 1_000; i++) await client.query({ ...query, values: [i] });
  const t1 = performance.now();
  const c1 = process.cpuUsage();
  for (let i = 0; i < n; i++) await client.query({ ...query, values: [i] });
  const asyncMs = (performance.now() - t1) / n;
  const asyncCpu = cpuMs(c1) / n;
  await client.end();

  console.log(
    JSON.stringify({
      statements: n,
      facade_ms: +facadeMs.toFixed(4),
      facade_cpu_ms: +facadeCpu.toFixed(4),
      async_pg_ms: +asyncMs.toFixed(4),
      async_pg_cpu_ms: +asyncCpu.toFixed(4),
      load1: +load,
    }),
  );
} finally {
  server?.stop();
}
