/**
 * `market reclaim` before the deadline says how many blocks are left and, on the devnet, that they
 * come on their own (npm start's devnet makes a block at least every 5 s); `market result` of a
 * refunded task says it was refunded rather than that its fee is still refundable. Stub context:
 * no chain, no signer.
 */
import { describe, expect, it } from 'vitest';
import { reclaim, result, status } from '../../market/commands/task.js';
import type { Context } from '../../market/context.js';
import { SignerRefusal } from '../../market/signer-client.js';
import type { ChainTask } from '../../protocol/index.js';

function stubContext(
  task: Partial<ChainTask>,
  opts: { tip?: number; network?: string; refusal?: SignerRefusal; signerStatus?: Record<string, unknown> },
) {
  const shown: string[] = [];
  return {
    config: { network: opts.network ?? 'devnet', contracts_address: 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM' },
    chain: {
      task: async () => ({ requester: 'ST1REQUESTER', fee: 10_000n, privacy: 0, ...task }) as ChainTask,
      tipHeight: async () => opts.tip ?? 0,
      call: async () => {
        throw new Error('no transaction may be sent');
      },
    },
    signer: {
      status: async () => opts.signerStatus ?? null,
      result: async () => {
        throw opts.refusal;
      },
    },
    wallet: () => ({ address: 'ST1REQUESTER' }),
    out: { result: (_json: unknown, lines: string[]) => shown.push(...lines), progress: () => {}, done: () => {} },
    shown,
  } as unknown as Context & { shown: string[] };
}

describe('market reclaim before the deadline', () => {
  it('says how many blocks are left and, on the devnet, that an idle chain still makes them', async () => {
    const ctx = stubContext({ status: 'pending', deadline: 139n }, { tip: 112 });
    await expect(reclaim(ctx, 8n)).rejects.toThrow(
      "task 8's deadline is block 139 and the tip is 112: reclaim once 28 more blocks are mined (the devnet npm start runs makes a block at least every 5 s, so within about 140 s)",
    );
    const last = stubContext({ status: 'pending', deadline: 139n }, { tip: 139, network: 'testnet' });
    await expect(reclaim(last, 8n)).rejects.toThrow(/tip is 139: reclaim once 1 more block is mined$/);
  });
});

describe('market result of a refunded task', () => {
  it('says the fee was refunded and the result is never released, keeping the code', async () => {
    const withheld = new SignerRefusal(
      'task 7 was not settled by its deadline (its fee is refundable with `market reclaim`)',
      409,
      'result_withheld',
    );
    const ctx = stubContext({ status: 'refunded', deadline: 94n }, { refusal: withheld });
    const err = await result(ctx, 7n).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignerRefusal);
    expect((err as SignerRefusal).code).toBe('result_withheld');
    expect((err as Error).message).toBe(
      'task 7 was not settled by its deadline and its fee was refunded: its result is never released',
    );
  });
});

describe('market status', () => {
  it("shows the signer's reason while the task is not done, and not once a node's result is in", async () => {
    const terms = { status: 'pending', deadline: 402n, model: 'm', ownerBps: 1000, treasuryBps: 500 } as const;
    const reason = 'lease of node-3 expired after 60000 ms without a result';
    const pending = stubContext(terms, { tip: 221, signerStatus: { status: 'pending', error: reason } });
    await status(pending, 10n);
    expect(pending.shown).toContain(`signer: pending (${reason})`);
    const settled = stubContext(
      { ...terms, status: 'paid' },
      { tip: 228, signerStatus: { status: 'settled', error: reason } },
    );
    await status(settled, 10n);
    expect(settled.shown).toContain('signer: settled');
  });
});
