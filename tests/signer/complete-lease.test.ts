/**
 * A result is recorded only under the lease it was checked under (tasks/results.ts record): the
 * lease columns are read again after the signature check, which awaits a thread. A lease that
 * ended and went back to the same node meanwhile is a new lease: the old attempt's result is refused.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { failAttempt } from '../../signer/tasks/leases.js';
import { leaseUpTo } from '../../signer/tasks/scheduler.js';
import { getTask, taskHistory } from '../../signer/tasks/state.js';
import { TestNode, addTasks, body, makeSigner, register, type TestSigner } from './helpers.js';

let t: TestSigner;
let node: TestNode;

beforeEach(async () => {
  t = makeSigner();
  node = new TestNode('node-1');
  expect(await register(t, node)).toBe(201);
});
afterEach(() => t.close());

describe('POST /api/v1/tasks/complete while the lease changes', () => {
  it('refuses a result whose lease ended and was given to the same node again during its check', async () => {
    addTasks(t, {});
    const [task] = leaseUpTo(t.s, node.nodeId, 1);
    const check = t.s.verifier.taskResult.bind(t.s.verifier);
    // While the result's signature is checked, the lease fails and the node leases the task again (attempt 2).
    const spy = vi.spyOn(t.s.verifier, 'taskResult').mockImplementation(async (...args) => {
      const ok = await check(...args);
      failAttempt(t.s, getTask(t.s.store, task!.task_id)!, 'lease expired');
      expect(leaseUpTo(t.s, node.nodeId, 1)).toHaveLength(1);
      return ok;
    });
    try {
      const res = await t.app.request(...node.request('POST', '/api/v1/tasks/complete', node.result(task!)));
      expect(res.status).toBe(409);
      expect((await body(res)).error).toMatch(/ended while its result was being checked \(status in_progress\)/);
    } finally {
      spy.mockRestore();
    }
    const now = getTask(t.s.store, task!.task_id)!;
    expect(now).toMatchObject({ status: 'in_progress', inference_node_id: node.nodeId, output_hash: null });
    expect(now.attempts).toBe(task!.attempts + 1);
    expect(taskHistory(t.s.store, task!.task_id).map((e) => e.to_status)).toEqual([
      'pending',
      'in_progress',
      'pending',
      'in_progress',
    ]);
    // The new lease takes the node's result.
    const again = await t.app.request(...node.request('POST', '/api/v1/tasks/complete', node.result(now)));
    expect(again.status).toBe(200);
    expect(getTask(t.s.store, task!.task_id)).toMatchObject({ status: 'completed', attempts: now.attempts });
  });
});
