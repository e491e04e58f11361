/**
 * The dashboard's all-time pass off the event loop on PostgreSQL (signer/dashboard/totals-worker.ts,
 * issue 15): the totals thread reads a postgres:// location with a `pg` client of its own, with
 * the assertions tests/signer/dashboard-totals.test.ts makes on a SQLite file (a stale poll
 * answers at once, the next poll gets the thread's totals, one pass at a time, closing stops the
 * thread), and payouts summed exactly past 2^53. Runs on its own server (or the signer-pg one).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllTimeTotals } from '../../signer/dashboard/all-time.js';
import { inferenceTasks, openDatabase, type SignerDatabase } from '../../signer/db/index.js';
import { pgBinaries, startPostgres, type PgServer } from '../pg/server.js';
import { insertDirectTask, PG_DIALECT, testDatabaseLocation } from './helpers.js';

const NOW = Date.UTC(2026, 0, 5, 12, 0, 30);
const REFRESH = 30_000;

describe.skipIf(!pgBinaries())('all-time totals on PostgreSQL', () => {
  let server: PgServer | null = null;
  let dir: string;
  let url: string;
  let store: SignerDatabase;
  let totals: AllTimeTotals;
  const lines: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'signer-dashboard-totals-pg-'));
    if (PG_DIALECT) url = testDatabaseLocation(dir);
    else {
      server = await startPostgres();
      await server.createDatabase('totals');
      url = server.url('totals');
    }
    store = openDatabase(url);
    totals = new AllTimeTotals(store.sqlite, {
      refreshMs: REFRESH,
      log: pino({ level: 'warn' }, { write: (line: string) => lines.push(line) }),
    });
  });

  afterAll(async () => {
    await totals?.close();
    store?.close();
    server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a stale poll at once with the old totals, and a later poll with those the thread made', async () => {
    expect(totals.inline).toBe(false);
    insertDirectTask(store, 'd0', NOW);
    // The first poll has nothing to show yet: it waits for the first pass.
    const first = await totals.get(NOW);
    expect([first.byStatus.direct.pending, first.at]).toEqual([1, NOW]);
    expect(await totals.threads()).toBe(1);
    insertDirectTask(store, 'd1', NOW);
    const stale = await totals.get(NOW + REFRESH);
    expect([stale.byStatus.direct.pending, stale.at]).toEqual([1, NOW]);
    await totals.idle();
    const next = await totals.get(NOW + REFRESH + 3_000);
    expect([next.byStatus.direct.pending, next.at]).toEqual([2, NOW + REFRESH]);
    expect(totals.lastPassMs).toBeGreaterThan(0);
    // Made by the thread: a failed one would have left the pass inline and said so.
    expect(lines.join('')).not.toMatch(/totals thread failed/);
  });

  it('runs one pass at a time: polls while it runs neither wait nor start another', async () => {
    const at = NOW + 10 * REFRESH;
    const polls = await Promise.all([1, 2, 3].map((i) => totals.get(at + i * 1_000)));
    expect(polls.map((p) => p.at)).toEqual([NOW + REFRESH, NOW + REFRESH, NOW + REFRESH]);
    await totals.idle();
    expect((await totals.get(at + 4_000)).at).toBe(at + 1_000);
  });

  it('sums node payouts exactly past 2^53, by node, largest first', async () => {
    const settled = (task_id: string, node: string | null, payout: string) => ({
      task_id,
      user_address: 'ST000',
      fee: '1',
      infer_fee: '1',
      max_infer_time: 60_000,
      model_type: 'cls',
      status: 'settled',
      created_at: NOW,
      updated_at: NOW,
      artifact_hash: 'a',
      input_hash: 'a',
      privacy: 'standard',
      inference_node_id: node,
      node_payout: payout,
    });
    store.db
      .insert(inferenceTasks)
      .values([
        settled('s1', 'n1', '9007199254740993'),
        settled('s2', 'n1', '1'),
        settled('s3', 'n2', '5'),
        settled('s4', null, '2'),
      ])
      .run();
    const at = NOW + 20 * REFRESH;
    await totals.get(at);
    await totals.idle();
    const t = await totals.get(at + 1_000);
    expect(t.at).toBe(at);
    expect(t.earnings).toEqual([
      { node_id: 'n1', settled_tasks: 2, payout: '9007199254740994' },
      { node_id: 'n2', settled_tasks: 1, payout: '5' },
      { node_id: '(unknown node)', settled_tasks: 1, payout: '2' },
    ]);
    expect([t.byStatus.chain.settled, t.byModel.get('cls')]).toEqual([4, 6]);
  });

  it('closing stops the thread and its connection', async () => {
    const sessions = async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const r = await c.query(
          "select count(*)::int n from pg_stat_activity where application_name = 'signer dashboard totals'",
        );
        return r.rows[0].n as number;
      } finally {
        await c.end();
      }
    };
    expect(await sessions()).toBe(1);
    await totals.close();
    expect(await totals.threads()).toBe(0);
    // The server notices the thread's socket closing a moment later.
    await expect.poll(sessions, { timeout: 5_000 }).toBe(0);
  });
});
