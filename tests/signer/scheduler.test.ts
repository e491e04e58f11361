import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { heartbeat, recordOutcome } from '../../signer/nodes/index.js';
import { sweep } from '../../signer/tasks/leases.js';
import { leaseNext, leaseUpTo, scoreNode, stakeScore } from '../../signer/tasks/scheduler.js';
import { getTask, taskHistory } from '../../signer/tasks/state.js';
import { getNode } from '../../signer/nodes/index.js';
import { addTasks, ARTIFACT_A, ARTIFACT_B, makeSigner, register, TestNode, type TestSigner } from './helpers.js';

let t: TestSigner;
beforeEach(() => {
  t = makeSigner({
    scheduler: { max_in_flight_per_node: 2, max_infer_time_ms: 10_000, max_attempts: 2, prefer_better_node_ms: 1_000 },
    network: { heartbeat_timeout_ms: 5_000 },
  });
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
    await register(t, new TestNode('slow'));
    await register(t, new TestNode('fast'));
    const half = t.s.config.scheduler.reputation_half_life_ms;
    // What the signer measured: fast answered 5 times in 200 ms, slow failed once and took 20 s.
    for (let i = 0; i < 5; i++) recordOutcome(t.s.store, 'fast', true, 200, half, Date.now() - 1_000);
    recordOutcome(t.s.store, 'slow', false, null, half, Date.now() - 1_000);
    recordOutcome(t.s.store, 'slow', true, 20_000, half, Date.now() - 1_000);
    const [id] = addTasks(t, {});
    const created = getTask(t.s.store, id)!.created_at;
    expect(leaseNext(t.s, 'slow', created + 10)).toBeNull();
    expect(leaseNext(t.s, 'slow', created + 2_000)?.task_id).toBe(id);
  });

  it('self-reported figures do not weigh: a node claiming performance 1000 does not take the tasks of an honest node with a better measured record (issue 12, attack 1)', async () => {
    const huge = { cpu_cores: 4096, memory_mb: 4_000_000, gpu_memory_mb: 1_000_000, max_batch: 1024 };
    await register(t, new TestNode('rogue'), { performance_score: 1000, capabilities: huge });
    await register(t, new TestNode('honest'), {
      performance_score: 1,
      capabilities: { cpu_cores: 2, memory_mb: 2048, gpu_memory_mb: 0, max_batch: 1 },
    });
    const half = t.s.config.scheduler.reputation_half_life_ms;
    const before = Date.now() - 1_000;
    for (let i = 0; i < 3; i++) recordOutcome(t.s.store, 'honest', true, 150, half, before);
    const ids = addTasks(t, {}, {}, {}, {});
    const now = Math.min(...ids.map((id) => getTask(t.s.store, id)!.created_at)) + 10;
    // The rogue pulls first, as it did in the attack: every young task is left to the honest node.
    expect(leaseUpTo(t.s, 'rogue', 4, now)).toEqual([]);
    const honest = leaseUpTo(t.s, 'honest', 2, now).map((r) => r.task_id);
    expect(honest).toEqual(ids.slice(0, 2));
    // Its claims are not even a tie-breaker: with equal records the two nodes score the same.
    const rogueRow = getNode(t.s.store, 'rogue')!;
    const plain = { ...rogueRow, performance_score: 0, capabilities: null };
    expect(scoreNode(rogueRow, 0, 4, now, half)).toBe(scoreNode(plain, 0, 4, now, half));
  });

  it('weighs stake, with diminishing returns: more stake scores higher, each extra unit less', async () => {
    await register(t, new TestNode('a'));
    const node = getNode(t.s.store, 'a')!;
    const now = Date.now();
    const half = t.s.config.scheduler.reputation_half_life_ms;
    const min = 1_000_000n;
    expect(stakeScore(0n, min)).toBe(0);
    expect(stakeScore(min, min)).toBeCloseTo(0.5);
    expect(stakeScore(2n * min, min)).toBeGreaterThan(stakeScore(min, min));
    expect(stakeScore(2n * min, min) - stakeScore(min, min)).toBeGreaterThan(
      stakeScore(20n * min, min) - stakeScore(10n * min, min),
    );
    expect(stakeScore(1_000_000n * min, min)).toBeLessThan(1);
    expect(scoreNode(node, 0, 4, now, half, stakeScore(10n * min, min))).toBeGreaterThan(
      scoreNode(node, 0, 4, now, half, stakeScore(min, min)),
    );
    // A huge stake does not outweigh a clearly worse record: a fresh, failing node with 1000x
    // the minimum still scores below a node with the minimum and a good record.
    await register(t, new TestNode('rich'));
    recordOutcome(t.s.store, 'rich', false, null, half, now - 1_000);
    for (let i = 0; i < 3; i++) recordOutcome(t.s.store, 'a', true, 150, half, now - 1_000);
    const rich = getNode(t.s.store, 'rich')!;
    const good = getNode(t.s.store, 'a')!;
    expect(scoreNode(good, 0, 4, now, half, stakeScore(min, min))).toBeGreaterThan(
      scoreNode(rich, 0, 4, now, half, stakeScore(1000n * min, min)),
    );
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
