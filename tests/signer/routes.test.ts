import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NODE_AUTH_HEADERS, sha256Hex } from '../../protocol/index.js';
import { getNode } from '../../signer/nodes/index.js';
import {
  acceptResult,
  acceptResults,
  failAttempt,
  getTask,
  leaseNext,
  taskHistory,
  transition,
} from '../../signer/tasks/index.js';
import { addTasks, body, makeSigner, register, TestNode, TestRequester, type TestSigner } from './helpers.js';

let t: TestSigner;
let node: TestNode;
beforeEach(async () => {
  t = makeSigner({ server: { body_limit_bytes: 4096 } });
  node = new TestNode('node-1');
  expect(await register(t, node)).toBe(201);
});
afterEach(() => t.close());

const pull = (n: TestNode, query = '') => t.app.request(...n.request('GET', `/api/v1/nodes/${n.nodeId}/tasks${query}`));
const complete = (n: TestNode, b: unknown) => t.app.request(...n.request('POST', '/api/v1/tasks/complete', b));

describe('seed endpoints', () => {
  it('GET /health answers healthy in the envelope', async () => {
    const res = await t.app.request('/health');
    expect(res.status).toBe(200);
    const b = await body(res);
    expect(b).toMatchObject({ success: true, error: null, data: { status: 'healthy' } });
    expect(typeof b.data.timestamp).toBe('number');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('GET /api/v1/stats gives the seed counters and more', async () => {
    addTasks(t, {}, {});
    const b = await body(await t.app.request('/api/v1/stats'));
    expect(b.data).toMatchObject({
      pending_tasks: 2,
      processing_tasks: 0,
      completed_tasks: 0,
      total_tasks: 2,
      failed_tasks: 0,
      timeout_tasks: 0,
    });
    expect(b.data.latency_ms).toHaveProperty('p95');
    expect(b.data.settlement).toBeDefined();
  });

  it('GET /api/v1/nodes lists the registered node with its key and models', async () => {
    const b = await body(await t.app.request('/api/v1/nodes'));
    expect(b.data).toHaveLength(1);
    expect(b.data[0]).toMatchObject({
      node_id: 'node-1',
      public_key: node.publicKey,
      status: 'online',
      supported_models: node.models,
      in_flight: 0,
    });
  });

  it('a task goes pull -> complete -> status/result, and the result is kept', async () => {
    const requester = new TestRequester();
    const [id] = addTasks(t, { requester: requester.address });
    const p = await pull(node);
    expect(p.status).toBe(200);
    const task = (await body(p)).data;
    expect(task).toMatchObject({
      task_id: id,
      chain_task_id: id,
      input_url: `/api/v1/inputs/${task.input_hash}`,
      privacy: 'standard',
      chain_id: 0x80000000,
    });
    const st = await body(await t.app.request(`/api/v1/tasks/${id}/status`));
    expect(st.data).toMatchObject({ status: 'in_progress', inference_node_id: 'node-1', attempts: 1 });
    const res = await complete(node, node.result(task));
    expect((await body(res)).data).toMatchObject({ task_id: id, status: 'completed' });
    // The result is the requester's, once settled (tests/signer/results.test.ts covers who and when).
    const path = `/api/v1/tasks/${id}/result`;
    expect((await t.app.request(path, { headers: requester.headers('GET', path) })).status).toBe(409);
    transition(t.s.store, id!, 'submitted', { reason: 'test batch' });
    transition(t.s.store, id!, 'settled', { reason: 'test: confirmed' });
    const result = await body(await t.app.request(path, { headers: requester.headers('GET', path) }));
    expect(result.data).toMatchObject({
      status: 'settled',
      inference_node_id: 'node-1',
      node_public_key: node.publicKey,
    });
    expect(result.data.output.outputs[0].data).toEqual([0.5]);
    const history = await body(await t.app.request(`/api/v1/tasks/${id}/status?history=true`));
    expect(history.data.history.map((h: { to_status: string }) => h.to_status)).toEqual([
      'pending',
      'in_progress',
      'completed',
      'submitted',
      'settled',
    ]);
    expect((await body(await t.app.request('/api/v1/stats'))).data).toMatchObject({
      completed_tasks: 1,
      pending_tasks: 0,
    });
  });

  it('pull gives 204 when there is nothing, and a long-poll wakes when a task arrives', async () => {
    expect((await pull(node)).status).toBe(204);
    const started = Date.now();
    const waiting = pull(node, '?wait=5');
    setTimeout(() => {
      addTasks(t, {});
      t.s.pending.notify();
    }, 200);
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('heartbeat records the status; an unknown node gets 404', async () => {
    const res = await t.app.request(
      ...node.request('POST', '/api/v1/nodes/heartbeat', { node_id: 'node-1', status: 'busy' }),
    );
    expect((await body(res)).data).toMatchObject({ status: 'busy' });
    const stranger = new TestNode('stranger');
    const r2 = await t.app.request(
      ...stranger.request('POST', '/api/v1/nodes/heartbeat', { node_id: 'stranger', status: 'online' }),
    );
    expect(r2.status).toBe(404);
    expect((await body(r2)).error).toMatch(/register first/);
  });

  it('unknown task: 404 for status, result and completion', async () => {
    expect((await t.app.request('/api/v1/tasks/999/status')).status).toBe(404);
    expect((await t.app.request('/api/v1/tasks/999/result')).status).toBe(404);
    const res = await complete(node, node.result({ task_id: '999', chain_task_id: '999', input_hash: sha256Hex('x') }));
    expect(res.status).toBe(404);
  });
});

describe('results are checked before they are accepted', () => {
  async function leased() {
    addTasks(t, {});
    return (await body(await pull(node))).data as {
      task_id: string;
      chain_task_id: string;
      input_hash: string;
      artifact_hash: string;
    };
  }

  it('refuses an output_hash that is not the hash of the output (400, nothing changes)', async () => {
    const task = await leased();
    const b = { ...node.result(task), output: { outputs: [] } };
    const res = await complete(node, b);
    expect(res.status).toBe(400);
    expect((await body(res)).error).toMatch(/output_hash .* is not the sha256/);
    expect(getTask(t.s.store, task.task_id)!.status).toBe('in_progress');
  });

  it('refuses a result signature by another key (401)', async () => {
    const task = await leased();
    const other = new TestNode('node-1');
    const res = await complete(node, { ...node.result(task), signature: other.result(task).signature });
    expect(res.status).toBe(401);
    expect((await body(res)).error).toMatch(/signature does not verify/);
    expect(getTask(t.s.store, task.task_id)!.status).toBe('in_progress');
  });

  it('refuses a signature over another task id (it would not verify on chain)', async () => {
    const task = await leased();
    const wrong = node.result({ ...task, chain_task_id: '12345' });
    const res = await complete(node, { ...wrong, task_id: task.task_id });
    expect(res.status).toBe(401);
  });

  it('409 when the task is leased to another node, and when posted twice', async () => {
    const task = await leased();
    const intruder = new TestNode('node-2');
    await register(t, intruder);
    const r1 = await complete(intruder, intruder.result(task));
    expect(r1.status).toBe(409);
    expect((await body(r1)).error).toMatch(/not leased to node-2/);
    expect((await complete(node, node.result(task))).status).toBe(200);
    const again = await complete(node, node.result(task));
    expect(again.status).toBe(409);
    expect((await body(again)).error).toMatch(/already has a result/);
  });

  it('a lease that ends while the result signature is being checked is not completed by that result', async () => {
    const task = await leased();
    const other = new TestNode('node-2');
    await register(t, other);
    // acceptResult runs synchronously up to the signature check on the verifier thread.
    const checking = acceptResult(t.s, getNode(t.s.store, 'node-1')!, { ...node.result(task), confidence: 0.5 });
    failAttempt(t.s, getTask(t.s.store, task.task_id)!, 'lease expired (test)');
    expect(leaseNext(t.s, 'node-2', Date.now() + 5_000)?.task_id).toBe(task.task_id);
    await expect(checking).rejects.toThrow(/ended while its result was being checked/);
    expect(getTask(t.s.store, task.task_id)).toMatchObject({
      status: 'in_progress',
      inference_node_id: 'node-2',
      output: null,
    });
  });

  it('in a batch, a lease that ends while the results are checked refuses that result only; the others are recorded', async () => {
    const [a, b] = [await leased(), await leased()];
    const checking = acceptResults(t.s, getNode(t.s.store, 'node-1')!, [node.result(a), node.result(b)]);
    failAttempt(t.s, getTask(t.s.store, a.task_id)!, 'lease expired (test)');
    const [ra, rb] = await checking;
    expect(ra).toBeInstanceOf(Error);
    expect((ra as Error).message).toMatch(/ended while its result was being checked/);
    expect(rb).toMatchObject({ task_id: b.task_id, status: 'completed' });
    expect(getTask(t.s.store, a.task_id)).toMatchObject({ status: 'pending', output: null });
    expect(getTask(t.s.store, b.task_id)).toMatchObject({ status: 'completed', inference_node_id: 'node-1' });
    expect(taskHistory(t.s.store, b.task_id).at(-1)).toMatchObject({
      from_status: 'in_progress',
      to_status: 'completed',
    });
  });

  it('403 when the body names another node than the signer of the request', async () => {
    const task = await leased();
    const res = await complete(node, { ...node.result(task), inference_node_id: 'node-2' });
    expect(res.status).toBe(403);
  });

  it('an error report ends the attempt: back to pending, then failed after max_attempts with the reasons', async () => {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const task = attempt === 1 ? await leased() : (await body(await pull(node))).data;
      const res = await complete(node, { ...node.result(task), error: `bad input ${attempt}` });
      expect((await body(res)).data.status).toBe(attempt < 3 ? 'pending' : 'failed');
    }
    const [row] = t.s.store.sqlite.prepare('select status, error, attempts from inference_tasks').all() as {
      status: string;
      error: string;
      attempts: number;
    }[];
    expect(row).toMatchObject({ status: 'failed', attempts: 3 });
    expect(row.error).toMatch(/bad input 1.*bad input 2.*bad input 3/);
  });
});

describe('node authentication', () => {
  const path = '/api/v1/nodes/heartbeat';
  const hb = JSON.stringify({ node_id: 'node-1', status: 'online' });

  it('401 without signature headers, naming the header', async () => {
    const res = await t.app.request(path, {
      method: 'POST',
      body: hb,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(401);
    expect((await body(res)).error).toMatch(new RegExp(NODE_AUTH_HEADERS.node));
  });

  it('401 for a tampered body, a stale timestamp, and a replay', async () => {
    const headers = node.headers('POST', path, hb);
    const tampered = await t.app.request(path, { method: 'POST', headers, body: hb.replace('online', 'busy') });
    expect(tampered.status).toBe(401);
    const stale = await t.app.request(path, {
      method: 'POST',
      headers: node.headers('POST', path, hb, Date.now() - 120_000),
      body: hb,
    });
    expect(stale.status).toBe(401);
    expect((await body(stale)).error).toMatch(/ms away from the signer's clock/);
    expect((await t.app.request(path, { method: 'POST', headers, body: hb })).status).toBe(200);
    const replay = await t.app.request(path, { method: 'POST', headers, body: hb });
    expect(replay.status).toBe(401);
    expect((await body(replay)).error).toMatch(/already used/);
  });

  it('401 for a request signed before the signer started (a replay across a restart)', async () => {
    const res = await t.app.request(path, {
      method: 'POST',
      headers: node.headers('POST', path, hb, t.s.startedAt - 1_000),
      body: hb,
    });
    expect(res.status).toBe(401);
    expect((await body(res)).error).toMatch(/before this signer started/);
  });

  it('a node cannot pull for another node id', async () => {
    const other = new TestNode('node-2');
    await register(t, other);
    const p = `/api/v1/nodes/node-2/tasks`;
    const res = await t.app.request(p, { headers: node.headers('GET', p) });
    expect(res.status).toBe(403);
  });

  it('registration must be signed by the key being registered; an id keeps its first key', async () => {
    const thief = new TestNode('node-1');
    const reg = JSON.stringify(thief.registration());
    const p = '/api/v1/nodes/register';
    // Signed by the thief's key but claiming the owner's public key: the signature does not verify.
    const claimed = JSON.stringify({ ...thief.registration(), public_key: node.publicKey });
    const r1 = await t.app.request(p, { method: 'POST', headers: thief.headers('POST', p, claimed), body: claimed });
    expect(r1.status).toBe(401);
    // Signed properly with its own key, but the id is taken.
    const r2 = await t.app.request(p, { method: 'POST', headers: thief.headers('POST', p, reg), body: reg });
    expect(r2.status).toBe(409);
    expect((await body(r2)).error).toMatch(/registered with another public key/);
    // The owner may re-register (update) with the same key.
    expect(await register(t, node, { performance_score: 50 })).toBe(200);
  });

  it('the registry holds at most max_nodes active nodes (503 beyond)', async () => {
    const small = makeSigner({ network: { max_nodes: 1 } });
    try {
      expect(await register(small, new TestNode('a'))).toBe(201);
      expect(await register(small, new TestNode('b'))).toBe(503);
    } finally {
      small.close();
    }
  });
});

describe('inputs, artifacts and documents', () => {
  it('PUT stores a blob under its hash only; GET is for the node holding the lease', async () => {
    const bytes = new TextEncoder().encode('{"inputs":[]}');
    const hash = sha256Hex(bytes);
    const p = `/api/v1/inputs/${hash}`;
    // Signed by its requester: no task names it yet (tests/signer/uploads.test.ts covers who may upload).
    const requester = new TestRequester();
    const other = `/api/v1/inputs/${sha256Hex('other')}`;
    const bad = await t.app.request(other, { method: 'PUT', body: bytes, headers: requester.headers('PUT', other) });
    expect(bad.status).toBe(400);
    expect((await body(bad)).error).toMatch(/body sha256 is/);
    expect((await t.app.request(p, { method: 'PUT', body: bytes, headers: requester.headers('PUT', p) })).status).toBe(
      201,
    );
    expect((await t.app.request(p, { method: 'PUT', body: bytes })).status).toBe(200);
    expect((await t.app.request(p, { headers: node.headers('GET', p) })).status).toBe(403);
    addTasks(t, { inputHash: hash });
    await pull(node);
    const got = await t.app.request(p, { headers: node.headers('GET', p) });
    expect(got.status).toBe(200);
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);
  });

  it('serves a model artifact by the sha256 of its bytes', async () => {
    const dir = join(t.dir, 'models');
    mkdirSync(dir);
    const bytes = Buffer.from('not really onnx');
    writeFileSync(join(dir, 'm.onnx'), bytes);
    const local = makeSigner({ models: { dir } });
    try {
      const res = await local.app.request(`/api/v1/models/${sha256Hex(bytes)}/artifact`);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
      expect((await local.app.request(`/api/v1/models/${sha256Hex('nope')}/artifact`)).status).toBe(404);
    } finally {
      local.close();
    }
  });

  it('413 for a body over the limit, in the envelope', async () => {
    const big = 'x'.repeat(10_000);
    const res = await t.app.request(`/api/v1/inputs/${sha256Hex(big)}`, { method: 'PUT', body: big });
    expect(res.status).toBe(413);
    expect((await body(res)).error).toMatch(/larger than 4096 bytes/);
  });

  it('/metrics, /openapi.json and the offline /docs page', async () => {
    const m = await t.app.request('/metrics');
    expect(await m.text()).toMatch(/signer_http_requests_total/);
    const doc = await (await t.app.request('/openapi.json')).json();
    expect(Object.keys(doc.paths)).toContain('/api/v1/tasks/complete');
    expect(
      doc.paths['/api/v1/nodes/register'].post.requestBody.content['application/json'].schema.properties,
    ).toHaveProperty('public_key');
    const page = await (await t.app.request('/docs')).text();
    expect(page).toMatch(/\/docs\/assets\/swagger-ui-dist\/swagger-ui-bundle\.js/);
    expect(page).not.toMatch(/cdn\./);
    const js = await t.app.request('/docs/assets/swagger-ui-dist/swagger-ui-bundle.js');
    expect(js.status).toBe(200);
    expect((await js.text()).length).toBeGreaterThan(100_000);
  });

  it('unknown routes and malformed JSON get 4xx envelopes that say what to do', async () => {
    const nf = await t.app.request('/api/v2/nothing');
    expect(nf.status).toBe(404);
    expect((await body(nf)).error).toMatch(/openapi\.json/);
    const p = '/api/v1/nodes/heartbeat';
    const res = await t.app.request(p, { method: 'POST', headers: node.headers('POST', p, '{oops'), body: '{oops' });
    expect(res.status).toBe(400);
    expect((await body(res)).error).toMatch(/JSON/);
    const bad = JSON.stringify({ node_id: 'node-1', status: 'sleepy' });
    const r2 = await t.app.request(p, { method: 'POST', headers: node.headers('POST', p, bad), body: bad });
    expect(r2.status).toBe(400);
    expect((await body(r2)).error).toMatch(/^body status: /);
  });
});
