/**
 * `npm run bench:dashboard`: what one dashboard refresh costs the signer. better-sqlite3 is
 * synchronous, so every millisecond of a snapshot is a millisecond the signer's event loop
 * (node pulls, results) waits. A database is seeded with BENCH_TASKS tasks spread over two hours
 * (two thirds settled in batches of 50, half of them direct), half as many inference_logs rows and
 * their settlement transactions; then it times
 *  - the first snapshot after a start: every bucket of the window grouped, and the all-time pass;
 *  - a refresh: what each poll of GET /api/v1/admin/dashboard computes, one refresh_ms after the
 *    last (closed buckets kept, all-time totals reused), as an open dashboard polls;
 *  - a full snapshot: a refresh plus the all-time pass, made once per dashboard.totals_refresh_ms;
 * against the goal that a refresh at 100,000 tasks blocks the loop for under 50 ms (p95).
 * Writes bench/results/dashboard.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createServices, openDatabase, resolveConfig } from '../signer/index.js';
import { dashboardSnapshot } from '../signer/dashboard/index.js';
import { ROOT } from '../scripts/lib/services.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const GOAL_MS = 50;
const HOUR = 3_600_000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function seed(sqlite: ReturnType<typeof openDatabase>['sqlite'], now: number): void {
  const task =
    sqlite.prepare(`insert into inference_tasks (task_id, user_address, fee, infer_fee, max_infer_time, model_type, status, created_at, updated_at,
    artifact_hash, input_hash, privacy, source, completed_at, leased_at, inference_node_id, node_payout, settled_at, settlement_txid)
    values (?, 'ST000', '10000', '10000', 60000, ?, ?, ?, ?, 'a', 'b', 'standard', ?, ?, ?, ?, ?, ?, ?)`);
  const tx = sqlite.prepare(
    `insert into settlements (txid, kind, status, raw, nonce, task_ids, item_count, created_at, updated_at) values (?, 'complete-tasks', 'confirmed', '00', ?, '[]', 50, ?, ?)`,
  );
  const log = sqlite.prepare(
    `insert into inference_logs (request_id, token_id, model, task_id, status, http_status, latency_ms, created_at) values (?, ?, ?, ?, 'success', 200, ?, ?)`,
  );
  const step = (2 * HOUR) / TASKS;
  sqlite.transaction(() => {
    for (let i = 0; i < TASKS; i++) {
      const at = Math.floor(now - 2 * HOUR + i * step);
      const settled = i % 3 !== 0;
      const txid = settled ? `tx${Math.floor(i / 50)}` : null;
      if (i % 50 === 0) tx.run(`tx${i / 50}`, String(i / 50), at, at + 3_000);
      const direct = i % 2 === 0;
      task.run(
        String(i),
        `model-${i % 5}`,
        settled ? 'settled' : 'completed',
        at,
        at,
        direct ? 'direct' : 'chain',
        at + 80 + (i % 400),
        at + 20,
        `node-${i % 4}`,
        settled ? '8500' : null,
        settled ? at + 3_000 : null,
        txid,
      );
      if (direct) log.run(`r${i}`, i % 7, `model-${i % 5}`, String(i), 90 + (i % 400), at);
    }
  })();
}

async function time(runs: number, f: (i: number) => Promise<unknown>): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f(i);
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b);
}

const dir = mkdtempSync(join(tmpdir(), 'bench-dashboard-'));
try {
  const store = openDatabase(join(dir, 'signer.db'));
  const now = Date.now();
  seed(store.sqlite, now);
  const services = (totalsMs: number) =>
    createServices({
      config: resolveConfig({ dashboard: { totals_refresh_ms: totalsMs }, log: { level: 'silent' } }),
      store,
      log: pino({ level: 'silent' }),
    });
  const cached = services(3_600_000);
  const uncached = services(0);
  // The first call groups every bucket and makes the all-time pass that the refreshes reuse.
  const first = await time(1, () => dashboardSnapshot(cached, now));
  const poll = cached.config.dashboard.refresh_ms;
  const refresh = await time(RUNS, (i) => dashboardSnapshot(cached, now + (i + 1) * poll));
  await dashboardSnapshot(uncached, now);
  const full = await time(Math.max(3, Math.floor(RUNS / 3)), (i) => dashboardSnapshot(uncached, now + (i + 1) * poll));
  const figures = (ms: number[]) => ({
    p50: +percentile(ms, 50).toFixed(1),
    p95: +percentile(ms, 95).toFixed(1),
    max: +ms[ms.length - 1].toFixed(1),
  });
  const report = {
    tasks: TASKS,
    load_average: loadavg().map((l) => +l.toFixed(2)),
    first_snapshot_ms: +first[0].toFixed(1),
    refresh_ms: figures(refresh),
    full_snapshot_ms: figures(full),
    goal: {
      refresh_p95_ms_at_100k_tasks: GOAL_MS,
      measured: +percentile(refresh, 95).toFixed(1),
      met: percentile(refresh, 95) < GOAL_MS,
    },
  };
  await Promise.all([cached.verifier.close(), uncached.verifier.close()]);
  store.close();
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/dashboard.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
