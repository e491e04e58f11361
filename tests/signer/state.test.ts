import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TASK_STATUSES, type TaskStatus } from '../../protocol/index.js';
import {
  canTransition,
  getTask,
  IllegalTransitionError,
  TaskNotFoundError,
  taskHistory,
  transition,
  transitionFrom,
  TRANSITIONS,
} from '../../signer/tasks/state.js';
import { addTasks, makeSigner, type TestSigner } from './helpers.js';

let t: TestSigner;
beforeEach(() => (t = makeSigner()));
afterEach(() => t.close());

/** Puts a task in `status` by the shortest legal path, so every setup is itself a legal history. */
function taskIn(status: TaskStatus): string {
  const [id] = addTasks(t, {});
  const path: Record<TaskStatus, TaskStatus[]> = {
    pending: [],
    in_progress: ['in_progress'],
    completed: ['in_progress', 'completed'],
    submitted: ['in_progress', 'completed', 'submitted'],
    settled: ['in_progress', 'completed', 'submitted', 'settled'],
    failed: ['in_progress', 'failed'],
    timeout: ['timeout'],
  };
  for (const to of path[status]) transition(t.s.store, id, to, { reason: `setup to ${to}` });
  return id;
}

describe('task state machine', () => {
  const pairs = TASK_STATUSES.flatMap((from) => TASK_STATUSES.map((to) => [from, to] as const));

  it.each(pairs.filter(([f, to]) => !canTransition(f, to)))('refuses %s -> %s and changes nothing', (from, to) => {
    const id = taskIn(from);
    const before = getTask(t.s.store, id);
    const events = taskHistory(t.s.store, id).length;
    expect(() => transition(t.s.store, id, to, { reason: 'illegal' })).toThrow(IllegalTransitionError);
    expect(getTask(t.s.store, id)).toEqual(before);
    expect(taskHistory(t.s.store, id)).toHaveLength(events);
  });

  it.each(pairs.filter(([f, to]) => canTransition(f, to)))('applies %s -> %s with its reason recorded', (from, to) => {
    const id = taskIn(from);
    const row = transition(t.s.store, id, to, { reason: `because ${to}`, nodeId: 'n1' });
    expect(row.status).toBe(to);
    expect(getTask(t.s.store, id)!.status).toBe(to);
    const last = taskHistory(t.s.store, id).at(-1)!;
    expect(last).toMatchObject({ from_status: from, to_status: to, reason: `because ${to}`, node_id: 'n1' });
  });

  it('has the lifecycle of DESIGN.md: final states move nowhere, submitted can fall back to completed', () => {
    expect(TRANSITIONS.settled).toEqual([]);
    expect(TRANSITIONS.failed).toEqual([]);
    expect(TRANSITIONS.timeout).toEqual([]);
    expect(canTransition('in_progress', 'pending')).toBe(true);
    expect(canTransition('submitted', 'completed')).toBe(true);
    expect(canTransition('pending', 'submitted')).toBe(false);
    expect(canTransition('completed', 'settled')).toBe(false);
  });

  it('refuses a legal transition when the caller expected another status (lease checks)', () => {
    const id = taskIn('pending');
    expect(() => transition(t.s.store, id, 'timeout', { reason: 'x', expect: ['in_progress'] })).toThrow(
      /cannot go from pending to timeout/,
    );
    expect(getTask(t.s.store, id)!.status).toBe('pending');
  });

  it('names an unknown task', () => {
    expect(() => transition(t.s.store, 'nope', 'in_progress', { reason: 'x' })).toThrow(TaskNotFoundError);
  });

  it('transitionFrom applies only while the task is still in the status its caller read, else changes nothing', () => {
    const id = taskIn('completed');
    transitionFrom(
      t.s.store,
      id,
      'completed',
      'submitted',
      { reason: 'in tx', txid: 'tx1' },
      { settlement_txid: 'tx1' },
    );
    expect(getTask(t.s.store, id)).toMatchObject({ status: 'submitted', settlement_txid: 'tx1' });
    expect(taskHistory(t.s.store, id).at(-1)).toMatchObject({
      from_status: 'completed',
      to_status: 'submitted',
      txid: 'tx1',
    });
    const before = getTask(t.s.store, id);
    const events = taskHistory(t.s.store, id).length;
    // Read as completed, but it moved on meanwhile: the error names the status it is really in.
    expect(() => transitionFrom(t.s.store, id, 'completed', 'submitted', { reason: 'again' })).toThrow(
      /cannot go from submitted to submitted/,
    );
    expect(() => transitionFrom(t.s.store, id, 'settled', 'submitted', { reason: 'illegal' })).toThrow(
      IllegalTransitionError,
    );
    expect(getTask(t.s.store, id)).toEqual(before);
    expect(taskHistory(t.s.store, id)).toHaveLength(events);
    expect(() => transitionFrom(t.s.store, 'nope', 'pending', 'in_progress', { reason: 'x' })).toThrow(
      TaskNotFoundError,
    );
  });

  it('transition with the row its caller read in the same SQL transaction still refuses a stale status', () => {
    const id = taskIn('pending');
    const read = getTask(t.s.store, id)!;
    transition(t.s.store, id, 'in_progress', { reason: 'leased' });
    expect(() => transition(t.s.store, id, 'in_progress', { reason: 'stale' }, {}, read)).toThrow(
      /cannot go from in_progress to in_progress/,
    );
    expect(
      transition(t.s.store, id, 'completed', { reason: 'done' }, { output_hash: 'ab' }, getTask(t.s.store, id)),
    ).toMatchObject({ task_id: id, status: 'completed', output_hash: 'ab', attempts: 0 });
  });

  it('creates a task seen twice only once, with one creation event', () => {
    const [id] = addTasks(t, { chainTaskId: 77n });
    addTasks(t, { chainTaskId: 77n, fee: 5n });
    expect(getTask(t.s.store, id)!.fee).toBe('1000');
    expect(taskHistory(t.s.store, id)).toHaveLength(1);
  });
});
