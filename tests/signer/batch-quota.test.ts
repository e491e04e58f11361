/**
 * Attack 5 of issue 12: `batch-infer` counted as one call, so a token with a monthly quota of 2
 * ran 32 inferences. Each request of a batch now spends the token's quota and per-minute rate; a
 * batch that does not fit is refused whole (429, saying how many remain) and spends nothing.
 * Against the real app, with a node serving the tasks.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiTokens, inferenceLogs } from '../../signer/db/index.js';
import { adminSession } from './console-helpers.js';
import { body, makeSigner, publishConsoleModel, register, TestNode, type TestSigner } from './helpers.js';

const MODEL = 'model-a';
const input = (x = 1) => ({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [x, x + 1] }] });
const output = (y: number) => ({ outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [y] }] });

let t: TestSigner;
let node: TestNode;

beforeEach(async () => {
  // A short timeout: should a batch be admitted that must not be, the test fails fast instead of hanging.
  t = makeSigner({ inference: { queue_size: 64, timeout_ms: 3_000, max_batch: 32 } });
  node = new TestNode('node-1');
  expect(await register(t, node)).toBe(201);
  publishConsoleModel(t, MODEL);
});
afterEach(() => {
  t.s.inference.close();
  t.close();
});

/** Mints a token through the admin API. */
async function mintToken(settings: Record<string, unknown>): Promise<string> {
  const admin = await adminSession(t);
  const res = await t.app.request('/api/v1/admin/tokens', {
    method: 'POST',
    headers: { ...admin.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'batcher', rate_limit_per_minute: 0, ...settings }),
  });
  expect(res.status).toBe(201);
  return (await body(res)).data.token as string;
}

const batch = (token: string, n: number) =>
  t.app.request(`/api/v1/models/${MODEL}/batch-infer`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ requests: Array.from({ length: n }, (_, i) => input(i)) }),
  });

/** The node serves every task it can pull until `n` are done. */
async function serve(n: number): Promise<void> {
  for (let done = 0; done < n; ) {
    const res = await t.app.request(...node.request('GET', `/api/v1/nodes/${node.nodeId}/tasks?wait=5`));
    expect(res.status).toBe(200);
    const task = (await body(res)).data;
    expect(
      (await t.app.request(...node.request('POST', '/api/v1/tasks/complete', node.result(task, output(0.5))))).status,
    ).toBe(200);
    done++;
  }
}

const tokenRow = () => t.s.store.db.select().from(apiTokens).get()!;
const queued = () =>
  (t.s.store.sqlite.prepare("select count(*) n from inference_tasks where source = 'direct'").get() as { n: number }).n;

describe('batch-infer spends quota and rate per request (issue 12, attack 5)', () => {
  it('a token with a monthly quota of 2 cannot run a batch of 32; nothing is spent or queued', async () => {
    const token = await mintToken({ monthly_quota: 2 });
    const res = await batch(token, 32);
    expect(res.status).toBe(429);
    const b = await body(res);
    expect(b).toMatchObject({ success: false, data: null });
    expect(b.error).toMatch(/2 of its monthly quota of 2 requests remain.*batch of 32/);
    expect(tokenRow()).toMatchObject({ month_count: 0, total_count: 0, status: 'active' });
    expect(queued()).toBe(0);
    expect(t.s.store.db.select().from(inferenceLogs).all()).toMatchObject([{ status: 'rejected', http_status: 429 }]);
  });

  it('a batch that fits spends one per request; the next one is refused', async () => {
    const token = await mintToken({ monthly_quota: 3 });
    const pending = batch(token, 2);
    await serve(2);
    const res = await pending;
    expect(res.status).toBe(200);
    expect((await body(res)).data.results).toHaveLength(2);
    expect(tokenRow()).toMatchObject({ month_count: 2, total_count: 2, status: 'active' });
    const over = await batch(token, 2);
    expect(over.status).toBe(429);
    expect((await body(over)).error).toMatch(/1 of its monthly quota of 3 requests remain/);
    expect(tokenRow()).toMatchObject({ month_count: 2 });
    // Every request of the batch is its own usage row, as a single request would be.
    const served = t.s.store.db
      .select()
      .from(inferenceLogs)
      .all()
      .filter((r) => r.status === 'success');
    expect(served).toHaveLength(2);
    expect(new Set(served.map((r) => r.task_id)).size).toBe(2);
  });

  it('the per-minute rate counts each request: a batch over what is left this minute is 429 with Retry-After', async () => {
    const token = await mintToken({ rate_limit_per_minute: 3 });
    const pending = batch(token, 2);
    await serve(2);
    expect((await pending).status).toBe(200);
    const over = await batch(token, 2);
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await body(over)).error).toMatch(/1 of its 3 requests per minute remain/);
    // A batch larger than the rate itself can never pass: say so, without a Retry-After to loop on.
    const never = await batch(token, 4);
    expect(never.status).toBe(429);
    expect(never.headers.get('retry-after')).toBeNull();
    expect((await body(never)).error).toMatch(/at most 3 requests per batch/);
    expect(tokenRow()).toMatchObject({ minute_count: 2, total_count: 2 });
  });
});
