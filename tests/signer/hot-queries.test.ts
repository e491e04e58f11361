/**
 * The queries that run on every sweep or request read an index, not the whole task table: with
 * 100,000 tasks stored a full scan each second was the sweep's largest cost (bench:signer).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WAITING_CHECKS } from '../../signer/tasks/spot-checks.js';
import { makeSigner, type TestSigner } from './helpers.js';

let t: TestSigner;
afterEach(() => t.close());

/** The plan's lines, e.g. "SEARCH inference_tasks USING INDEX tasks_votes_idx (status=?)". */
function plan(sql: string): string[] {
  return (t.s.store.sqlite.prepare(`explain query plan ${sql}`).all() as { detail: string }[]).map((r) => r.detail);
}

describe('hot queries', () => {
  it('the spot-check sweep reads only tasks with votes', () => {
    t = makeSigner();
    expect(plan(WAITING_CHECKS)).toEqual(['SEARCH inference_tasks USING INDEX tasks_votes_idx (status=?)']);
  });
});
