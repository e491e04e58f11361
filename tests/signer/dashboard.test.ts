/**
 * The dashboard's queries on seeded rows: per-bucket counts by model and token, nearest-rank
 * p50/p95 per bucket and over the window, node earnings summed exactly, tasks by status and
 * source, settlement links, and the snapshot's model list.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiTokens, consoleModels, inferenceLogs, inferenceTasks, settlements } from '../../signer/db/index.js';
import { bucketStarts, bucketWindow, dashboardSnapshot, sharedSnapshot } from '../../signer/dashboard/index.js';
import { directCalls, directLatency, results, taskLatency } from '../../signer/dashboard/series.js';
import { earningsByNode, recentSettlements, taskTotals } from '../../signer/dashboard/tables.js';
import pino from 'pino';
import { randomPrivateKey } from '@stacks/transactions';
import { createServices, openDatabase, resolveConfig } from '../../signer/index.js';
import { StacksApiChain } from '../../signer/chain/stacks-api.js';
import {
  ARTIFACT_A,
  ESCROW,
  body,
  insertDirectTask,
  makeSigner,
  testDatabaseLocation,
  type TestSigner,
} from './helpers.js';
import { adminSession } from './console-helpers.js';

const MINUTE = 60_000;
// 12:00:30 on some day: the window's last bucket is 12:00-12:01.
const NOW = Date.UTC(2026, 0, 5, 12, 0, 30);
const THIS_MINUTE = Date.UTC(2026, 0, 5, 12, 0, 0);

let t: TestSigner;
beforeEach(() => {
  t = makeSigner({ dashboard: { bucket_seconds: 60, buckets: 3 } });
});
afterEach(() => t.close());

let seq = 0;
function log(row: Partial<typeof inferenceLogs.$inferInsert> & { created_at: number }) {
  t.s.store.db
    .insert(inferenceLogs)
    .values({ request_id: `r${seq++}`, model: 'cls', status: 'success', http_status: 200, ...row })
    .run();
}

function task(row: Partial<typeof inferenceTasks.$inferInsert>) {
  const id = `t${seq++}`;
  t.s.store.db
    .insert(inferenceTasks)
    .values({
      task_id: id,
      user_address: 'ST000',
      fee: '1000',
      infer_fee: '1000',
      max_infer_time: 60_000,
      model_type: 'cls',
      status: 'pending',
      created_at: THIS_MINUTE,
      updated_at: THIS_MINUTE,
      artifact_hash: ARTIFACT_A,
      input_hash: ARTIFACT_A,
      privacy: 'standard',
      ...row,
    })
    .run();
  return id;
}

function token(name: string): number {
  return Number(
    t.s.store.db
      .insert(apiTokens)
      .values({ name, token_hash: name, token_prefix: name, created_at: NOW, updated_at: NOW })
      .returning({ id: apiTokens.id })
      .get().id,
  );
}

describe('buckets', () => {
  it('ends with the bucket holding now and starts count buckets earlier', () => {
    const w = bucketWindow(NOW, MINUTE, 3);
    expect(bucketStarts(w)).toEqual([THIS_MINUTE - 2 * MINUTE, THIS_MINUTE - MINUTE, THIS_MINUTE]);
    expect(w.end).toBe(THIS_MINUTE + MINUTE);
    expect(() => bucketWindow(NOW, 0, 3)).toThrow(/bucket size/);
  });

  it('counts direct calls per model and per token in their minute, leaving out refused calls and older rows', () => {
    const a = token('alice');
    const gone = 999;
    log({ model: 'cls', token_id: a, created_at: THIS_MINUTE - 2 * MINUTE + 5 });
    log({ model: 'cls', token_id: a, created_at: THIS_MINUTE + 10 });
    log({ model: 'cls', token_id: a, created_at: THIS_MINUTE + 20 });
    log({ model: 'det', token_id: gone, created_at: THIS_MINUTE - MINUTE });
    log({ model: 'cls', token_id: a, created_at: THIS_MINUTE, status: 'rejected', http_status: 429 });
    log({ model: 'cls', token_id: a, created_at: THIS_MINUTE - 3 * MINUTE });
    const w = bucketWindow(NOW, MINUTE, 3);
    expect(directCalls(t.s.store.sqlite, w)).toEqual({
      byModel: { cls: [1, 0, 2], det: [0, 1, 0] },
      byToken: { alice: [1, 0, 2], [`token #${gone}`]: [0, 1, 0] },
    });
  });

  it('counts results per source, with both sources present even when idle, and on-chain results per model', () => {
    task({ status: 'completed', completed_at: THIS_MINUTE + 1, source: 'direct' });
    task({ status: 'settled', completed_at: THIS_MINUTE - MINUTE, source: 'chain', model_type: 'det' });
    task({ status: 'pending' });
    expect(results(t.s.store.sqlite, bucketWindow(NOW, MINUTE, 3))).toEqual({
      bySource: { chain: [0, 1, 0], direct: [0, 0, 1] },
      chainByModel: { det: [0, 1, 0] },
    });
  });
});

/** Each value within the histogram's 1.25% of the exact one (nulls where expected). */
function expectNear(actual: (number | null)[], expected: (number | null)[]) {
  expect(actual.map((v) => v === null)).toEqual(expected.map((v) => v === null));
  actual.forEach(
    (v, i) => v !== null && expect(Math.abs(v - expected[i]!)).toBeLessThanOrEqual(expected[i]! * 0.0125 + 0.5),
  );
}

describe('latency percentiles', () => {
  it('gives nearest-rank p50 and p95 per bucket within 1.25%, null for empty buckets, and over the window', () => {
    // 1..20 ms in this minute: p50 is the 10th value, p95 the 19th.
    for (let ms = 1; ms <= 20; ms++) log({ latency_ms: ms, created_at: THIS_MINUTE + ms });
    log({ latency_ms: 500, created_at: THIS_MINUTE - 2 * MINUTE });
    log({ latency_ms: 9_999, status: 'timeout', http_status: 504, created_at: THIS_MINUTE });
    const p = directLatency(t.s.store.sqlite, bucketWindow(NOW, MINUTE, 3));
    expectNear(p.p50, [500, null, 10]);
    expectNear(p.p95, [500, null, 19]);
    // 21 samples: ranks 11 and 20.
    expect(p.window).toEqual({ p50: 11, p95: 20, samples: 21 });
  });

  it('measures tasks from creation to result, in the bucket of the result', () => {
    task({ status: 'completed', created_at: THIS_MINUTE - 30_000, completed_at: THIS_MINUTE + 10_000 });
    task({ status: 'completed', created_at: THIS_MINUTE, completed_at: THIS_MINUTE + 100 });
    const p = taskLatency(t.s.store.sqlite, bucketWindow(NOW, MINUTE, 3));
    expectNear(p.p50, [null, null, 100]);
    expectNear(p.p95, [null, null, 40_000]);
  });
});

describe('earnings, tasks and settlements', () => {
  it('sums the payouts of settled tasks per node exactly, ignoring unsettled ones, and plots them when their transaction confirmed', () => {
    const big = 2n ** 60n;
    const txid = 'cc'.repeat(32);
    t.s.store.db
      .insert(settlements)
      .values({
        txid,
        kind: 'complete-tasks',
        status: 'confirmed',
        raw: '00',
        nonce: '1',
        task_ids: '[]',
        item_count: 3,
        created_at: NOW,
        updated_at: NOW,
      })
      .run();
    task({
      status: 'settled',
      inference_node_id: 'n1',
      node_payout: big.toString(),
      settled_at: THIS_MINUTE + 1,
      settlement_txid: txid,
    });
    task({
      status: 'settled',
      inference_node_id: 'n1',
      node_payout: '3',
      settled_at: THIS_MINUTE - MINUTE,
      settlement_txid: txid,
    });
    task({
      status: 'settled',
      inference_node_id: 'n2',
      node_payout: '850',
      settled_at: THIS_MINUTE,
      settlement_txid: txid,
    });
    task({ status: 'completed', inference_node_id: 'n2', node_payout: null });
    expect(taskTotals(t.s.store.sqlite).earnings).toEqual([
      { node_id: 'n1', settled_tasks: 2, payout: (big + 3n).toString() },
      { node_id: 'n2', settled_tasks: 1, payout: '850' },
    ]);
    expect(earningsByNode(t.s.store.sqlite, bucketWindow(NOW, MINUTE, 3)).n2).toEqual([0, 0, 850]);
  });

  it('counts tasks by status for each source and in all, and per model', () => {
    task({ status: 'pending', source: 'chain' });
    task({ status: 'pending', source: 'direct', model_type: 'det' });
    task({ status: 'settled', source: 'chain' });
    const { byStatus: c, byModel } = taskTotals(t.s.store.sqlite);
    expect([
      c.chain.pending,
      c.direct.pending,
      c.total.pending,
      c.chain.settled,
      c.direct.settled,
      c.total.failed,
    ]).toEqual([1, 1, 2, 1, 0, 0]);
    expect([...byModel]).toEqual(
      expect.arrayContaining([
        ['cls', 2],
        ['det', 1],
      ]),
    );
  });

  it('lists the newest settlements first with the chain API tx URL and the status URL of their tasks', () => {
    const tx = (txid: string, at: number, ids: string[]) =>
      t.s.store.db
        .insert(settlements)
        .values({
          txid,
          kind: 'complete-tasks',
          status: 'confirmed',
          raw: '00',
          nonce: '1',
          task_ids: JSON.stringify(ids),
          item_count: ids.length,
          created_at: at,
          updated_at: at,
        })
        .run();
    tx('aa'.repeat(32), NOW - 10, ['1', '2']);
    tx('bb'.repeat(32), NOW, ['3', '4', '5', '6', '7', '8']);
    const rows = recentSettlements(t.s.store.sqlite, 'http://127.0.0.1:3999/', 1);
    expect(rows).toHaveLength(1);
    expect(rows[0].tx_url).toBe(`http://127.0.0.1:3999/extended/v1/tx/0x${'bb'.repeat(32)}`);
    expect(rows[0].items).toBe(6);
    expect(rows[0].task_urls.map((u) => u.url)).toEqual(
      ['3', '4', '5', '6', '7'].map((id) => `/api/v1/tasks/${id}/status`),
    );
  });
});

describe('snapshot', () => {
  it('lists published models with price and version, models seen only in tasks, and no shares without a chain', async () => {
    t.s.store.db
      .insert(consoleModels)
      .values({
        name: 'cls',
        sha256: ARTIFACT_A,
        size: 10,
        status: 'published',
        price: '10000',
        version: 1,
        output_id: '1',
        created_at: NOW,
        updated_at: NOW,
      })
      .run();
    task({ model_type: 'cls', status: 'completed', completed_at: THIS_MINUTE + 5 });
    task({ model_type: 'old-model', status: 'failed' });
    log({ model: 'cls', created_at: THIS_MINUTE + 1 });
    const snap = await dashboardSnapshot(t.s, NOW);
    expect(snap.buckets).toHaveLength(3);
    expect(snap.shares).toBeNull();
    expect(snap.models.map((m) => [m.name, m.version, m.price, m.tasks, m.calls_in_window])).toEqual([
      ['cls', 1, '10000', 1, 2],
      ['old-model', null, null, 1, 0],
    ]);
    expect(snap.usage.totals).toEqual({ direct_calls: 1, chain_results: 1 });
  });

  it('on an in-memory database, counts tasks by status live and remakes the all-time split inline once stale', async () => {
    // No second connection can open ":memory:": the pass stays in the poll (a file: dashboard-totals.test.ts).
    const store = openDatabase(':memory:');
    const s = createServices({
      config: resolveConfig({ log: { level: 'silent' } }),
      store,
      log: pino({ level: 'silent' }),
    });
    const direct = () => insertDirectTask(store, `t${seq++}`, NOW);
    try {
      expect(s.dashboardTotals.inline).toBe(true);
      direct();
      expect((await dashboardSnapshot(s, NOW)).tasks.direct.pending).toBe(1);
      direct();
      const soon = (await dashboardSnapshot(s, NOW + 1_000)).tasks;
      expect([soon.total.pending, soon.direct.pending, soon.by_source_at]).toEqual([2, 1, NOW]);
      const later = (await dashboardSnapshot(s, NOW + 30_000)).tasks;
      expect([later.total.pending, later.direct.pending, later.by_source_at]).toEqual([2, 2, NOW + 30_000]);
      expect(await s.dashboardTotals.threads()).toBe(0);
    } finally {
      await Promise.all([s.verifier.close(), s.dashboardTotals.close()]);
      store.close();
    }
  });

  it("still shows the signer's own figures when the chain cannot be read, and says why models are missing", async () => {
    const store = openDatabase(testDatabaseLocation());
    const chain = new StacksApiChain({
      apiUrl: 'http://127.0.0.1:9',
      network: 'devnet',
      escrowContract: ESCROW,
      privateKey: randomPrivateKey(),
    });
    const s = createServices({
      config: resolveConfig({ log: { level: 'silent' } }),
      store,
      chain,
      log: pino({ level: 'silent' }),
    });
    try {
      store.db
        .insert(inferenceLogs)
        .values({ request_id: 'r', model: 'cls', status: 'success', http_status: 200, created_at: NOW })
        .run();
      const snap = await dashboardSnapshot(s, NOW);
      expect(snap.catalog_error).toMatch(/could not be read from the chain .*chain\.api_url/);
      expect([snap.models, snap.shares, snap.usage.totals.direct_calls]).toEqual([[], null, 1]);
    } finally {
      await s.verifier.close();
      store.close();
    }
  });

  it('is computed once per half refresh interval however many viewers ask', async () => {
    const first = await sharedSnapshot(t.s, NOW);
    expect(await sharedSnapshot(t.s, NOW + 1_000)).toBe(first);
    expect(await sharedSnapshot(t.s, NOW + 1_500)).not.toBe(first);
  });
});

describe('routes', () => {
  it('serves the JSON to a logged-in admin only', async () => {
    expect((await t.app.request('/api/v1/admin/dashboard')).status).toBe(401);
    const { headers } = await adminSession(t);
    log({ model: 'cls', created_at: Date.now() });
    const res = await t.app.request('/api/v1/admin/dashboard', { headers });
    expect(res.status).toBe(200);
    const { data } = await body(res);
    expect(data.usage.direct_by_model.cls.at(-1)).toBe(1);
    expect(data.refresh_ms).toBe(3000);
  });

  it('renders the page with the figures, the not-escrowed notice, the embedded snapshot and no inline script', async () => {
    const anonymous = await t.app.request('/console');
    expect(anonymous.status).toBe(303);
    const { headers } = await adminSession(t);
    t.s.store.db
      .insert(consoleModels)
      .values({
        name: '<b>x</b>',
        sha256: ARTIFACT_A,
        size: 10,
        status: 'published',
        price: '1500000',
        version: 2,
        output_id: '4',
        created_at: NOW,
        updated_at: NOW,
      })
      .run();
    const res = await t.app.request('/console', { headers });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/not escrowed on chain/);
    expect(html).toContain('1.5 STX');
    // Model names are data: escaped in the table and unable to close the JSON script element.
    expect(html).not.toContain('<b>x</b>');
    const json = html.match(/<script type="application\/json" id="dashboard-data">([^<]*)<\/script>/);
    expect(JSON.parse(json![1]).models[0].name).toBe('<b>x</b>');
    const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1]);
    expect(
      scripts.every((attrs) => /src="\/console\/assets\//.test(attrs) || /type="application\/json"/.test(attrs)),
    ).toBe(true);
  });

  it('is in the OpenAPI document, behind the admin session', async () => {
    const doc = (await (await t.app.request('/openapi.json')).json()) as {
      paths: Record<string, { get?: { security?: unknown } }>;
    };
    expect(doc.paths['/api/v1/admin/dashboard'].get?.security).toEqual([{ adminSession: [] }]);
  });

  it('serves uPlot and the dashboard script without a session, cacheable, with their content types', async () => {
    const js = await t.app.request('/console/assets/uplot.min.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(js.headers.get('cache-control')).toMatch(/max-age=\d+/);
    expect(await js.text()).toMatch(/uPlot/);
    const again = await t.app.request('/console/assets/uplot.min.js', {
      headers: { 'if-none-match': js.headers.get('etag')! },
    });
    expect(again.status).toBe(304);
    expect((await t.app.request('/console/assets/uplot.min.css')).headers.get('content-type')).toMatch(/^text\/css/);
    expect((await t.app.request('/console/assets/dashboard.js')).status).toBe(200);
  });
});
