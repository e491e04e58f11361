/**
 * L2 clear text goes to trusted nodes only: a chain task of an L2 model is trusted_only from its
 * ingest (not an encrypted one), a direct call at L2 is refused while no trusted node serves the
 * model (or always, with guard.l2_clear_text = "refuse") and queued trusted_only otherwise; the
 * scheduler never leases a trusted_only task to an untrusted node, and leases it to a trusted one.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { privacyCode } from '../../protocol/index.js';
import { guardAudit, inferenceTasks } from '../../signer/db/index.js';
import { getNode, recordOutcome, setTrusted } from '../../signer/nodes/index.js';
import { leaseNext } from '../../signer/tasks/scheduler.js';
import { getTask, taskHistory } from '../../signer/tasks/state.js';
import { adminSession } from './console-helpers.js';
import type { SignerConfigInput } from '../../signer/index.js';
import {
  addTasks,
  body,
  makeSigner,
  publishConsoleModel,
  register,
  TestNode,
  type TestSigner,
  setModelLevel,
} from './helpers.js';

let t: TestSigner;
const setLevel = (model: string, level: string) => setModelLevel(t, model, level);
const trustedOnly = (id: string) => getTask(t.s.store, id)!.trusted_only;

function start(config: SignerConfigInput = {}) {
  t = makeSigner({
    scheduler: { max_in_flight_per_node: 4, prefer_better_node_ms: 1_000 },
    inference: { queue_size: 8, timeout_ms: 10_000 },
    ...config,
  });
}
afterEach(() => {
  t.s.inference.close();
  t.close();
});

describe('chain tasks: trusted_only from the model and privacy on chain', () => {
  beforeEach(() => start());

  it('an L2 model in clear text is trusted_only (and says so in its history); L1 and encrypted are not', () => {
    setLevel('model-a', 'L2');
    const [l2, enc] = addTasks(t, {}, { privacy: privacyCode('encrypted') });
    const [l1] = addTasks(t, { model: 'model-b' });
    expect([trustedOnly(l2!), trustedOnly(enc!), trustedOnly(l1!)]).toEqual([1, 0, 0]);
    expect(taskHistory(t.s.store, l2!)[0]!.reason).toMatch(/only a node the operator marked trusted may run it/);
  });

  it('is never leased to an untrusted node, and is leased to a trusted one; other tasks still go to anyone', async () => {
    setLevel('model-a', 'L2');
    await register(t, new TestNode('plain'));
    await register(t, new TestNode('vetted'));
    const [sensitive] = addTasks(t, { priority: 9 });
    setLevel('model-a', 'L1');
    const [ordinary] = addTasks(t, {});
    const later = Date.now() + 5_000;
    expect(leaseNext(t.s, 'plain', later)?.task_id).toBe(ordinary);
    expect(leaseNext(t.s, 'plain', later)).toBeNull();
    expect(setTrusted(t.s.store, 'vetted', true).trusted).toBe(1);
    expect(leaseNext(t.s, 'vetted', later)?.task_id).toBe(sensitive);
  });

  it('a trusted node is not held back for a better-scored node that may not take the task', async () => {
    setLevel('model-a', 'L2');
    await register(t, new TestNode('vetted'));
    await register(t, new TestNode('fast'));
    setTrusted(t.s.store, 'vetted', true);
    const half = t.s.config.scheduler.reputation_half_life_ms;
    for (let i = 0; i < 5; i++) recordOutcome(t.s.store, 'fast', true, 200, half, Date.now() - 1_000);
    recordOutcome(t.s.store, 'vetted', false, null, half, Date.now() - 1_000);
    const [id] = addTasks(t, {});
    expect(leaseNext(t.s, 'vetted', getTask(t.s.store, id!)!.created_at + 10)?.task_id).toBe(id);
  });

  it('setTrusted: a node that never registered is a 404; the flag survives a re-registration and can be taken back', async () => {
    expect(() => setTrusted(t.s.store, 'ghost', true)).toThrow(/no registered node "ghost"/);
    const node = new TestNode('vetted');
    await register(t, node);
    setTrusted(t.s.store, 'vetted', true);
    expect(await register(t, node)).toBe(200);
    expect(getNode(t.s.store, 'vetted')!.trusted).toBe(1);
    setTrusted(t.s.store, 'vetted', false);
    setLevel('model-a', 'L2');
    addTasks(t, {});
    expect(leaseNext(t.s, 'vetted', Date.now() + 5_000)).toBeNull();
  });
});

describe('direct inference at L2', () => {
  const MODEL = 'sensitive';
  const infer = (token: string) =>
    t.app.request(`/api/v1/models/${MODEL}/infer?async=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] }),
    });
  async function tokenOf(): Promise<string> {
    const admin = await adminSession(t);
    const res = await t.app.request('/api/v1/admin/tokens', {
      method: 'POST',
      headers: { ...admin.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'l2', rate_limit_per_minute: 0 }),
    });
    return (await body(res)).data.token as string;
  }
  const tasks = () => t.s.store.db.select().from(inferenceTasks).all();

  it('is refused (503 policy_needs_trusted_node) while no trusted node serves the model, queued trusted_only once one does', async () => {
    start();
    publishConsoleModel(t, MODEL);
    setLevel(MODEL, 'L2');
    const token = await tokenOf();
    await register(t, new TestNode('plain'));
    const refused = await infer(token);
    expect(refused.status).toBe(503);
    const b = await body(refused);
    expect(b.code).toBe('policy_needs_trusted_node');
    expect(b.error).toMatch(/none serving it is online/);
    expect(tasks()).toEqual([]);
    await register(t, new TestNode('vetted'));
    setTrusted(t.s.store, 'vetted', true);
    const res = await infer(token);
    expect(res.status).toBe(202);
    const id = (await body(res)).data.task_id as string;
    expect(trustedOnly(id)).toBe(1);
    expect(leaseNext(t.s, 'plain', Date.now() + 5_000)).toBeNull();
    expect(leaseNext(t.s, 'vetted', Date.now() + 5_000)?.task_id).toBe(id);
    // A clean input has no finding, so no audit row; the level shows in the task's routing instead.
    expect(t.s.store.db.select().from(guardAudit).where(eq(guardAudit.model, MODEL)).all()).toEqual([]);
  });

  it('with guard.l2_clear_text = "refuse", is refused with 422 policy_needs_encryption even with a trusted node', async () => {
    start({ guard: { l2_clear_text: 'refuse' } });
    publishConsoleModel(t, MODEL);
    setLevel(MODEL, 'L2');
    const token = await tokenOf();
    await register(t, new TestNode('vetted'));
    setTrusted(t.s.store, 'vetted', true);
    const res = await infer(token);
    expect(res.status).toBe(422);
    expect((await body(res)).code).toBe('policy_needs_encryption');
    expect(tasks()).toEqual([]);
  });
});
