/**
 * The queries that run on every sweep or request read an index, not the whole table: with
 * 100,000 tasks stored a full scan each second was the sweep's largest cost (bench:signer), and
 * the upload caps read every stored blob's bytes on each upload (40 s of CPU for 1,000 uploads in bench:e2e).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WAITING_CHECKS } from '../../signer/tasks/spot-checks.js';
import { UNCLAIMED_SQL } from '../../signer/uploads/index.js';
import { getTask, getTaskStatus } from '../../signer/tasks/state.js';
import { addTasks, makeSigner, type TestSigner } from './helpers.js';

let t: TestSigner;
afterEach(() => t.close());

/** The plan's lines, e.g. "SEARCH inference_tasks USING INDEX tasks_votes_idx (status=?)". */
function plan(sql: string, ...params: unknown[]): string[] {
  return (t.s.store.sqlite.prepare(`explain query plan ${sql}`).all(...params) as { detail: string }[]).map(
    (r) => r.detail,
  );
}

describe('hot queries', () => {
  it('the spot-check sweep reads only tasks with votes', () => {
    t = makeSigner();
    expect(plan(WAITING_CHECKS)).toEqual(['SEARCH inference_tasks USING INDEX tasks_votes_idx (status=?)']);
  });

  it('the upload caps read an index that holds what they sum, never the blobs', () => {
    t = makeSigner();
    // A blob is named by a task's input hash, or as a ciphertext sealed for one (signer/privacy): both by index.
    const lookup = [
      'SEARCH t USING COVERING INDEX tasks_input_idx (input_hash=?)',
      'CORRELATED SCALAR SUBQUERY 2',
      'SEARCH si USING INDEX sealed_inputs_blob_idx (ciphertext_sha256=?)',
      'SEARCH t USING INDEX tasks_input_idx (input_hash=?)',
    ];
    expect(plan(UNCLAIMED_SQL.by, 'ST1')).toEqual([
      'SEARCH b USING COVERING INDEX input_blobs_unclaimed_idx (uploader=?)',
      'CORRELATED SCALAR SUBQUERY 1',
      ...lookup,
    ]);
    expect(plan(UNCLAIMED_SQL.all)).toEqual([
      'SEARCH b USING COVERING INDEX input_blobs_unclaimed_idx (uploader>?)',
      'CORRELATED SCALAR SUBQUERY 1',
      ...lookup,
    ]);
  });

  it('a status read (what every client polls) reads neither the output, nor the input, nor the votes', () => {
    t = makeSigner();
    const [id] = addTasks(t, {});
    const status = getTaskStatus(t.s.store, id!)!;
    for (const large of ['output', 'user_input', 'votes', 'signature']) expect(status).not.toHaveProperty(large);
    const full = getTask(t.s.store, id!)!;
    for (const [k, v] of Object.entries(status)) expect(full[k as keyof typeof full]).toEqual(v);
  });
});
