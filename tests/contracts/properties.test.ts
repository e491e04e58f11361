import { describe, it, vi, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { freshWorld, checkInvariants } from './escrow-model.js';
import { commandArb } from './escrow-commands.js';

/** Sequences per run: 50 in `npm test` (each runs up to 30 steps); `npm run fuzz` raises it with FUZZ_RUNS. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 50);

describe('inference-escrow under random sequences of submit / complete / settle-redundant / bond / unbond / withdraw / admin / reclaim / mine', () => {
  // simnet echoes every print event to stdout; thousands of them would bury the report
  beforeAll(() => void vi.spyOn(console, 'log').mockImplementation(() => {}));
  afterAll(() => vi.restoreAllMocks());

  it(
    `conserves fees and stakes through slashing, pays only bonded unslashed keys with valid signatures and only a task's majority, ` +
      `keeps each task's fee terms whatever the admin does, never pays and refunds one task, never refunds early (${RUNS} sequences)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.commands([commandArb], { maxCommands: 30, size: 'max' }), async (cmds) => {
          const world = await freshWorld();
          fc.modelRun(() => ({ model: world, real: {} }), cmds);
          checkInvariants(world);
        }),
        { numRuns: RUNS, ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}) },
      );
    },
    // about 0.4 s per sequence in simnet; leave room on a shared machine
    Math.max(600_000, RUNS * 2_000),
  );
});
