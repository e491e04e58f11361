/** Prometheus metrics of one signer, in its own registry (several signers may share a process in tests). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The signer's metrics. */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  completions: Counter;
  taskFailures: Counter;
  authFailures: Counter<'reason'>;
  inferenceLatency: Histogram;
  settlementTxs: Counter<'kind' | 'outcome'>;
  tasksByStatus: Gauge<'status'>;
  spotChecks: Counter<'outcome'>;
}

/** Creates the metrics; `tasksByStatus` is filled at scrape time by the /metrics route. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'signer_' });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'signer_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'signer_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    }),
    completions: new Counter({ name: 'signer_task_completions_total', help: 'Verified results accepted', registers }),
    taskFailures: new Counter({
      name: 'signer_task_failed_attempts_total',
      help: 'Attempts that ended without a result',
      registers,
    }),
    authFailures: new Counter({
      name: 'signer_auth_failures_total',
      help: 'Rejected node request signatures',
      labelNames: ['reason'],
      registers,
    }),
    inferenceLatency: new Histogram({
      name: 'signer_lease_to_result_seconds',
      help: 'Time from lease to verified result',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    settlementTxs: new Counter({
      name: 'signer_settlement_transactions_total',
      help: 'Transactions by kind and outcome',
      labelNames: ['kind', 'outcome'],
      registers,
    }),
    tasksByStatus: new Gauge({ name: 'signer_tasks', help: 'Tasks by status', labelNames: ['status'], registers }),
    spotChecks: new Counter({
      name: 'signer_spot_checks_total',
      help: 'Sampled re-runs of level-1 tasks by outcome (agreed, disagreed, skipped)',
      labelNames: ['outcome'],
      registers,
    }),
  };
}
