import { describe, it, vi, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { commandArb, freshWorld, checkInvariants } from './escrow-model.js';

/** Sequences per run: 200 in `npm test`; `npm run fuzz` raises it with FUZZ_RUNS. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 200);

describe('inference-escrow under random sequences of submit / complete / reclaim / mine', () => {
  // simnet echoes every print event to stdout; thousands of them would bury the report
  beforeAll(() => void vi.spyOn(console, 'log').mockImplementation(() => {}));
  afterAll(() => vi.restoreAllMocks());

  it(`keeps STX conserved, pays only valid signatures, never pays and refunds one task, never refunds early (${RUNS} sequences)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands([commandArb], { maxCommands: 30 }), async (cmds) => {
        const world = await freshWorld();
        fc.modelRun(() => ({ model: world, real: {} }), cmds);
        checkInvariants(world);
      }),
      { numRuns: RUNS, ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}) },
    );
  }, 600_000);
});
