/**
 * Who may read a result (issue 12, attack 3): only the task's on-chain requester, with a signed
 * request, and only once the settlement that pays for it is confirmed. A task that timed out,
 * failed or was refunded never releases its result, even when a node computed it. The status
 * stays public and never carries the output.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REQUESTER_AUTH_HEADERS, jsonHash, verifyTaskResult } from '../../protocol/index.js';
import { SECP256K1_HALF_N } from '../../protocol/index.js';
import { createTask, transition } from '../../signer/tasks/index.js';
import {
  ARTIFACT_A,
  ESCROW,
  TestNode,
  TestRequester,
  addTasks,
  body,
  makeSigner,
  register,
  type TestSigner,
} from './helpers.js';

let t: TestSigner;
let node: TestNode;
let alice: TestRequester;
let mallory: TestRequester;
/** An output no other field could contain by chance, to look for leaks. */
const OUTPUT = { outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [0.7315926535] }] };

beforeEach(async () => {
  t = makeSigner();
  node = new TestNode('node-1');
  alice = new TestRequester();
  mallory = new TestRequester();
  expect(await register(t, node)).toBe(201);
});
afterEach(() => t.close());

/** A task alice submitted, computed by the node: `completed`, not yet settled. */
async function completedTask(): Promise<string> {
  const [id] = addTasks(t, { requester: alice.address });
  const pulled = await body(await t.app.request(...node.request('GET', `/api/v1/nodes/${node.nodeId}/tasks`)));
  expect(pulled.data.task_id).toBe(id);
  const done = await t.app.request(...node.request('POST', '/api/v1/tasks/complete', node.result(pulled.data, OUTPUT)));
  expect(done.status).toBe(200);
  return id!;
}

function settle(id: string): void {
  const txid = 'ab'.repeat(32);
  transition(t.s.store, id, 'submitted', { reason: 'test batch', txid }, { settlement_txid: txid });
  transition(t.s.store, id, 'settled', { reason: 'test: confirmed', txid }, { settled_at: Date.now() });
}

const resultPath = (id: string) => `/api/v1/tasks/${id}/result`;
const read = (id: string, who?: TestRequester, headers?: Record<string, string>) =>
  t.app.request(resultPath(id), { headers: headers ?? (who ? who.headers('GET', resultPath(id)) : {}) });

describe('GET /api/v1/tasks/{id}/result', () => {
  it('refuses an unsigned request with requester_signature_required, even once settled', async () => {
    const id = await completedTask();
    const before = await read(id);
    expect(before.status).toBe(401);
    expect(await body(before)).toMatchObject({ success: false, data: null, code: 'requester_signature_required' });
    settle(id);
    const after = await read(id);
    expect(after.status).toBe(401);
    const b = await body(after);
    expect(b.code).toBe('requester_signature_required');
    expect(b.error).toMatch(/market result/);
    expect(JSON.stringify(b)).not.toContain('0.7315926535');
  });

  it('refuses another wallet with not_requester, naming both principals', async () => {
    const id = await completedTask();
    settle(id);
    const res = await read(id, mallory);
    expect(res.status).toBe(403);
    const b = await body(res);
    expect(b.code).toBe('not_requester');
    expect(b.error).toContain(alice.address);
    expect(b.error).toContain(mallory.address);
  });

  it('withholds a computed result from its own requester until the settlement is confirmed (result_not_settled)', async () => {
    const id = await completedTask();
    const completed = await read(id, alice);
    expect(completed.status).toBe(409);
    expect(await body(completed)).toMatchObject({ code: 'result_not_settled' });
    transition(t.s.store, id, 'submitted', { reason: 'test batch' }, { settlement_txid: 'cd'.repeat(32) });
    const submitted = await read(id, alice);
    expect(submitted.status).toBe(409);
    expect((await body(submitted)).error).toMatch(/is submitted; .*settled/);
  });

  it('serves the settled result to its requester, with a node signature that checks out', async () => {
    const id = await completedTask();
    settle(id);
    const res = await read(id, alice);
    expect(res.status).toBe(200);
    const r = (await body(res)).data;
    expect(r).toMatchObject({
      task_id: id,
      status: 'settled',
      output: OUTPUT,
      inference_node_id: 'node-1',
      node_public_key: node.publicKey,
      settlement_txid: 'ab'.repeat(32),
    });
    expect(r.output_hash).toBe(jsonHash(r.output));
    const task = (await body(await t.app.request(`/api/v1/tasks/${id}/status`))).data;
    expect(
      verifyTaskResult(
        { escrow: ESCROW, taskId: BigInt(id), inputHash: task.input_hash, outputHash: r.output_hash },
        0x80000000,
        r.signature,
        r.node_public_key,
      ),
    ).toBe(true);
  });

  it('never releases a result the node computed when the task was not settled by its deadline (timeout, then refund)', async () => {
    const id = await completedTask();
    transition(t.s.store, id, 'timeout', { reason: 'deadline block 1000 reached' });
    const res = await read(id, alice);
    expect(res.status).toBe(410);
    const b = await body(res);
    expect(b.code).toBe('result_withheld');
    expect(JSON.stringify(b)).not.toContain('0.7315926535');
    // Refunded on chain afterwards: still withheld.
    t.s.store.sqlite.prepare('update inference_tasks set reclaim_txid = ? where task_id = ?').run('ef'.repeat(32), id);
    expect((await body(await read(id, alice))).code).toBe('result_withheld');
  });

  it('never releases the result of a failed task', async () => {
    const id = await completedTask();
    transition(t.s.store, id, 'submitted', { reason: 'test batch' });
    transition(t.s.store, id, 'failed', { reason: 'complete-tasks refused the item' });
    expect((await body(await read(id, alice))).code).toBe('result_withheld');
  });

  it('refuses replayed, stale, malleated and mismatched signatures with requester_signature_invalid', async () => {
    const id = await completedTask();
    settle(id);
    const headers = alice.headers('GET', resultPath(id));
    expect((await read(id, undefined, headers)).status).toBe(200);
    const replay = await read(id, undefined, headers);
    expect(replay.status).toBe(401);
    expect(await body(replay)).toMatchObject({
      code: 'requester_signature_invalid',
      error: expect.stringMatching(/already used/),
    });
    // The same signature with the other recovery byte, or with s replaced by n - s, is the same request.
    const sig = alice.headers('GET', resultPath(id))[REQUESTER_AUTH_HEADERS.signature]!;
    const flipped = sig.slice(0, 128) + (sig.endsWith('00') ? '01' : '00');
    const highS =
      sig.slice(0, 64) +
      (2n * SECP256K1_HALF_N + 1n - BigInt(`0x${sig.slice(64, 128)}`)).toString(16).padStart(64, '0') +
      sig.slice(128);
    for (const s of [highS, flipped]) {
      const h = { ...alice.headers('GET', resultPath(id)), [REQUESTER_AUTH_HEADERS.signature]: s };
      const res = await read(id, undefined, h);
      expect(res.status).toBe(401);
      expect((await body(res)).code).toBe('requester_signature_invalid');
    }
    const stale = await read(id, undefined, alice.headers('GET', resultPath(id), Date.now() - 10 * 60_000));
    expect((await body(stale)).error).toMatch(/away from the signer's clock/);
    // Signed by mallory's key while naming alice's: does not verify.
    const forged = {
      ...mallory.headers('GET', resultPath(id)),
      [REQUESTER_AUTH_HEADERS.publicKey]: alice.headers('GET', resultPath(id))[REQUESTER_AUTH_HEADERS.publicKey]!,
    };
    const res = await read(id, undefined, forged);
    expect(res.status).toBe(401);
    expect((await body(res)).code).toBe('requester_signature_invalid');
    // Signed for another path (another task's result).
    const other = await read(id, undefined, alice.headers('GET', resultPath('12345')));
    expect((await body(other)).code).toBe('requester_signature_invalid');
  });

  it('404 for an unknown task and for a direct inference (read with its API token instead), whoever asks', async () => {
    expect((await read('999', alice)).status).toBe(404);
    const direct = {
      task_id: '1267650600228229401496703205377',
      chain_task_id: null,
      user_address: 'token:1',
      fee: '0',
      infer_fee: '0',
      max_infer_time: 1000,
      model_type: 'model-a',
      artifact_hash: ARTIFACT_A,
      input_hash: ARTIFACT_A,
      privacy: 'standard',
      source: 'direct',
    };
    expect(createTask(t.s.store, direct, 'test')).toBe(true);
    const res = await read(direct.task_id, alice);
    expect(res.status).toBe(404);
    expect((await body(res)).error).toMatch(/\/api\/v1\/inference\//);
  });
});

describe('GET /api/v1/tasks/{id}/status', () => {
  it('stays public and never carries the output, with or without history', async () => {
    const id = await completedTask();
    settle(id);
    for (const q of ['', '?history=true']) {
      const res = await t.app.request(`/api/v1/tasks/${id}/status${q}`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('"status":"settled"');
      expect(text).not.toContain('0.7315926535');
      expect(text).not.toContain('"output"');
    }
  });
});
