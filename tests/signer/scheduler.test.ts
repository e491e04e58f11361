import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { heartbeat, recordOutcome } from '../../signer/nodes/index.js';
import { sweep } from '../../signer/tasks/leases.js';
import { leaseNext, scoreNode } from '../../signer/tasks/scheduler.js';
import { getTask, taskHistory } from '../../signer/tasks/state.js';
import { getNode } from '../../signer/nodes/index.js';
import { addTasks, ARTIFACT_A, ARTIFACT_B, makeSigner, register, TestNode, type TestSigner } from './helpers.js';

let t: TestSigner;
beforeEach(() => {
  t = makeSigner({ scheduler: { max_in_flight_per_node: 2, max_infer_time_ms: 10_000, max_attempts: 2, prefer_better_node_ms: 1_000 }, network: { heartbeat_timeout_ms: 5_000 } });
});
afterEach(() => t.close());

describe('scheduler', () => {
  it('hands out by priority, then age, only tasks of models the node serves', async () => {
    const a = new TestNode('a', [ARTIFACT_A]);
    await register(t, a);
    const [old, , urgent] = addTasks(t, { priority: 1 }, { artifactHash: ARTIFACT_B, priority: 9 }, { priority: 5 });
    const now = Date.now() + 5_000;
    expect(leaseNext(t.s, 'a', now)?.task_id).toBe(urgent);
    expect(leaseNext(t.s, 'a', now)?.task_id).toBe(old);
    // The model-b task is not for this node.
    const b = new TestNode('b', [ARTIFACT_B]);
    await register(t, b);
    expect(leaseNext(t.s, 'b', now)?.artifact_hash).toBe(ARTIFACT_B);
  });

  it('caps the tasks one node holds (in-flight load)', async () => {
    await register(t, new TestNode('a'));
    addTasks(t, {}, {}, {});
    const now = Date.now() + 5_000;
    expect(leaseNext(t.s, 'a', now)).not.toBeNull();
    expect(leaseNext(t.s, 'a', now)).not.toBeNull();
    expect(leaseNext(t.s, 'a', now)).toBeNull();
  });

  it('holds a fresh task back for a clearly better idle node, then lets anyone take it once it has waited', async () => {
    await register(t, new TestNode('slow'), { performance_score: 0.1, capabilities: { cpu_cores: 1, memory_mb: 512, gpu_memory_mb: 0, max_batch: 1 } });
    await register(t, new TestNode('fast'), { performance_score: 100, capabilities: { cpu_cores: 32, memory_mb: 131072, gpu_memory_mb: 24576, max_batch: 8 } });
    const [id] = addTasks(t, {});
    const created = getTask(t.s.store, id)!.created_at;
    expect(leaseNext(t.s, 'slow', created + 10)).toBeNull();
    expect(leaseNext(t.s, 'slow', created + 2_000)?.task_id).toBe(id);
  });

  it('scores reputation, latency and load: a failing, slow, loaded node scores lower', async () => {
    await register(t, new TestNode('good'));
    await register(t, new TestNode('bad'));
    const now = Date.now();
    const half = t.s.config.scheduler.reputation_half_life_ms;
    recordOutcome(t.s.store, 'good', true, 100, half, now);
    recordOutcome(t.s.store, 'bad', false, null, half, now);
    recordOutcome(t.s.store, 'bad', true, 20_000, half, now);
    const good = getNode(t.s.store, 'good')!;
    const bad = getNode(t.s.store, 'bad')!;
    expect(scoreNode(good, 0, 4, now, half)).toBeGreaterThan(scoreNode(bad, 0, 4, now, half));
    expect(scoreNode(good, 0, 4, now, half)).toBeGreaterThan(scoreNode(good, 3, 4, now, half));
  });

  it('does not lease to a node in maintenance or degraded', async () => {
    await register(t, new TestNode('a'));
    addTasks(t, {});
    for (const status of ['maintenance', 'degraded'] as const) {
      heartbeat(t.s.store, 'a', status);
      expect(leaseNext(t.s, 'a', Date.now() + 5_000)).toBeNull();
    }
  });

  it('leases to a node whose last heartbeat said busy once it asks again, up to its in-flight cap', async () => {
    // The heartbeat may be an interval old: a pull is the node saying it has room now.
    await register(t, new TestNode('a'));
    heartbeat(t.s.store, 'a', 'busy');
    addTasks(t, {}, {}, {});
    const now = Date.now() + 5_000;
    expect(leaseNext(t.s, 'a', now)).not.toBeNull();
    expect(leaseNext(t.s, 'a', now)).not.toBeNull();
    expect(leaseNext(t.s, 'a', now)).toBeNull();
  });
});

describe('leases, heartbeats and deadlines', () => {
  it('an expired lease goes back to pending, and a second failure makes the task failed with both reasons', async () => {
    await register(t, new TestNode('a'));
    const [id] = addTasks(t, {});
    const t0 = Date.now() + 2_000;
    leaseNext(t.s, 'a', t0);
    heartbeat(t.s.store, 'a', 'online', t0 + 10_500);
    expect(sweep(t.s, t0 + 10_500).requeued).toEqual([id]);
    expect(getTask(t.s.store, id)).toMatchObject({ status: 'pending', inference_node_id: null, failures: 1 });
    leaseNext(t.s, 'a', t0 + 11_000);
    heartbeat(t.s.store, 'a', 'online', t0 + 21_500);
    expect(sweep(t.s, t0 + 21_500).failed).toEqual([id]);
    const row = getTask(t.s.store, id)!;
    expect(row.status).toBe('failed');
    expect(row.attempts).toBe(2);
    expect(taskHistory(t.s.store, id).at(-1)!.reason).toMatch(/lease of a expired.*failed 2 of 2 attempts/);
  });

  it('a node that stops heartbeating goes offline and its tasks return to pending for another node', async () => {
    await register(t, new TestNode('a'));
    const [id] = addTasks(t, {});
    const t0 = Date.now();
    expect(leaseNext(t.s, 'a', t0 + 2_000)?.task_id).toBe(id);
    const out = sweep(t.s, Date.now() + 6_000);
    expect(out.offlineNodes).toEqual(['a']);
    expect(out.requeued).toEqual([id]);
    expect(getNode(t.s.store, 'a')!.status).toBe('offline');
    expect(taskHistory(t.s.store, id).at(-1)!.reason).toMatch(/node a went offline/);
    await register(t, new TestNode('b'));
    expect(leaseNext(t.s, 'b', Date.now() + 7_000)?.task_id).toBe(id);
  });

  it('a task whose deadline is reached times out unless it is already in a settlement', async () => {
    await register(t, new TestNode('a'));
    const [early, late] = addTasks(t, { deadline: 10n }, { deadline: 50n });
    t.s.chain.tipHeight = 10;
    const out = sweep(t.s);
    expect(out.timedOut).toEqual([early]);
    expect(getTask(t.s.store, early)!.status).toBe('timeout');
    expect(getTask(t.s.store, late)!.status).toBe('pending');
    expect(taskHistory(t.s.store, early).at(-1)!.reason).toMatch(/deadline block 10 reached/);
  });

  it('does not lease a task whose deadline has been reached', async () => {
    await register(t, new TestNode('a'));
    addTasks(t, { deadline: 10n });
    t.s.chain.tipHeight = 10;
    expect(leaseNext(t.s, 'a', Date.now() + 5_000)).toBeNull();
  });
});
