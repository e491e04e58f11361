/**
 * The dashboard's all-time counters (migration 0009_dashboard_counters): whatever tasks are
 * inserted, moved between statuses, sources and models, settled with a payout, re-assigned or
 * deleted, the counters the triggers keep equal a count over inference_tasks itself.
 */
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TASK_STATUSES } from '../../protocol/index.js';
import { inferenceTasks } from '../../signer/db/index.js';
import { taskTotals } from '../../signer/dashboard/tables.js';
import { ARTIFACT_A, makeSigner, type TestSigner } from './helpers.js';

let t: TestSigner;
beforeEach(() => {
  t = makeSigner();
});
afterEach(() => t.close());

/** The same figures grouped from inference_tasks, as the dashboard did before the counters. */
function recount() {
  const sqlite = t.s.store.sqlite;
  const byStatus = sqlite.prepare('select source, status, count(*) n from inference_tasks group by source, status order by source, status').all();
  const byModel = sqlite.prepare('select model_type model, count(*) n from inference_tasks group by model_type order by model_type').all();
  const earnings = sqlite
    .prepare("select coalesce(inference_node_id, '(unknown node)') node_id, count(*) settled_tasks, sum(cast(node_payout as integer)) payout from inference_tasks where status = 'settled' and node_payout is not null group by 1 order by 3 desc, 1")
    .safeIntegers(true)
    .all() as { node_id: string; settled_tasks: bigint; payout: bigint }[];
  return { byStatus, byModel, earnings: earnings.map((e) => ({ node_id: e.node_id, settled_tasks: Number(e.settled_tasks), payout: e.payout.toString() })) };
}

function counted() {
  const totals = taskTotals(t.s.store.sqlite);
  const byStatus = (['chain', 'direct'] as const).flatMap((source) => TASK_STATUSES.filter((st) => totals.byStatus[source][st] > 0).sort().map((status) => ({ source, status, n: totals.byStatus[source][status] })));
  const byModel = [...totals.byModel].filter(([, n]) => n > 0).sort(([a], [b]) => (a < b ? -1 : 1)).map(([model, n]) => ({ model, n }));
  return { byStatus, byModel, earnings: totals.earnings };
}

describe('dashboard counters', () => {
  it('match a count over every task through inserts, transitions, settlements, re-assignments and deletes', () => {
    // A seeded generator: the same sequence every run. Payouts past 2^53 must still sum exactly.
    let seed = 7;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return (seed >>> 16) % n;
    };
    const ids: string[] = [];
    const db = t.s.store.db;
    for (let step = 0; step < 600; step++) {
      const op = ids.length === 0 ? 0 : rand(10);
      const status = TASK_STATUSES[rand(TASK_STATUSES.length)];
      const settled = status === 'settled';
      const payout = settled && rand(4) > 0 ? String(2n ** 55n + BigInt(rand(1000))) : null;
      const node = rand(5) === 0 ? null : `node-${rand(3)}`;
      if (op <= 3) {
        const id = `t${step}`;
        ids.push(id);
        const row = { task_id: id, user_address: 'ST000', fee: '1', infer_fee: '1', max_infer_time: 1, model_type: `m${rand(3)}`, status, created_at: step, updated_at: step, artifact_hash: ARTIFACT_A, input_hash: ARTIFACT_A, privacy: 'standard' };
        db.insert(inferenceTasks).values({ ...row, source: rand(2) ? 'chain' : 'direct', inference_node_id: node, node_payout: payout }).run();
      } else {
        const id = ids[rand(ids.length)];
        if (op <= 6) db.update(inferenceTasks).set({ status, node_payout: payout, inference_node_id: node }).where(eq(inferenceTasks.task_id, id)).run();
        else if (op === 7) db.update(inferenceTasks).set({ model_type: `m${rand(3)}`, source: rand(2) ? 'chain' : 'direct' }).where(eq(inferenceTasks.task_id, id)).run();
        else if (op === 8) db.update(inferenceTasks).set({ inference_node_id: node }).where(eq(inferenceTasks.task_id, id)).run();
        else {
          db.delete(inferenceTasks).where(eq(inferenceTasks.task_id, id)).run();
          ids.splice(ids.indexOf(id), 1);
        }
      }
    }
    const want = recount();
    expect(want.earnings.length).toBeGreaterThan(0);
    // Read from the counters, not from the tasks.
    expect((t.s.store.sqlite.prepare('select count(*) n from dashboard_task_counts where n > 0').get() as { n: number }).n).toBeGreaterThan(0);
    expect(counted()).toEqual(want);
  });
});
