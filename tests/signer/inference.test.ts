/**
 * Direct inference for API-token holders: requests become `direct` tasks that a node pulls and
 * completes with a signed result, like chain tasks, in a bounded priority queue with timeouts;
 * every request is metered in inference_logs. Tokens are minted through the admin API.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../protocol/index.js';
import { classifierPath } from '../../scripts/lib/marketplace.js';
import { consoleModels, inferenceLogs } from '../../signer/db/index.js';
import { createServices } from '../../signer/index.js';
import { DIRECT_TASK_ID_BASE } from '../../signer/inference/index.js';
import { submitBatch } from '../../signer/chain/submitter.js';
import { getTask, sweep } from '../../signer/tasks/index.js';
import { adminSession } from './console-helpers.js';
import {
  ARTIFACT_A,
  body,
  FLOAT_IO,
  makeSigner,
  publishConsoleModel,
  register,
  TestNode,
  type TestSigner,
} from './helpers.js';

const MODEL = 'model-a';
const input = (x = 1) => ({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [x, x + 1] }] });
const output = (y: number) => ({ outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [y] }] });

let t: TestSigner;
let node: TestNode;
let token: string;

const publish = (s: TestSigner, name = MODEL, sha256 = ARTIFACT_A) => publishConsoleModel(s, name, FLOAT_IO, sha256);

/** Mints an API token through the admin API (no rate limit unless asked). */
async function mintToken(s: TestSigner, settings: Record<string, unknown> = {}): Promise<string> {
  const admin = await adminSession(s);
  const res = await s.app.request('/api/v1/admin/tokens', {
    method: 'POST',
    headers: { ...admin.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'test', rate_limit_per_minute: 0, ...settings }),
  });
  const b = await body(res);
  if (res.status !== 201) throw new Error(`minting a token failed: ${res.status} ${b.error}`);
  return b.data.token as string;
}

const auth = (tok = token) => ({ authorization: `Bearer ${tok}`, 'content-type': 'application/json' });
const post = (path: string, payload: unknown, tok = token) =>
  t.app.request(path, {
    method: 'POST',
    headers: auth(tok),
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
const infer = (payload: unknown, query = '', model = MODEL) => post(`/api/v1/models/${model}/infer${query}`, payload);
const pull = (wait = 0) => t.app.request(...node.request('GET', `/api/v1/nodes/${node.nodeId}/tasks?wait=${wait}`));
const complete = (b: unknown) => t.app.request(...node.request('POST', '/api/v1/tasks/complete', b));

/** The node pulls one task (waiting for one if need be) and posts `y` as its output; returns the task it got. */
async function serveOne(
  y = 0.5,
): Promise<{ task_id: string; priority: number; input_hash: string; chain_task_id: string | null }> {
  const res = await pull(10);
  expect(res.status).toBe(200);
  const task = (await body(res)).data;
  const done = await complete(node.result(task, output(y)));
  expect(done.status).toBe(200);
  return task;
}

const logs = () => t.s.store.db.select().from(inferenceLogs).all();

beforeEach(async () => {
  t = makeSigner({ inference: { queue_size: 3, timeout_ms: 10_000, max_batch: 4 }, scheduler: { max_attempts: 1 } });
  node = new TestNode('node-1');
  expect(await register(t, node)).toBe(201);
  publish(t);
  token = await mintToken(t);
});
afterEach(() => {
  t.s.inference.close();
  t.close();
});

describe('POST /api/v1/models/{model}/infer', () => {
  it('waits for the node and returns its signed result; the task is direct and never settled', async () => {
    const pending = infer(input(3));
    const task = await serveOne(0.25);
    const res = await pending;
    expect(res.status).toBe(200);
    const b = await body(res);
    expect(b.data).toMatchObject({
      task_id: task.task_id,
      model: MODEL,
      version: 1,
      outputs: output(0.25).outputs,
      node_id: 'node-1',
    });
    expect(b.data.signature).toMatch(/^[0-9a-f]{130}$/);
    expect(BigInt(task.task_id) >= DIRECT_TASK_ID_BASE).toBe(true);
    expect(task.chain_task_id).toBeNull();
    const row = getTask(t.s.store, task.task_id)!;
    expect(row).toMatchObject({ source: 'direct', status: 'completed', priority: 5 });
    // The submitter leaves it alone: only escrowed tasks are settled.
    expect(await submitBatch(t.s, undefined as never, Date.now() + 3_600_000)).toBeNull();
    expect(logs()).toMatchObject([
      { status: 'success', http_status: 200, items: 1, model: MODEL, task_id: task.task_id },
    ]);
  });

  it('async: 202 with a Location, then 202 not ready, then 200 with the result; other tokens and unknown ids get 404', async () => {
    const res = await infer(input(), '?async=1');
    expect(res.status).toBe(202);
    const { task_id, result_url } = (await body(res)).data;
    expect(res.headers.get('location')).toBe(result_url);
    const notReady = await t.app.request(result_url, { headers: auth() });
    expect(notReady.status).toBe(202);
    expect((await body(notReady)).data).toMatchObject({ task_id, status: 'pending' });
    await serveOne(0.75);
    const done = await t.app.request(result_url, { headers: auth() });
    expect(done.status).toBe(200);
    expect((await body(done)).data).toMatchObject({ task_id, outputs: output(0.75).outputs });
    // The open task routes do not serve it: its result is the token holder's.
    for (const route of ['status', 'result'])
      expect((await t.app.request(`/api/v1/tasks/${task_id}/${route}`)).status).toBe(404);
    // Only the inference itself was counted: polling for its result spends no quota.
    expect(t.s.store.sqlite.prepare('select month_count from api_tokens where name = ?').get('test')).toEqual({
      month_count: 1,
    });
    const other = await mintToken(t, { name: 'other' });
    expect((await t.app.request(result_url, { headers: auth(other) })).status).toBe(404);
    const unknown = await t.app.request(`/api/v1/inference/${DIRECT_TASK_ID_BASE + 1n}`, { headers: auth() });
    expect(unknown.status).toBe(404);
    expect((await body(unknown)).error).toMatch(/no inference request/);
  });

  it('takes the highest priority first, then the oldest', async () => {
    const ids: Record<string, string> = {};
    for (const [name, priority] of [
      ['low', 1],
      ['high', 9],
      ['mid', 5],
    ] as const)
      ids[name] = (await body(await infer({ ...input(), priority }, '?async=1'))).data.task_id;
    const order = [(await serveOne()).task_id, (await serveOne()).task_id, (await serveOne()).task_id];
    expect(order).toEqual([ids.high, ids.mid, ids.low]);
  });

  it('times out with 504 saying no node serves the model, and the task leaves the queue', async () => {
    const lonely = 'model-b';
    publish(t, lonely, 'b'.repeat(64));
    const res = await infer({ ...input(), timeout_ms: 150 }, '', lonely);
    expect(res.status).toBe(504);
    const b = await body(res);
    expect(b.error).toMatch(/no node answered model "model-b" within 150 ms/);
    expect(b.error).toMatch(/no online node serves this model/);
    expect(t.s.inference.size).toBe(0);
    expect((await pull()).status).toBe(204);
    expect(logs()).toMatchObject([{ status: 'timeout', http_status: 504, model: lonely }]);
  });

  it('a timeout longer than inference.max_timeout_ms is a 400', async () => {
    const res = await infer({ ...input(), timeout_ms: 10_000_000 });
    expect(res.status).toBe(400);
    expect((await body(res)).error).toMatch(/timeout_ms: at most 60000 ms/);
  });

  it('a full queue answers 503 with Retry-After and a message, and meters the refusal', async () => {
    for (let i = 0; i < 3; i++) expect((await infer(input(), '?async=1')).status).toBe(202);
    const res = await infer(input(), '?async=1');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await body(res)).error).toMatch(/queue is full \(3 of 3 requests pending or running\)/);
    expect(logs()).toMatchObject([{ status: 'rejected', http_status: 503 }]);
    await serveOne();
    expect((await infer(input(), '?async=1')).status).toBe(202);
  });

  it('an unknown model is a 404 naming the published ones; a malformed tensor is a 400 before it queues', async () => {
    const res = await infer(input(), '', 'nope');
    expect(res.status).toBe(404);
    expect((await body(res)).error).toMatch(/model "nope" is not published.*published models: model-a/);
    const bad = await infer({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2] }] });
    expect(bad.status).toBe(400);
    expect((await body(bad)).error).toMatch(/inputs.0: tensor "x": shape \[1,3\] needs 3 elements but data has 2/);
    const wrongShape = await infer({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] });
    expect((await body(wrongShape)).error).toMatch(/input "x" must have shape \[-1,2\] \(-1: any size\), got \[1,3\]/);
    const wrongName = await infer({ inputs: [{ name: 'z', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] });
    expect((await body(wrongName)).error).toMatch(/the model has no input "z"; it takes "x" FP32 \[-1,2\]/);
    const notJson = await post(`/api/v1/models/${MODEL}/infer`, '{"inputs": [');
    expect(notJson.status).toBe(400);
    expect((await body(notJson)).error).toMatch(/body is not valid JSON/);
    expect(t.s.inference.size).toBe(0);
  });

  it('a node error report past max_attempts is a 422 with the reason', async () => {
    const pending = infer(input());
    const task = (await body(await pull(10))).data;
    await complete({ ...node.result(task, { error: 'input "x" must be FP32' }), error: 'input "x" must be FP32' });
    const res = await pending;
    expect(res.status).toBe(422);
    expect((await body(res)).error).toMatch(/could not run this input: .*must be FP32/);
    expect(logs()).toMatchObject([{ status: 'failed', http_status: 422 }]);
  });

  it('is described in /openapi.json, token-guarded', async () => {
    const doc = (await (await t.app.request('/openapi.json')).json()) as {
      paths: Record<string, Record<string, { security?: unknown }>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(doc.components.securitySchemes.apiToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const [path, method] of [
      [`/api/v1/models/{model}/infer`, 'post'],
      ['/api/v1/inference/{task_id}', 'get'],
      ['/api/v1/models/{model}/batch-infer', 'post'],
      ['/v2/models/{name}/infer', 'post'],
    ]) {
      expect(doc.paths[path]?.[method]?.security).toEqual([{ apiToken: [] }]);
    }
    expect(doc.paths['/v2/health/ready']).toBeDefined();
  });

  it('requests need a token', async () => {
    const res = await t.app.request(`/api/v1/models/${MODEL}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input()),
    });
    expect(res.status).toBe(401);
  });
});

describe('POST /api/v1/models/{model}/batch-infer', () => {
  it('answers each request in order with its own result, each metered as its own request', async () => {
    const pending = post(`/api/v1/models/${MODEL}/batch-infer`, { requests: [input(1), input(2)] });
    const first = await serveOne(0.1);
    const second = await serveOne(0.2);
    const res = await pending;
    expect(res.status).toBe(200);
    const results = (await body(res)).data.results;
    expect(results.map((r: { data: { task_id: string } }) => r.data.task_id)).toEqual([first.task_id, second.task_id]);
    expect(results.map((r: { success: boolean; data: { outputs: unknown } }) => [r.success, r.data.outputs])).toEqual([
      [true, output(0.1).outputs],
      [true, output(0.2).outputs],
    ]);
    expect(logs()).toMatchObject([
      { status: 'success', items: 1, http_status: 200, task_id: first.task_id },
      { status: 'success', items: 1, http_status: 200, task_id: second.task_id },
    ]);
  });

  it('refuses more than inference.max_batch requests, and a batch that does not fit the queue', async () => {
    const tooMany = await post(`/api/v1/models/${MODEL}/batch-infer`, {
      requests: Array.from({ length: 5 }, () => input()),
    });
    expect(tooMany.status).toBe(400);
    expect((await body(tooMany)).error).toMatch(/at most 4 requests per batch/);
    const full = await post(`/api/v1/models/${MODEL}/batch-infer`, {
      requests: Array.from({ length: 4 }, () => input()),
    });
    expect(full.status).toBe(503);
    expect((await body(full)).error).toMatch(/this batch needs 4 places/);
  });
});

describe('Open Inference Protocol (/v2)', () => {
  it('server metadata; health: live always, ready only with a node online', async () => {
    expect(await (await t.app.request('/v2')).json()).toEqual({
      name: 'stacks-inference-market',
      version: expect.any(String),
      extensions: [],
    });
    expect(await (await t.app.request('/v2/health/live')).json()).toEqual({ live: true });
    expect((await t.app.request('/v2/health/ready')).status).toBe(200);
    const empty = makeSigner();
    try {
      const res = await empty.app.request('/v2/health/ready');
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ ready: false, error: expect.stringMatching(/no node is online/) });
    } finally {
      empty.s.inference.close();
      empty.close();
    }
  });

  it('model metadata and readiness; unknown models are 404 with an error field', async () => {
    const meta = await (await t.app.request(`/v2/models/${MODEL}`)).json();
    expect(meta).toMatchObject({
      name: MODEL,
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1] }],
    });
    expect(await (await t.app.request(`/v2/models/${MODEL}/ready`)).json()).toMatchObject({ name: MODEL, ready: true });
    expect(await (await t.app.request(`/v2/models/${MODEL}/versions/1`)).json()).toEqual(meta);
    expect((await t.app.request(`/v2/models/${MODEL}/versions/1/ready`)).status).toBe(200);
    const old = await post(`/v2/models/${MODEL}/versions/2/infer`, input());
    expect(old.status).toBe(404);
    expect(await old.json()).toEqual({
      error: expect.stringMatching(/serves only its live version 1; version 2 is not served/),
      code: 'not_found',
    });
    const unknown = await t.app.request('/v2/models/nope');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      error: expect.stringMatching(/model "nope" is not published/),
      code: 'not_found',
    });
  });

  it('a model published without recorded inputs has them read from its artifact file, and requests are checked against them', async () => {
    const dir = join(t.dir, 'models');
    mkdirSync(dir);
    copyFileSync(classifierPath(), join(dir, 'cls.onnx'));
    const withFile = makeSigner({ models: { dir } });
    try {
      const now = Date.now();
      withFile.s.store.db
        .insert(consoleModels)
        .values({
          name: 'cls',
          sha256: sha256Hex(readFileSync(classifierPath())),
          size: 1,
          status: 'published',
          price: '0',
          version: 1,
          created_at: now,
          updated_at: now,
        })
        .run();
      const meta = await (await withFile.app.request('/v2/models/cls')).json();
      expect(meta).toMatchObject({
        inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }],
        outputs: [{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [-1, 2] }],
      });
      const res = await withFile.app.request('/api/v1/models/cls/infer', {
        method: 'POST',
        headers: auth(await mintToken(withFile)),
        body: JSON.stringify(input()),
      });
      expect(res.status).toBe(400);
      expect((await body(res)).error).toMatch(/inputs.0: input "x" must have shape \[-1,3,-1,-1\]/);
    } finally {
      withFile.s.inference.close();
      withFile.close();
    }
  });

  it('infer takes and gives the protocol shapes; errors are {"error", "code"}', async () => {
    const pending = post(`/v2/models/${MODEL}/infer`, { id: 'req-1', ...input(), parameters: { priority: 7 } });
    const task = await serveOne(0.9);
    expect(task.priority).toBe(7);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      model_name: MODEL,
      model_version: '1',
      id: 'req-1',
      outputs: output(0.9).outputs,
      parameters: { task_id: task.task_id, node_id: 'node-1' },
    });
    const bad = await post(`/v2/models/${MODEL}/infer`, { inputs: [] });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: expect.stringMatching(/inputs/), code: 'bad_request' });
    const anonymous = await t.app.request(`/v2/models/${MODEL}/infer`, {
      method: 'POST',
      body: JSON.stringify(input()),
    });
    expect(anonymous.status).toBe(401);
    expect(Object.keys(await anonymous.json())).toEqual(['error', 'code']);
  });
});

describe('with chain tasks', () => {
  it('the deadline sweep leaves direct tasks alone (they have no block deadline); their own timeout ends them', async () => {
    const { task_id } = (await body(await infer(input(), '?async=1'))).data;
    t.s.chain.tipHeight = 1_000_000;
    expect(sweep(t.s).timedOut).toEqual([]);
    expect(getTask(t.s.store, task_id)!.status).toBe('pending');
  });

  it('inference bodies have inference.max_body_bytes, not the global limit', async () => {
    const small = makeSigner({ server: { body_limit_bytes: 1024 }, inference: { max_body_bytes: 4096 } });
    try {
      const data = Array.from({ length: 600 }, (_, i) => i / 7);
      const over = await small.app.request(`/api/v1/models/${MODEL}/infer`, {
        method: 'POST',
        headers: auth(),
        body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 600], datatype: 'FP32', data }] }),
      });
      expect(over.status).toBe(413);
      expect((await body(over)).error).toMatch(/inference.max_body_bytes/);
      // Above the global limit but within the inference one: it reaches the token guard.
      const within = await small.app.request(`/api/v1/models/${MODEL}/infer`, {
        method: 'POST',
        headers: auth(),
        body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 200], datatype: 'FP32', data: data.slice(0, 200) }] }),
      });
      expect(within.status).toBe(401);
    } finally {
      small.s.inference.close();
      small.close();
    }
  });
});

describe('restart', () => {
  it('requests still queued keep their timeout in a new process on the same database', async () => {
    const res = await infer({ ...input(), timeout_ms: 200 }, '?async=1');
    const { task_id } = (await body(res)).data;
    t.s.inference.close();
    const again = createServices({ config: t.s.config, store: t.s.store, log: t.s.log, escrow: t.s.escrow });
    try {
      expect(again.inference.size).toBe(1);
      const ended = await again.inference.finished(task_id);
      expect(ended.status).toBe('timeout');
      expect(logs()).toMatchObject([{ status: 'timeout', task_id }]);
    } finally {
      again.inference.close();
      void again.verifier.close();
    }
  });
});
