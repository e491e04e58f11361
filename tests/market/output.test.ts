/**
 * CLI progress is for a person at a terminal: rewritten in place there, and not printed at all when
 * stderr is piped or redirected (a line per poll would bury the result) or in --json mode.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Output } from '../../market/output.js';

const written = () => vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
afterEach(() => vi.restoreAllMocks());

describe('market progress', () => {
  it('is rewritten in place on a terminal', () => {
    const err = written();
    const out = new Output(false, true);
    out.progress('task 1 pending');
    out.progress('task 1 settled');
    out.done();
    expect(err.mock.calls.map((c) => c[0])).toEqual(['\r\x1b[2Ktask 1 pending', '\r\x1b[2Ktask 1 settled', '\n']);
  });

  it('prints nothing when piped, nor in --json mode', () => {
    const err = written();
    for (const out of [new Output(false, false), new Output(true, true)]) {
      for (let i = 0; i < 10; i++) out.progress(`poll ${i}`);
      out.done();
    }
    expect(err).not.toHaveBeenCalled();
  });
});
