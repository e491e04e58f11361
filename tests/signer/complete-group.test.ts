/**
 * Results posted at the same time share one SQL commit (tasks/results.ts recordSoon): each is
 * still checked on its own and recorded in its own savepoint with its reason, so a refused one
 * does not sink the others, and none is answered before the commit.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { leaseUpTo } from '../../signer/tasks/scheduler.js';
import { taskHistory } from '../../signer/tasks/state.js';
import { PG_DIALECT, TestNode, addTasks, body, makeSigner, register, type TestSigner } from './helpers.js';

let t: TestSigner;
let node: TestNode;

beforeEach(async () => {
  t = makeSigner({ scheduler: { max_in_flight_per_node: 100 } });
  node = new TestNode('node-1');
  expect(await register(t, node)).toBe(201);
});
afterEach(() => t.close());

/** Pages written to the WAL by `work` (one frame per page per commit). */
async function walFrames(work: () => Promise<unknown>): Promise<number> {
  t.s.store.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  await work();
  return (t.s.store.sqlite.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0]!.log;
}

/**
 * PostgreSQL has no WAL to read per database, and each result's rows carry its savepoint's own
 * xid as `xmin`: the COMMITs the facade sent while `work` ran are counted instead.
 */
async function commits(work: () => Promise<unknown>): Promise<number> {
  const exec = vi.spyOn(t.s.store.sqlite, 'exec');
  try {
    await work();
    return exec.mock.calls.filter(([sql]) => sql === 'commit').length;
  } finally {
    exec.mockRestore();
  }
}

const complete = (task: { task_id: string; chain_task_id: string | null; input_hash: string }, tamper = false) => {
  const result = node.result(task);
  return t.app.request(
    ...node.request(
      'POST',
      '/api/v1/tasks/complete',
      tamper ? { ...result, signature: node.result({ ...task, input_hash: '00'.repeat(32) }).signature } : result,
    ),
  );
};

describe('POST /api/v1/tasks/complete at the same time', () => {
  it('records concurrent results in one commit, each with its reason, and refuses a bad one alone', async () => {
    addTasks(t, ...Array.from({ length: 40 }, () => ({})));
    const leased = leaseUpTo(t.s, node.nodeId, 40);
    expect(leased).toHaveLength(40);
    const [one, many] = [leased.slice(0, 20), leased.slice(20)];
    const measure = PG_DIALECT ? commits : walFrames;
    const alone = await measure(async () => {
      for (const task of one) expect((await complete(task)).status).toBe(200);
    });
    let answers: Response[] = [];
    const together = await measure(async () => {
      answers = await Promise.all(many.map((task, i) => complete(task, i === 7)));
    });
    expect(answers.map((r) => r.status)).toEqual(many.map((_, i) => (i === 7 ? 401 : 200)));
    expect((await body(answers[7]!)).error).toMatch(/signature does not verify/);
    if (PG_DIALECT) {
      // One result after another is a commit each; the 20 posted together share one.
      expect(alone).toBe(one.length);
      expect(together).toBe(1);
    } else {
      // One commit for 19 results writes each shared page (event log, node row, index pages) once, not 19 times.
      expect(together).toBeLessThan(alone / 3);
    }
    for (const [i, task] of many.entries()) {
      const last = taskHistory(t.s.store, task.task_id).at(-1)!;
      expect(last.to_status).toBe(i === 7 ? 'in_progress' : 'completed');
      if (i !== 7) expect(last.reason).toMatch(/^result from node-1 verified/);
    }
  });
});
