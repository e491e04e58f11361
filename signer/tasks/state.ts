/**
 * The task state machine (DESIGN.md §4), the only code that changes a task's status.
 * Every transition is one SQL transaction that updates the row and appends a task_events row
 * with the reason; an illegal transition throws and changes nothing.
 */
import { eq } from 'drizzle-orm';
import { FINAL_TASK_STATUSES, type TaskStatus } from '../../protocol/index.js';
import { atomic, inferenceTasks, prepared, taskEvents, type SignerDatabase } from '../db/index.js';

/** A task row as stored. */
export type TaskRow = typeof inferenceTasks.$inferSelect;
/** Fields a new task is created with (status and timestamps are set here). */
export type NewTask = Omit<typeof inferenceTasks.$inferInsert, 'status' | 'created_at' | 'updated_at'>;
/** Columns a transition may set besides the status. */
export type TaskPatch = Partial<Omit<TaskRow, 'task_id' | 'status' | 'created_at' | 'updated_at'>>;

/** Which statuses each status may move to. Final statuses move nowhere. */
export const TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  // pending -> completed: a spot check that no other node can run keeps the result it has (tasks/votes.ts).
  pending: ['in_progress', 'completed', 'timeout', 'failed'],
  in_progress: ['pending', 'completed', 'failed', 'timeout'],
  completed: ['submitted', 'timeout'],
  submitted: ['settled', 'completed', 'timeout', 'failed'],
  settled: [],
  failed: [],
  timeout: [],
};

/** True when `from -> to` is a legal transition. */
export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** True for statuses a task never leaves. */
export function isFinal(status: TaskStatus): boolean {
  return FINAL_TASK_STATUSES.includes(status);
}

/** Thrown for a transition the state machine does not allow; nothing was changed. */
export class IllegalTransitionError extends Error {
  constructor(
    readonly taskId: string,
    readonly from: TaskStatus,
    readonly to: TaskStatus,
  ) {
    super(`task ${taskId} cannot go from ${from} to ${to}${isFinal(from) ? ` (${from} is final)` : ''}`);
    this.name = 'IllegalTransitionError';
  }
}

/** Thrown when a transition names a task that does not exist. */
export class TaskNotFoundError extends Error {
  constructor(readonly taskId: string) {
    super(`task ${taskId} does not exist`);
    this.name = 'TaskNotFoundError';
  }
}

/** Why and by whom a transition happens; recorded in task_events. */
export interface TransitionContext {
  reason: string;
  nodeId?: string | null;
  txid?: string | null;
  /** Also refuse unless the task is currently in one of these (e.g. a lease check). */
  expect?: readonly TaskStatus[];
  now?: number;
}

/** Creates a task in `pending`; returns false (and changes nothing) if its id or chain id exists. */
export function createTask(store: SignerDatabase, task: NewTask, reason: string, now = Date.now()): boolean {
  return store.sqlite.transaction(() => {
    const res = store.db
      .insert(inferenceTasks)
      .values({ ...task, status: 'pending', created_at: now, updated_at: now })
      .onConflictDoNothing()
      .run();
    if (res.changes === 0) return false;
    store.db
      .insert(taskEvents)
      .values({
        task_id: task.task_id,
        from_status: null,
        to_status: 'pending',
        reason,
        txid: task.submit_txid ?? null,
        at: now,
      })
      .run();
    return true;
  })();
}

/** Columns a patch may name: the table's own (keys and column names are the same). */
const COLUMNS = new Set(Object.keys(inferenceTasks));

/**
 * Moves a task to `to` with `patch`, in one transaction; returns the updated row. `current`, the
 * task as the caller read it inside its own still-open SQL transaction, saves reading it again.
 */
export function transition(
  store: SignerDatabase,
  taskId: string,
  to: TaskStatus,
  ctx: TransitionContext,
  patch: TaskPatch = {},
  current?: TaskRow,
): TaskRow {
  const now = ctx.now ?? Date.now();
  return atomic(store.sqlite, () => {
    const row = current ?? getTask(store, taskId);
    if (!row) throw new TaskNotFoundError(taskId);
    write(store, taskId, row.status as TaskStatus, to, ctx, patch, now);
    return { ...row, ...patch, status: to, updated_at: now };
  });
}

/**
 * `transition` for a caller that knows the task's status without its row (read in bulk, or
 * chosen by status): changes nothing and throws IllegalTransitionError unless the task is
 * still in `from`.
 */
export function transitionFrom(
  store: SignerDatabase,
  taskId: string,
  from: TaskStatus,
  to: TaskStatus,
  ctx: TransitionContext,
  patch: TaskPatch = {},
): void {
  atomic(store.sqlite, () => write(store, taskId, from, to, ctx, patch, ctx.now ?? Date.now()));
}

/** The update and its task_events row; the update applies only while the task is in `from`. */
function write(
  store: SignerDatabase,
  taskId: string,
  from: TaskStatus,
  to: TaskStatus,
  ctx: TransitionContext,
  patch: TaskPatch,
  now: number,
): void {
  if (!canTransition(from, to) || (ctx.expect && !ctx.expect.includes(from)))
    throw new IllegalTransitionError(taskId, from, to);
  const keys = Object.keys(patch).filter((k) => (patch as Record<string, unknown>)[k] !== undefined);
  for (const k of keys) if (!COLUMNS.has(k)) throw new Error(`unknown task column ${k}`);
  // The hot path of every completion: SQL per patch shape, prepared once.
  const set = ['status = ?', 'updated_at = ?', ...keys.map((k) => `${k} = ?`)].join(', ');
  const res = prepared(store.sqlite, `update inference_tasks set ${set} where task_id = ? and status = ?`).run(
    to,
    now,
    ...keys.map((k) => (patch as Record<string, unknown>)[k]),
    taskId,
    from,
  );
  if (res.changes === 0) {
    const actual = prepared(store.sqlite, 'select status from inference_tasks where task_id = ?').get(taskId) as
      | { status: TaskStatus }
      | undefined;
    if (!actual) throw new TaskNotFoundError(taskId);
    throw new IllegalTransitionError(taskId, actual.status, to);
  }
  prepared(
    store.sqlite,
    'insert into task_events (task_id, from_status, to_status, reason, node_id, txid, at) values (?, ?, ?, ?, ?, ?, ?)',
  ).run(taskId, from, to, ctx.reason, ctx.nodeId ?? null, ctx.txid ?? null, now);
}

/** Reads one task, or undefined. */
export function getTask(store: SignerDatabase, taskId: string): TaskRow | undefined {
  return prepared(store.sqlite, 'select * from inference_tasks where task_id = ?').get(taskId) as TaskRow | undefined;
}

/** What a task's public status shows (and its source): never its output, input or votes, which can be large. */
const STATUS_COLUMNS = [
  'task_id',
  'status',
  'inference_node_id',
  'settlement_txid',
  'updated_at',
  'created_at',
  'completed_at',
  'chain_task_id',
  'user_address',
  'model_type',
  'artifact_hash',
  'input_hash',
  'fee',
  'deadline',
  'privacy',
  'priority',
  'attempts',
  'error',
  'source',
] as const;
/** A task's public status columns. */
export type TaskStatusRow = Pick<TaskRow, (typeof STATUS_COLUMNS)[number]>;

/** Reads a task's status columns only (GET .../status, polled by every client), or undefined. */
export function getTaskStatus(store: SignerDatabase, taskId: string): TaskStatusRow | undefined {
  return prepared(store.sqlite, `select ${STATUS_COLUMNS.join(', ')} from inference_tasks where task_id = ?`).get(
    taskId,
  ) as TaskStatusRow | undefined;
}

/** The recorded transitions of a task, oldest first. */
export function taskHistory(store: SignerDatabase, taskId: string) {
  return store.db.select().from(taskEvents).where(eq(taskEvents.task_id, taskId)).orderBy(taskEvents.id).all();
}
