/**
 * 1,000 malformed requests across the endpoints (nodes, tasks, inputs, direct inference, the
 * admin API): each gets a 4xx envelope saying what is wrong, never a 5xx, and nothing stored
 * before changes.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../protocol/index.js';
import { leaseNext } from '../../signer/tasks/scheduler.js';
import { addTasks, body, makeSigner, register, TestNode, type TestSigner } from './helpers.js';

let t: TestSigner;
let node: TestNode;
let taskId: string;

function snapshot() {
  const all = (table: string) => t.s.store.sqlite.prepare(`select * from ${table}`).all();
  return {
    tasks: all('inference_tasks'),
    nodes: all('inference_nodes'),
    events: all('task_events'),
    blobs: all('input_blobs'),
    settlements: all('settlements'),
  };
}

beforeAll(async () => {
  t = makeSigner({ server: { body_limit_bytes: 8192 } });
  node = new TestNode('fuzz-node');
  await register(t, node);
  [taskId] = addTasks(t, {}, {});
  // Both tasks leased: a well-formed signed pull finds nothing (204) and changes nothing.
  leaseNext(t.s, node.nodeId, Date.now() + 5_000);
  leaseNext(t.s, node.nodeId, Date.now() + 5_000);
});
afterAll(() => t.close());

const junk = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.object({ maxDepth: 2 }),
);
const routes: [string, string][] = [
  ['POST', '/api/v1/nodes/register'],
  ['POST', '/api/v1/nodes/heartbeat'],
  ['GET', '/api/v1/nodes/fuzz-node/tasks'],
  ['POST', '/api/v1/tasks/complete'],
  ['POST', '/api/v1/tasks/complete-batch'],
  ['POST', '/api/v1/models/{id}/infer'],
  ['POST', '/v2/models/{id}/infer'],
  ['POST', '/api/v1/admin/tokens'],
  ['GET', '/api/v1/tasks/{id}/status'],
  ['GET', '/api/v1/tasks/{id}/result'],
  ['PUT', '/api/v1/inputs/{hash}'],
  ['GET', '/api/v1/inputs/{hash}'],
  ['GET', '/api/v1/models/{hash}/artifact'],
  ['DELETE', '/api/v1/nodes'],
];

/** A request that is wrong in one of several ways. */
const malformed = fc.record({
  route: fc.constantFrom(...routes),
  id: fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.constant('../../etc/passwd'),
    fc.constant('%00'),
    fc.constant('x'.repeat(100)),
  ),
  hash: fc.oneof(fc.string({ maxLength: 70 }), fc.constant(sha256Hex('never uploaded')), fc.constant('G'.repeat(64))),
  body: fc.oneof(
    junk.map((j) => JSON.stringify(j)),
    fc.string({ maxLength: 200 }),
    fc.constant('{"node_id":'),
    fc.constant('x'.repeat(9000)),
    junk.map((j) => JSON.stringify({ node_id: 'fuzz-node', status: 'online', extra: j })),
    junk.map((j) => JSON.stringify({ ...node.registration(), performance_score: j, extra: 1 })),
    junk.map((j) =>
      JSON.stringify({
        task_id: taskId,
        output: j,
        inference_node_id: 'fuzz-node',
        output_hash: 'zz',
        signature: '00',
      }),
    ),
    junk.map((j) => JSON.stringify({ results: [j] })),
    junk.map((j) => JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [j] }] })),
  ),
  auth: fc.constantFrom('none', 'garbage', 'signed-wrong-body', 'stale', 'signed'),
  query: fc.oneof(
    fc.constant(''),
    fc.constant('?wait=-1'),
    fc.constant('?wait=abc'),
    fc.constant('?wait=99999'),
    fc.constant('?history=1&x=%zz'),
    fc.constant('?max=0'),
    fc.constant('?max=65&inline=true'),
    fc.constant('?max=2&inline=maybe'),
  ),
});

describe('fuzz: malformed requests', () => {
  it('1,000 of them get only 4xx with an error message, and change nothing', async () => {
    const before = snapshot();
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(malformed, async (m) => {
        const [method, template] = m.route;
        let path = template.replace('{id}', encodeURIComponent(m.id)).replace('{hash}', encodeURIComponent(m.hash));
        if (method === 'GET') path += m.query;
        const hasBody = method !== 'GET';
        const text = hasBody ? m.body : '';
        // A signed request is only made malformed by its body or path; keep it malformed.
        const headers: Record<string, string> =
          m.auth === 'none'
            ? { 'content-type': 'application/json' }
            : m.auth === 'garbage'
              ? {
                  'x-node-id': m.id.slice(0, 10) || 'x',
                  'x-node-timestamp': 'soon',
                  'x-node-signature': m.hash,
                  'content-type': 'application/json',
                }
              : m.auth === 'stale'
                ? node.headers(method, path, text, Date.now() - 3_600_000)
                : m.auth === 'signed-wrong-body'
                  ? node.headers(method, path, `${text} `)
                  : node.headers(method, path, text);
        const res = await t.app.request(path, { method, headers, body: hasBody ? text : undefined });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 204) return; // a well-formed signed pull with nothing to hand out
        expect(res.status, `${method} ${path} (${m.auth}) -> ${res.status}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${method} ${path} (${m.auth}) -> ${res.status}`).toBeLessThan(500);
        if (res.headers.get('content-type')?.includes('json')) {
          const b = await body(res);
          // The seed's envelope, or the Open Inference Protocol's {"error": ...} on /v2.
          expect(b.success === false || path.startsWith('/v2/')).toBe(true);
          expect(b.error).toBeTruthy();
        }
      }),
      { numRuns: 1000, seed: 20261122 },
    );
    expect(snapshot()).toEqual(before);
    // The mix reached validation, auth, lookup and limits, not one early check only.
    for (const s of [400, 401, 403, 404, 413])
      expect(statuses.get(s) ?? 0, `status ${s} in ${JSON.stringify([...statuses])}`).toBeGreaterThan(0);
  });
});
