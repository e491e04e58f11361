import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_TASKS_PER_CALL, sha256Hex } from '../../protocol/index.js';
import { getTask } from '../../signer/tasks/index.js';
import { addTasks, body, makeSigner, register, TestNode, TestRequester, type TestSigner } from './helpers.js';

let t: TestSigner;
let node: TestNode;
beforeEach(async () => {
  t = makeSigner({
    scheduler: { max_in_flight_per_node: 10, prefer_better_node_ms: 0 },
    server: { inline_input_max_bytes: 100 },
  });
  node = new TestNode('node-1');
  expect(await register(t, node)).toBe(201);
});
afterEach(() => t.close());

const pull = (query: string) => t.app.request(...node.request('GET', `/api/v1/nodes/${node.nodeId}/tasks${query}`));
const completeBatch = (results: unknown[]) =>
  t.app.request(...node.request('POST', '/api/v1/tasks/complete-batch', { results }));
const requester = new TestRequester();
/** Uploads an input as its requester would, before its task exists (a signed request). */
const put = (bytes: string | Uint8Array, type = 'application/json') => {
  const path = `/api/v1/inputs/${sha256Hex(bytes)}`;
  return t.app.request(path, {
    method: 'PUT',
    body: typeof bytes === 'string' ? bytes : new Uint8Array(bytes),
    headers: { 'content-type': type, ...requester.headers('PUT', path) },
  });
};

describe('pulling several tasks at once (?max=)', () => {
  it('leases up to max tasks, best first, in a list; the seed shape stays one task without max', async () => {
    const ids = addTasks(t, { priority: 0 }, { priority: 5 }, { priority: 1 }, {});
    const res = await pull('?max=3');
    expect(res.status).toBe(200);
    const tasks = (await body(res)).data as { task_id: string; priority: number }[];
    expect(tasks.map((x) => x.priority)).toEqual([5, 1, 0]);
    for (const x of tasks)
      expect(getTask(t.s.store, x.task_id)).toMatchObject({ status: 'in_progress', inference_node_id: 'node-1' });
    const one = (await body(await pull(''))).data;
    expect(Array.isArray(one)).toBe(false);
    expect(one.task_id).toBe(ids[3]);
    expect((await pull('?max=5')).status).toBe(204);
  });

  it('stops at the node in-flight limit', async () => {
    addTasks(t, ...Array.from({ length: 12 }, () => ({})));
    expect((await body(await pull('?max=64'))).data).toHaveLength(10);
    expect((await pull('?max=64')).status).toBe(204);
  });

  it('carries small inputs inline when asked, byte for byte: text as text (whatever its content type), other bytes as base64; large ones are fetched', async () => {
    const small = '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1.5]}]}';
    const large = JSON.stringify({
      inputs: [{ name: 'x', shape: [20], datatype: 'FP32', data: Array(20).fill(0.25) }],
    });
    expect(large.length).toBeGreaterThan(100);
    const binary = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]);
    for (const [text, type] of [
      [small, 'application/octet-stream'],
      [large, 'application/json'],
      [binary, 'application/octet-stream'],
    ] as const)
      expect((await put(text, type)).status).toBe(201);
    addTasks(t, { inputHash: sha256Hex(small) }, { inputHash: sha256Hex(large) }, { inputHash: sha256Hex(binary) });
    const tasks = (await body(await pull('?max=3&inline=true'))).data as { input_hash: string; input?: string }[];
    const byHash = new Map(tasks.map((x) => [x.input_hash, x.input]));
    expect(byHash.get(sha256Hex(small))).toBe(small);
    expect(sha256Hex(new TextEncoder().encode(byHash.get(sha256Hex(small))!))).toBe(sha256Hex(small));
    expect(byHash.get(sha256Hex(large))).toBeUndefined();
    expect(byHash.get(sha256Hex(binary))).toBeUndefined();
    const binaryTask = tasks.find((x) => x.input_hash === sha256Hex(binary)) as { input_base64?: string };
    expect(new Uint8Array(Buffer.from(binaryTask.input_base64!, 'base64'))).toEqual(binary);
  });

  it('answers framed when asked: one JSON line, then each distinct small input once, located by input_range', async () => {
    const small = '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1.5]}]}';
    const binary = new Uint8Array([0x7b, 0xff, 0x0a, 0x7d]);
    const large = 'x'.repeat(200);
    for (const b of [small, binary, large]) expect((await put(b)).status).toBe(201);
    addTasks(
      t,
      { inputHash: sha256Hex(small) },
      { inputHash: sha256Hex(binary) },
      { inputHash: sha256Hex(small) },
      { inputHash: sha256Hex(large) },
    );
    const path = `/api/v1/nodes/${node.nodeId}/tasks?max=4&inline=true`;
    const [url, init] = node.request('GET', path);
    const res = await t.app.request(url, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), accept: 'application/octet-stream' },
    });
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const bytes = new Uint8Array(await res.arrayBuffer());
    const end = bytes.indexOf(0x0a);
    const tasks = JSON.parse(new TextDecoder().decode(bytes.subarray(0, end))).data as {
      input_hash: string;
      input_range?: [number, number];
    }[];
    const rest = bytes.subarray(end + 1);
    expect(rest.length).toBe(small.length + binary.length);
    for (const task of tasks) {
      if (task.input_hash === sha256Hex(large)) expect(task.input_range).toBeUndefined();
      else
        expect(sha256Hex(rest.subarray(task.input_range![0], task.input_range![0] + task.input_range![1]))).toBe(
          task.input_hash,
        );
    }
  });

  it('refuses a max outside 1..64 or a bad inline flag, saying the range', async () => {
    const res = await pull(`?max=${MAX_TASKS_PER_CALL + 1}`);
    expect(res.status).toBe(400);
    expect((await body(res)).error).toMatch(/max: must be at most 64/);
    expect((await body(await pull('?max=0'))).error).toMatch(/max: must be at least 1/);
    expect((await body(await pull('?max=2&inline=yes'))).error).toMatch(/inline: must be true or false/);
  });
});

describe('posting several results at once (complete-batch)', () => {
  it('accepts the good results and refuses the bad ones one by one, with the status a single post would get', async () => {
    addTasks(t, {}, {}, {}, {});
    const tasks = (await body(await pull('?max=4'))).data as {
      task_id: string;
      chain_task_id: string;
      input_hash: string;
    }[];
    const good = [node.result(tasks[0]!), node.result(tasks[1]!)];
    const wrongHash = { ...node.result(tasks[2]!), output_hash: sha256Hex('not the output') };
    const forged = new TestNode('node-1').result(tasks[3]!);
    const unknown = { ...node.result({ task_id: '999', chain_task_id: '999', input_hash: tasks[0]!.input_hash }) };
    const res = await completeBatch([...good, wrongHash, forged, unknown]);
    expect(res.status).toBe(200);
    const outcomes = (await body(res)).data.results;
    expect(outcomes.map((o: { task_id: string }) => o.task_id)).toEqual([...tasks.map((x) => x.task_id), '999']);
    expect(outcomes.map((o: { success: boolean; http_status?: number }) => (o.success ? 'ok' : o.http_status))).toEqual(
      ['ok', 'ok', 400, 401, 404],
    );
    expect(outcomes[2].error).toMatch(/not the sha256 of the canonical JSON/);
    expect(getTask(t.s.store, tasks[0]!.task_id)!.status).toBe('completed');
    expect(getTask(t.s.store, tasks[1]!.task_id)!.status).toBe('completed');
    expect(getTask(t.s.store, tasks[2]!.task_id)!.status).toBe('in_progress');
    expect(getTask(t.s.store, tasks[3]!.task_id)!.status).toBe('in_progress');
    const again = (await body(await completeBatch([good[0]]))).data.results[0];
    expect(again).toMatchObject({ success: false, http_status: 409, error: expect.stringMatching(/accepted once/) });
  });

  it('refuses an empty batch and one over 64 results as a whole', async () => {
    expect((await body(await completeBatch([]))).error).toMatch(/at least one result/);
    const [id] = addTasks(t, {});
    const r = node.result({ task_id: id!, chain_task_id: id!, input_hash: sha256Hex('x') });
    const res = await completeBatch(Array(65).fill(r));
    expect(res.status).toBe(400);
    expect(getTask(t.s.store, id!)!.status).toBe('pending');
  });
});
