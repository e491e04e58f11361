/**
 * Transactions another replica races (issue 15): the other replica's commit lands between this
 * transaction's snapshot and its write, as when two replicas take the same request at once. On
 * PostgreSQL that write is a serialization failure and the whole body runs again: the answer must be
 * the one a second, sequential request gets (no unique violation, no 500), and what the body does
 * besides the database must happen once. PostgreSQL only: SQLite serializes writers, and its replicas
 * do not exist (a second SQLite connection waits for the lock instead).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { atomic, openDatabase, type SignerDatabase } from '../../signer/db/index.js';
import type { Services } from '../../signer/index.js';
import { registerNode } from '../../signer/nodes/index.js';
import { storeInput } from '../../signer/uploads/index.js';
import { taskHistory } from '../../signer/tasks/state.js';
import { addTasks, body, signerAt, testDatabaseLocation, TestNode, type TestSigner } from './helpers.js';

let dir: string;
let t: TestSigner;
let two: SignerDatabase;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'signer-races-'));
  const location = testDatabaseLocation(dir);
  t = signerAt(location, dir);
  two = openDatabase(location);
});
afterEach(() => {
  t.close();
  two.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs `fn` on this replica in a transaction whose snapshot is taken before `other` commits on the
 * second connection (first run only), as when both replicas take the same request at the same time.
 */
function racing<T>(s: Services, other: () => void, fn: () => T): { result: T; runs: number } {
  let runs = 0;
  const result = atomic(s.store.sqlite, () => {
    runs++;
    s.store.sqlite.prepare('select count(*) from inference_nodes').get();
    if (runs === 1) other();
    return fn();
  });
  return { result, runs };
}

describe('requests two replicas take at the same moment', () => {
  it('one node registering through both: the second answers as a repeated registration, not a 500', () => {
    const node = new TestNode('racer');
    const req = node.registration();
    const { result, runs } = racing(
      t.s,
      () => registerNode(two, req, 10),
      () => registerNode(t.s.store, req, 10),
    );
    expect(runs).toBe(2);
    expect(result.created).toBe(false);
    expect(result.node.public_key).toBe(node.publicKey);
  });

  it('one input uploaded through both: the second finds it stored', () => {
    const blob = { sha256: 'ab'.repeat(32), bytes: new Uint8Array([1, 2, 3]), contentType: 'application/json' };
    const other = { ...t.s, store: two } as Services;
    const { result, runs } = racing(
      t.s,
      () => expect(storeInput(other, { ...blob, uploader: null })).toBe(true),
      () => storeInput(t.s, { ...blob, uploader: null }),
    );
    expect(runs).toBe(2);
    expect(result).toBe(false);
  });

  it('a skipped spot check whose transaction runs again is counted once', async () => {
    const solo = new TestNode('solo');
    expect(await t.app.request(...solo.request('POST', '/api/v1/nodes/register', solo.registration()))).toHaveProperty(
      'status',
      201,
    );
    const [id] = addTasks(t, { sampleBps: 10_000 });
    const task = (await body(await t.app.request(...solo.request('GET', '/api/v1/nodes/solo/tasks')))).data;
    // Another replica touches the task once this transaction has read it: its write to the task then fails
    // with a serialization failure and the result's transaction runs again.
    const counter = t.s.metrics.spotChecks;
    const inc = counter.inc.bind(counter);
    let skipped = 0;
    counter.inc = ((labels: { outcome: string }) => {
      if (labels.outcome === 'skipped' && ++skipped === 1)
        two.sqlite.prepare('update inference_tasks set updated_at = updated_at + 1 where task_id = ?').run(id);
      inc(labels);
    }) as typeof counter.inc;
    const res = await t.app.request(...solo.request('POST', '/api/v1/tasks/complete', solo.result(task)));
    expect((await body(res)).data.status).toBe('completed');
    expect(taskHistory(t.s.store, id!).at(-1)!.reason).toContain('spot check skipped');
    expect(skipped).toBe(1);
  });
});
