/**
 * Direct inference end to end: a token minted through the admin API calls the classifier that
 * the marketplace published on chain as `ppocr-cls`, and a real node agent answers: sync, async
 * (202, then the result), batch and the Open Inference Protocol path. Its outputs are what
 * onnxruntime computes in this process on the same input, and every call is metered.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_MODEL, classifierPath, type Marketplace } from '../../scripts/lib/marketplace.js';
import { mintApiToken } from '../../scripts/lib/tokens.js';
import { marketplace } from './helpers.js';

type Tensor = { name: string; shape: number[]; datatype: string; data: number[] };

let m: Marketplace;
let request: { inputs: Tensor[] };
let expected: Map<string, { dims: number[]; data: number[] }>;
let headers: Record<string, string>;
// The first call waits for the agent to fetch and load the model: a generous timeout.
const options = { timeout_ms: 60_000 };

beforeAll(async () => {
  const started = await marketplace();
  m = started.m;
  request = JSON.parse(readFileSync(started.input, 'utf8')) as { inputs: Tensor[] };
  const session = await ort.InferenceSession.create(classifierPath());
  const t = request.inputs[0];
  const out = await session.run({
    [session.inputNames[0]]: new ort.Tensor('float32', Float32Array.from(t.data), t.shape),
  });
  expected = new Map(
    Object.entries(out).map(([name, v]) => [name, { dims: [...v.dims], data: Array.from(v.data as Float32Array) }]),
  );
  await session.release();
  headers = {
    authorization: `Bearer ${await mintApiToken(m, { allowed_models: [DEMO_MODEL], rate_limit_per_minute: 0 })}`,
    'content-type': 'application/json',
  };
}, 240_000);
afterAll(async () => m?.stop(), 60_000);

/** The agent's outputs are onnxruntime's on the same input (float32 printed as JSON numbers). */
function expectClassifierOutputs(outputs: Tensor[]): void {
  expect(outputs.map((o) => o.name).sort()).toEqual([...expected.keys()].sort());
  for (const o of outputs) {
    const want = expected.get(o.name)!;
    expect(o.shape).toEqual(want.dims);
    o.data.forEach((v, i) => expect(v).toBeCloseTo(want.data[i], 5));
  }
}

const post = (path: string, body: unknown) =>
  fetch(`${m.signerUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });

describe('direct inference against a real node agent', () => {
  it('sync infer returns the signed result the agent computed', async () => {
    const res = await post(`/api/v1/models/${DEMO_MODEL}/infer`, { ...request, ...options });
    const b = (await res.json()) as {
      data: { model: string; version: number; outputs: Tensor[]; node_id: string; signature: string };
    };
    expect(res.status).toBe(200);
    expect(b.data).toMatchObject({ model: DEMO_MODEL, version: 1, node_id: 'node-1' });
    expect(b.data.signature).toMatch(/^[0-9a-f]{130}$/);
    expectClassifierOutputs(b.data.outputs);
  });

  it('async infer answers 202 with a result URL that gives the result once the agent is done', async () => {
    const res = await post(`/api/v1/models/${DEMO_MODEL}/infer?async=1`, { ...request, ...options });
    expect(res.status).toBe(202);
    const url = res.headers.get('location')!;
    let poll: Response;
    for (;;) {
      poll = await fetch(`${m.signerUrl}${url}`, { headers });
      if (poll.status !== 202) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(poll.status).toBe(200);
    expectClassifierOutputs(((await poll.json()) as { data: { outputs: Tensor[] } }).data.outputs);
  });

  it('batch-infer answers every request in order', async () => {
    const res = await post(`/api/v1/models/${DEMO_MODEL}/batch-infer`, {
      requests: [request, request, request],
      ...options,
    });
    expect(res.status).toBe(200);
    const results = ((await res.json()) as { data: { results: { success: boolean; data: { outputs: Tensor[] } }[] } })
      .data.results;
    expect(results).toHaveLength(3);
    for (const r of results) {
      expect(r.success).toBe(true);
      expectClassifierOutputs(r.data.outputs);
    }
  });

  it('the Open Inference Protocol path: ready, metadata, infer', async () => {
    expect((await fetch(`${m.signerUrl}/v2/health/ready`)).status).toBe(200);
    const meta = await (await fetch(`${m.signerUrl}/v2/models/${DEMO_MODEL}`)).json();
    expect(meta).toMatchObject({ name: DEMO_MODEL, versions: ['1'], platform: 'onnxruntime_onnx' });
    // Published with the market CLI, not the console: the signer read its inputs from the artifact file.
    expect(meta.inputs).toEqual([{ name: request.inputs[0].name, datatype: 'FP32', shape: [-1, 3, -1, -1] }]);
    const res = await post(`/v2/models/${DEMO_MODEL}/infer`, { id: 'e2e', ...request, parameters: options });
    expect(res.status).toBe(200);
    const b = (await res.json()) as { model_name: string; id: string; outputs: Tensor[] };
    expect(b).toMatchObject({ model_name: DEMO_MODEL, id: 'e2e' });
    expectClassifierOutputs(b.outputs);
  });

  it('every call is metered per token and model, and none is settled on chain', async () => {
    const db = new Database(join(m.dataDir, 'inference.db'), { readonly: true });
    try {
      const rows = db.prepare('select status, items, model, token_id from inference_logs order by id').all() as {
        status: string;
        items: number;
        model: string;
        token_id: number;
      }[];
      // The batch of 3 is three rows, one per request, as it spent three of the token's quota.
      expect(rows.map((r) => [r.status, r.items])).toEqual(Array.from({ length: 6 }, () => ['success', 1]));
      expect(new Set(rows.map((r) => `${r.model}/${r.token_id}`)).size).toBe(1);
      const direct = db
        .prepare("select status, settlement_txid from inference_tasks where source = 'direct'")
        .all() as { status: string; settlement_txid: string | null }[];
      expect(direct).toHaveLength(6);
      expect(direct.every((t) => t.status === 'completed' && t.settlement_txid === null)).toBe(true);
    } finally {
      db.close();
    }
  });
});
