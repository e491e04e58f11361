/**
 * Redundant runs through the real app: level-3 tasks run on three distinct nodes and settle on
 * the majority; sampled level-1 tasks run on a second node; outputs compare in canonical form.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalOutputs, type InferenceOutputs } from '../../protocol/index.js';
import { getNode } from '../../signer/nodes/index.js';
import { getTask, sweep, taskHistory } from '../../signer/tasks/index.js';
import { readVotes } from '../../signer/tasks/votes.js';
import { addTasks, body, makeSigner, register, TestNode, type TestSigner } from './helpers.js';

let t: TestSigner;
let nodes: TestNode[];
beforeEach(async () => {
  t = makeSigner();
  nodes = [1, 2, 3, 4].map((i) => new TestNode(`node-${i}`));
  for (const n of nodes) expect(await register(t, n)).toBe(201);
});
afterEach(() => t.close());

const pull = (n: TestNode) => t.app.request(...n.request('GET', `/api/v1/nodes/${n.nodeId}/tasks`));
const complete = (n: TestNode, b: unknown) => t.app.request(...n.request('POST', '/api/v1/tasks/complete', b));
const output = (v: number): InferenceOutputs => ({ outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [v] }] });

/** The node pulls the task and posts `value` as its output; returns the task's status after. */
async function run(n: TestNode, id: string, value = 0.5): Promise<string> {
  const p = await pull(n);
  expect(p.status, `${n.nodeId} pulls task ${id}`).toBe(200);
  const task = (await body(p)).data;
  expect(task.task_id).toBe(id);
  const res = await complete(n, n.result(task, output(value)));
  expect(res.status, await res.clone().text()).toBe(200);
  return (await body(res)).data.status;
}

describe('security level 3', () => {
  it('runs on three distinct nodes and completes with the majority output; the outvoted node loses reputation', async () => {
    const [id] = addTasks(t, { security: 3 });
    expect(await run(nodes[0]!, id!)).toBe('pending');
    // The node that ran it never gets it again.
    expect((await pull(nodes[0]!)).status).toBe(204);
    expect(await run(nodes[1]!, id!, 0.25)).toBe('pending');
    expect(await run(nodes[2]!, id!)).toBe('completed');
    const row = getTask(t.s.store, id!)!;
    const votes = readVotes(row.votes);
    expect(votes.map((v) => v.node_id)).toEqual(['node-1', 'node-2', 'node-3']);
    expect(JSON.parse(row.output!)).toEqual(output(0.5));
    expect(row.output_hash).toBe(votes[0]!.output_hash);
    expect(row.node_public_key).toBe(nodes[0]!.publicKey);
    expect(getNode(t.s.store, 'node-2')!.failures).toBeGreaterThan(0);
    expect(taskHistory(t.s.store, id!).at(-1)!.reason).toContain('outvoted: node-2');
  });

  it('three different outputs ask five nodes; no majority among five fails the task', async () => {
    const fifth = new TestNode('node-5');
    expect(await register(t, fifth)).toBe(201);
    const [id] = addTasks(t, { security: 3 });
    expect(await run(nodes[0]!, id!, 0.1)).toBe('pending');
    expect(await run(nodes[1]!, id!, 0.2)).toBe('pending');
    expect(await run(nodes[2]!, id!, 0.3)).toBe('pending');
    expect(getTask(t.s.store, id!)!.runs_needed).toBe(5);
    expect(await run(nodes[3]!, id!, 0.4)).toBe('pending');
    expect(await run(fifth, id!, 0.5)).toBe('failed');
    expect(getTask(t.s.store, id!)!.error).toBe('no majority among nodes');
  });
});

describe('federated privacy mode', () => {
  it('runs a level-1 federated task on three nodes and settles the majority', async () => {
    const [id] = addTasks(t, { privacy: 2 });
    expect(getTask(t.s.store, id!)!.runs_needed).toBe(3);
    expect(await run(nodes[0]!, id!)).toBe('pending');
    expect(await run(nodes[1]!, id!)).toBe('pending');
    expect(await run(nodes[2]!, id!)).toBe('completed');
  });
});

describe('spot checks of level-1 tasks', () => {
  it('a sampled task runs on a second node and completes when both agree', async () => {
    const [id] = addTasks(t, { sampleBps: 10_000 });
    expect(getTask(t.s.store, id!)!.runs_needed).toBe(2);
    expect(await run(nodes[0]!, id!)).toBe('pending');
    expect(await run(nodes[1]!, id!)).toBe('completed');
    expect(readVotes(getTask(t.s.store, id!)!.votes)).toHaveLength(2);
  });

  it('a disagreement is settled by a third node', async () => {
    const [id] = addTasks(t, { sampleBps: 10_000 });
    expect(await run(nodes[0]!, id!, 0.9)).toBe('pending');
    expect(await run(nodes[1]!, id!, 0.5)).toBe('pending');
    expect(getTask(t.s.store, id!)!.runs_needed).toBe(3);
    expect(await run(nodes[2]!, id!, 0.5)).toBe('completed');
    expect(JSON.parse(getTask(t.s.store, id!)!.output!)).toEqual(output(0.5));
  });

  it('with no other node serving the model, the single result completes instead of timing out', async () => {
    const lone = makeSigner();
    try {
      const solo = new TestNode('solo');
      expect(
        await lone.app.request(...solo.request('POST', '/api/v1/nodes/register', solo.registration())),
      ).toHaveProperty('status', 201);
      const [id] = (await import('./helpers.js')).addTasks(lone, { sampleBps: 10_000 });
      const task = (await body(await lone.app.request(...solo.request('GET', `/api/v1/nodes/solo/tasks`)))).data;
      const res = await lone.app.request(...solo.request('POST', '/api/v1/tasks/complete', solo.result(task)));
      expect((await body(res)).data.status).toBe('completed');
      expect(taskHistory(lone.s.store, id!).at(-1)!.reason).toContain('spot check skipped');
    } finally {
      lone.close();
    }
  });

  it('when every other node leaves before the check runs, the sweep keeps the first result', async () => {
    const [id] = addTasks(t, { sampleBps: 10_000 });
    expect(await run(nodes[0]!, id!)).toBe('pending');
    expect(sweep(t.s).checksSkipped).toEqual([]);
    t.s.store.sqlite.prepare("update inference_nodes set status = 'offline' where node_id != 'node-1'").run();
    expect(sweep(t.s).checksSkipped).toEqual([id]);
    const row = getTask(t.s.store, id!)!;
    expect(row).toMatchObject({
      status: 'completed',
      runs_needed: 1,
      votes: null,
      inference_node_id: 'node-1',
      node_public_key: nodes[0]!.publicKey,
    });
    expect(taskHistory(t.s.store, id!).at(-1)!.reason).toContain('spot check skipped');
  });

  it('unsampled level-1 tasks complete on the first result', async () => {
    const [id] = addTasks(t, { sampleBps: 0 });
    expect(await run(nodes[0]!, id!)).toBe('completed');
    expect(getTask(t.s.store, id!)!.votes).toBeNull();
  });
});

describe('canonical outputs', () => {
  it('an output not rounded to the task precision is refused; the rounded one is accepted', async () => {
    const [id] = addTasks(t, { precision: 3 });
    const task = (await body(await pull(nodes[0]!))).data;
    expect(task.precision).toBe(3);
    const raw = output(0.123456789);
    const refused = await complete(nodes[0]!, nodes[0]!.result(task, raw));
    expect(refused.status).toBe(400);
    expect((await body(refused)).error).toContain('rounded to 3 significant digits');
    const ok = await complete(nodes[0]!, nodes[0]!.result(task, canonicalOutputs(raw, 3)));
    expect((await body(ok)).data.status).toBe('completed');
    expect(JSON.parse(getTask(t.s.store, id!)!.output!).outputs[0].data).toEqual([0.123]);
  });
});
