/**
 * A sampled (spot-checked) task that only trusted nodes may run (an L2 model's clear-text input):
 * its check can run only on another trusted node, so when none other serves the model the sweep
 * keeps the first result at once, as for a clear task with no other node, rather than wait for a
 * node that may not take it until the deadline is near.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { modelPolicies } from '../../signer/db/index.js';
import { setTrusted } from '../../signer/nodes/index.js';
import { getTask, leaseNext, sweep, taskHistory } from '../../signer/tasks/index.js';
import { addTasks, body, makeSigner, register, TestNode, type TestSigner } from './helpers.js';

let t: TestSigner;
const vetted = new TestNode('vetted');
const plain = new TestNode('plain');

beforeEach(async () => {
  t = makeSigner();
  t.s.store.db.insert(modelPolicies).values({ model: 'model-a', data_level: 'L2', updated_at: Date.now() }).run();
  for (const n of [vetted, plain]) expect(await register(t, n)).toBe(201);
  setTrusted(t.s.store, 'vetted', true);
});
afterEach(() => t.close());

describe('a spot check of a trusted-only task', () => {
  it('with no other trusted node serving the model, the first result stands at once', async () => {
    const [id] = addTasks(t, { sampleBps: 10_000 });
    expect(getTask(t.s.store, id!)).toMatchObject({ trusted_only: 1, runs_needed: 2 });
    const task = (await body(await t.app.request(...vetted.request('GET', '/api/v1/nodes/vetted/tasks')))).data;
    const res = await t.app.request(...vetted.request('POST', '/api/v1/tasks/complete', vetted.result(task)));
    // The other node serves the model but may not run an L2 clear-text input.
    expect((await body(res)).data.status).toBe('completed');
    expect(leaseNext(t.s, 'plain', Date.now() + 5_000)).toBeNull();
    expect(sweep(t.s).checksSkipped).toEqual([]);
    expect(getTask(t.s.store, id!)).toMatchObject({ status: 'completed', inference_node_id: 'vetted' });
    expect(taskHistory(t.s.store, id!).at(-1)!.reason).toContain('spot check skipped');
  });

  it('with another trusted node, the check waits for it', async () => {
    setTrusted(t.s.store, 'plain', true);
    const [id] = addTasks(t, { sampleBps: 10_000 });
    const task = (await body(await t.app.request(...vetted.request('GET', '/api/v1/nodes/vetted/tasks')))).data;
    await t.app.request(...vetted.request('POST', '/api/v1/tasks/complete', vetted.result(task)));
    expect(sweep(t.s).checksSkipped).toEqual([]);
    expect(leaseNext(t.s, 'plain', Date.now() + 5_000)?.task_id).toBe(id);
  });
});
