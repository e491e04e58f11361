/**
 * Every error body the signer sends carries a code from protocol/errors whose status is the
 * response's: walks one representative refusal of each kind (routing, JSON, validation, body limit,
 * node and requester auth, task state, the error handler's non-ApiError cases, batch items, OIP).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HTTPException } from 'hono/http-exception';
import { ERROR_STATUS, isErrorCode, type ErrorCode } from '../../protocol/index.js';
import { createApp } from '../../signer/index.js';
import { markSilentNodesOffline } from '../../signer/nodes/index.js';
import { IllegalTransitionError, TaskNotFoundError } from '../../signer/tasks/state.js';
import { addTasks, body, makeSigner, register, TestNode, type TestSigner } from './helpers.js';

let t: TestSigner;
let node: TestNode;
beforeEach(async () => {
  t = makeSigner({ server: { body_limit_bytes: 4096 } });
  node = new TestNode('node-1');
  expect(await register(t, node)).toBe(201);
});
afterEach(() => t.close());

/** Asserts the response is a refusal in the envelope with `code`, and that the code's status is the response's. */
async function expectCode(res: Response, code: ErrorCode): Promise<void> {
  const b = await body(res);
  expect({ status: res.status, success: b.success, code: b.code }).toEqual({
    status: ERROR_STATUS[code],
    success: false,
    code,
  });
  expect(isErrorCode(b.code)).toBe(true);
  expect(b.error).toMatch(/\w/);
}

describe('every error body carries a known code', () => {
  it('routing, JSON, validation and body limits', async () => {
    await expectCode(await t.app.request('/api/v1/nope'), 'route_not_found');
    await expectCode(await t.app.request('/api/v1/stats', { method: 'DELETE' }), 'route_not_found');
    await expectCode(
      await t.app.request(...node.request('POST', '/api/v1/nodes/heartbeat', '{"node_id": ')),
      'invalid_json',
    );
    await expectCode(
      await t.app.request(...node.request('POST', '/api/v1/nodes/heartbeat', { node_id: 'node-1', status: 'dancing' })),
      'bad_request',
    );
    await expectCode(
      await t.app.request(...node.request('POST', '/api/v1/nodes/heartbeat', 'x'.repeat(5000))),
      'payload_too_large',
    );
  });

  it('node auth: unsigned, unknown node, offline node', async () => {
    await expectCode(await t.app.request('/api/v1/nodes/node-1/tasks'), 'unauthorized');
    const stranger = new TestNode('node-2');
    await expectCode(
      await t.app.request(...stranger.request('GET', '/api/v1/nodes/node-2/tasks')),
      'node_not_registered',
    );
    markSilentNodesOffline(t.s.store, Date.now() + 1, Date.now());
    await expectCode(await t.app.request(...node.request('GET', '/api/v1/nodes/node-1/tasks')), 'node_offline');
  });

  it('tasks: unknown task, result without a requester signature, batch items', async () => {
    await expectCode(await t.app.request('/api/v1/tasks/999999/status'), 'task_not_found');
    const [id] = addTasks(t, {});
    await expectCode(await t.app.request(`/api/v1/tasks/${id}/result`), 'requester_signature_required');
    const fake = node.result({ task_id: '424242', chain_task_id: '424242', input_hash: 'ab'.repeat(32) });
    const res = await t.app.request(...node.request('POST', '/api/v1/tasks/complete-batch', { results: [fake] }));
    expect(res.status).toBe(200);
    expect((await body(res)).data.results).toEqual([
      { task_id: '424242', success: false, http_status: 404, code: 'task_not_found', error: expect.any(String) },
    ]);
  });

  it('the console, the inference routes and the OIP routes', async () => {
    await expectCode(await t.app.request('/api/v1/admin/tokens'), 'unauthorized');
    await expectCode(await t.app.request('/api/v1/models/nope/infer', { method: 'POST', body: '{}' }), 'unauthorized');
    const oip = await t.app.request('/v2/models/nope/infer', { method: 'POST', body: '{}' });
    expect(oip.status).toBe(401);
    expect(await oip.json()).toMatchObject({ code: 'unauthorized', error: expect.any(String) });
  });

  it("the error handler's other errors: task state, hono's HTTPException, bugs", async () => {
    // A fresh app over the same services, with routes that throw what the handler must map.
    const app = createApp(t.s);
    app.get('/test/missing', () => {
      throw new TaskNotFoundError('7');
    });
    app.get('/test/illegal', () => {
      throw new IllegalTransitionError('7', 'settled', 'pending');
    });
    app.get('/test/gone', () => {
      throw new HTTPException(410, { message: 'gone' });
    });
    app.get('/test/bug', () => {
      throw new Error('boom');
    });
    await expectCode(await app.request('/test/missing'), 'task_not_found');
    await expectCode(await app.request('/test/illegal'), 'task_conflict');
    // A status no generic code names: a 4xx is bad_request (never a specific code that shares the status).
    const gone = await app.request('/test/gone');
    expect({ status: gone.status, code: (await body(gone)).code }).toEqual({ status: 410, code: 'bad_request' });
    await expectCode(await app.request('/test/bug'), 'internal');
  });
});
