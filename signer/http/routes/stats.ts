/** GET /api/v1/stats: the seed's counters plus per-status counts, latency percentiles and settlement. */
import { Hono } from 'hono';
import { TASK_STATUSES, type TaskStatus } from '../../../protocol/index.js';
import { prepared } from '../../db/index.js';
import type { Services } from '../../services.js';
import type { Env } from '../env.js';
import { corePaths } from '../openapi-core.js';
import { doc } from '../openapi-doc.js';
import { ok } from '../respond.js';

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Counts and figures of GET /api/v1/stats, its only caller (the dashboard runs its own queries). */
export function collectStats(s: Services) {
  // Dashboards and benchmarks poll this several times a second: statements are prepared once.
  const q = (sql: string) => prepared(s.store.sqlite, sql).all() as Record<string, number | string | null>[];
  const by = Object.fromEntries(TASK_STATUSES.map((st) => [st, 0])) as Record<TaskStatus, number>;
  for (const r of q('select status, count(*) n from inference_tasks group by status'))
    by[r.status as TaskStatus] = Number(r.n);
  const total = Object.values(by).reduce((a, b) => a + b, 0);
  // Lease-to-result time of the last 1,000 results, as bare numbers (pluck: no object per row).
  const lat = (
    prepared(
      s.store.sqlite,
      'select completed_at - leased_at ms from inference_tasks where completed_at is not null and leased_at is not null order by completed_at desc limit 1000',
    )
      .pluck(true)
      .all() as number[]
  ).sort((a, b) => a - b);
  const nodes = q('select status, count(*) n from inference_nodes group by status');
  const txs = q('select status, count(*) n from settlements group by status');
  const last =
    q(
      "select txid, status, item_count, updated_at from settlements where kind = 'complete-tasks' order by created_at desc limit 1",
    )[0] ?? null;
  return {
    pending_tasks: by.pending,
    processing_tasks: by.in_progress,
    completed_tasks: by.completed + by.submitted + by.settled,
    total_tasks: total,
    failed_tasks: by.failed,
    timeout_tasks: by.timeout,
    settled_tasks: by.settled,
    tasks_by_status: by,
    latency_ms: { p50: percentile(lat, 50), p95: percentile(lat, 95), samples: lat.length },
    nodes: {
      total: nodes.reduce((a, r) => a + Number(r.n), 0),
      by_status: Object.fromEntries(nodes.map((r) => [r.status, Number(r.n)])),
    },
    settlement: {
      transactions_by_status: Object.fromEntries(txs.map((r) => [r.status, Number(r.n)])),
      last_transaction: last,
    },
    chain: { tip_height: s.chain.tipHeight, escrow: s.escrow, chain_id: s.chainId },
    waiting_pulls: s.pending.waiting,
  };
}

/** Stats route. */
export const stats = new Hono<Env>().get('/api/v1/stats', doc('stats', corePaths['/api/v1/stats'].get), (c) =>
  ok(c, collectStats(c.var.services)),
);
