/**
 * Leases end three ways besides a result: the node reports an error, the lease runs past
 * max_infer_time, or the node stops heartbeating. Each is a failed attempt: the task goes back
 * to pending, or to failed once it has failed `max_attempts` times. Deadlines are swept here too.
 */
import { and, eq, inArray } from 'drizzle-orm';
import { atomic, inferenceTasks, prepared } from '../db/index.js';
import { markSilentNodesOffline, recordOutcome } from '../nodes/index.js';
import type { Services } from '../services.js';
import { completeUncheckable } from './spot-checks.js';
import { transition, type TaskRow } from './state.js';

const CLEARED_LEASE = { inference_node_id: null, leased_at: null, lease_expires_at: null } as const;

/** Ends a lease as a failed attempt; returns the task's new status. */
export function failAttempt(s: Services, task: TaskRow, reason: string, now = Date.now()): 'pending' | 'failed' {
  const failures = task.failures + 1;
  const error = task.error ? `${task.error}; ${reason}` : reason;
  const nodeId = task.inference_node_id;
  const exhausted = failures >= s.config.scheduler.max_attempts;
  atomic(s.store.sqlite, () => {
    if (exhausted) {
      transition(
        s.store,
        task.task_id,
        'failed',
        {
          reason: `${reason}; failed ${failures} of ${s.config.scheduler.max_attempts} attempts`,
          nodeId,
          expect: ['in_progress'],
          now,
        },
        { failures, error },
      );
    } else {
      transition(
        s.store,
        task.task_id,
        'pending',
        { reason, nodeId, expect: ['in_progress'], now },
        { ...CLEARED_LEASE, failures, error },
      );
    }
    if (nodeId) recordOutcome(s.store, nodeId, false, null, s.config.scheduler.reputation_half_life_ms, now);
  });
  s.metrics.taskFailures.inc();
  s.attempts.emit('ended', task.task_id, exhausted ? 'failed' : 'pending');
  if (!exhausted) s.pending.notify();
  return exhausted ? 'failed' : 'pending';
}

/** Summary of one sweep, for logs and tests. */
export interface SweepResult {
  offlineNodes: string[];
  requeued: string[];
  failed: string[];
  timedOut: string[];
  /** Spot-checked tasks completed on their first result: no other node could run the check in time. */
  checksSkipped: string[];
}

/** One pass: silent nodes offline, their tasks and expired leases requeued, passed deadlines timed out. */
export function sweep(s: Services, now = Date.now()): SweepResult {
  const out: SweepResult = { offlineNodes: [], requeued: [], failed: [], timedOut: [], checksSkipped: [] };
  const { db } = s.store;
  const silentBefore = now - s.config.network.heartbeat_timeout_ms;
  out.offlineNodes = markSilentNodesOffline(s.store, silentBefore, now);
  const orphaned = out.offlineNodes.length
    ? db
        .select()
        .from(inferenceTasks)
        .where(
          and(eq(inferenceTasks.status, 'in_progress'), inArray(inferenceTasks.inference_node_id, out.offlineNodes)),
        )
        .all()
    : [];
  for (const task of orphaned) {
    const to = failAttempt(
      s,
      task,
      `node ${task.inference_node_id} went offline (no heartbeat for ${s.config.network.heartbeat_timeout_ms} ms)`,
      now,
    );
    (to === 'pending' ? out.requeued : out.failed).push(task.task_id);
  }
  // Runs every sweep_interval_ms: SQL prepared once rather than built by drizzle each time.
  const expired = prepared(
    s.store.sqlite,
    "select * from inference_tasks where status = 'in_progress' and lease_expires_at < ?",
  ).all(now) as TaskRow[];
  for (const task of expired) {
    const to = failAttempt(
      s,
      task,
      `lease of ${task.inference_node_id} expired after ${s.config.scheduler.max_infer_time_ms} ms without a result`,
      now,
    );
    (to === 'pending' ? out.requeued : out.failed).push(task.task_id);
  }
  out.timedOut = timeoutPastDeadline(s, now);
  out.checksSkipped = completeUncheckable(s, now);
  if (
    out.offlineNodes.length ||
    out.requeued.length ||
    out.failed.length ||
    out.timedOut.length ||
    out.checksSkipped.length
  )
    s.log.info(out, 'sweep');
  return out;
}

/**
 * Tasks whose deadline has been reached can no longer be paid (complete-tasks needs a block at
 * or before the deadline), so unless a settlement is in flight they time out.
 */
export function timeoutPastDeadline(s: Services, now = Date.now()): string[] {
  const tip = s.chain.tipHeight;
  if (tip === null) return [];
  const due = prepared(
    s.store.sqlite,
    "select * from inference_tasks where status in ('pending', 'in_progress', 'completed') and deadline <= ?",
  ).all(tip) as TaskRow[];
  for (const task of due) {
    transition(
      s.store,
      task.task_id,
      'timeout',
      { reason: `deadline block ${task.deadline} reached at tip ${tip} before settlement; the fee is refundable`, now },
      { error: task.error ?? 'deadline passed' },
    );
  }
  return due.map((t) => t.task_id);
}
