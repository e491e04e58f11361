import { describe, expect, it } from 'vitest';
import type { CompleteOutcome } from '../../protocol/index.js';
import { ResultPoster } from '../../node-agent/loop/poster.js';
import type { Completion } from '../../node-agent/loop/task.js';

const completion = (id: string, outputJson = '{"outputs":[]}'): Completion => ({
  request: {
    task_id: id,
    confidence: null,
    inference_node_id: 'n',
    output_hash: 'a'.repeat(64),
    signature: 'b'.repeat(130),
  },
  outputJson,
});

/** A signer stand-in that records batches and answers each after `gate` opens. */
function recorder() {
  const batches: string[][] = [];
  let open: () => void = () => undefined;
  let gate = new Promise<void>((r) => (open = r));
  const send = async (batch: Completion[]): Promise<CompleteOutcome[]> => {
    batches.push(batch.map((c) => c.request.task_id));
    await gate;
    return batch.map((c) => ({ task_id: c.request.task_id, success: true, status: 'completed' }));
  };
  return {
    batches,
    send,
    release: () => {
      open();
      gate = new Promise<void>((r) => (open = r));
    },
  };
}

describe('ResultPoster', () => {
  it('sends at once when idle, and gathers results that finish while a post is in flight into the next one', async () => {
    const r = recorder();
    const poster = new ResultPoster(r.send, { maxItems: 64, maxBytes: 1 << 20, maxInFlight: 1 });
    const first = poster.post(completion('1'));
    await new Promise((res) => setImmediate(res));
    expect(r.batches).toEqual([['1']]);
    const rest = ['2', '3', '4'].map((id) => poster.post(completion(id)));
    r.release();
    await first;
    await new Promise((res) => setImmediate(res));
    r.release();
    expect((await Promise.all(rest)).map((o) => o.task_id)).toEqual(['2', '3', '4']);
    expect(r.batches).toEqual([['1'], ['2', '3', '4']]);
  });

  it('splits by item count and by output bytes, keeping order', async () => {
    const r = recorder();
    r.release();
    const poster = new ResultPoster(
      async (b) => {
        r.batches.push(b.map((c) => c.request.task_id));
        return b.map((c) => ({ task_id: c.request.task_id, success: true, status: 'completed' }));
      },
      { maxItems: 2, maxBytes: 3100, maxInFlight: 4 },
    );
    const big = 'x'.repeat(2000);
    await Promise.all(
      [completion('a'), completion('b'), completion('c'), completion('d', big), completion('e', big)].map((c) =>
        poster.post(c),
      ),
    );
    expect(r.batches).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('rejects every result of a batch whose request failed, and the refusal of one result reaches only that result', async () => {
    let fail = true;
    const poster = new ResultPoster(
      async (b) => {
        if (fail) throw new Error('signer unreachable');
        return b.map((c) =>
          c.request.task_id === 'bad'
            ? { task_id: 'bad', success: false as const, http_status: 409, code: 'task_conflict', error: 'not leased' }
            : { task_id: c.request.task_id, success: true as const, status: 'completed' as const },
        );
      },
      { maxItems: 64, maxBytes: 1 << 20, maxInFlight: 1 },
    );
    const failed = await Promise.allSettled([poster.post(completion('x')), poster.post(completion('y'))]);
    expect(failed.map((f) => f.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    const [good, bad] = await Promise.all([poster.post(completion('good')), poster.post(completion('bad'))]);
    expect(good).toMatchObject({ success: true });
    expect(bad).toMatchObject({ success: false, http_status: 409 });
  });

  it('refuses limits below one', () => {
    expect(() => new ResultPoster(async () => [], { maxItems: 0, maxBytes: 1, maxInFlight: 1 })).toThrow(/at least 1/);
  });
});
