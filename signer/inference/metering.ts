/**
 * Usage metering: one inference_logs row per direct request that reached the queue, each request
 * of a batch included (the token guard logs the requests it refuses). The dashboard reads these
 * rows per token and per model, so a batch of 32 counts as 32 there, as it does against the quota.
 */
import { inferenceLogs } from '../db/index.js';
import type { Services } from '../services.js';
import type { TaskRow } from '../tasks/index.js';
import { outcomeOf } from './outcome.js';
import type { DirectContext } from './context.js';

/** One request's usage row. */
export interface UsageRow {
  requestId: string;
  tokenId: number | null;
  model: string;
  taskId: string | null;
  status: 'success' | 'failed' | 'timeout' | 'rejected';
  httpStatus: number;
  items: number;
  latencyMs: number | null;
  error: string | null;
  /** When the request arrived (ms since epoch). */
  at: number;
}

/** Writes one usage row. */
export function meter(s: Pick<Services, 'store'>, u: UsageRow): void {
  s.store.db
    .insert(inferenceLogs)
    .values({
      request_id: u.requestId,
      token_id: u.tokenId,
      model: u.model,
      task_id: u.taskId,
      status: u.status,
      http_status: u.httpStatus,
      items: u.items,
      latency_ms: u.latencyMs,
      error: u.error,
      created_at: u.at,
    })
    .run();
}

/** Meters a single request whose task has ended. */
export function meterTask(
  s: Pick<Services, 'store'>,
  task: TaskRow,
  ctx: Pick<DirectContext, 'request_id' | 'token_id'>,
  now = Date.now(),
): void {
  const o = outcomeOf(task);
  if (o.kind === 'waiting') return;
  meter(s, {
    requestId: ctx.request_id,
    tokenId: ctx.token_id,
    model: task.model_type,
    taskId: task.task_id,
    status: o.kind === 'done' ? 'success' : o.status,
    httpStatus: o.httpStatus,
    items: 1,
    latencyMs: (task.completed_at ?? now) - task.created_at,
    error: o.kind === 'error' ? o.message : null,
    at: task.created_at,
  });
}

/** Meters each request of a batch whose tasks have all ended as its own row (its task, outcome and latency), in one transaction. */
export function meterBatch(
  s: Pick<Services, 'store'>,
  tasks: TaskRow[],
  ctx: Pick<DirectContext, 'request_id' | 'token_id'>,
  now = Date.now(),
): void {
  s.store.sqlite.transaction(() => {
    for (const task of tasks) meterTask(s, task, ctx, now);
  })();
}
