/**
 * accounts.clar under random sequences of deposits, authorizations signed off chain, settlements
 * (honest items, forged and high-s signatures, stale nonces, spends above the cap or the balance,
 * credits that do not add up), withdrawal requests and withdrawals, claims, voucher and receipt
 * challenges, bond top-ups and mined blocks. The model (accounts-model.ts) predicts every result.
 */
import { describe, it, vi, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { freshWorld, checkInvariants } from './accounts-model.js';
import { commandArb } from './accounts-commands.js';

/** Sequences per run: 30 in `npm test`; `npm run fuzz` raises it with FUZZ_RUNS. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 30);

describe('accounts under random sequences', () => {
  // simnet echoes every print event to stdout
  beforeAll(() => void vi.spyOn(console, 'log').mockImplementation(() => {}));
  afterAll(() => vi.restoreAllMocks());

  it(
    'no account is charged above the largest cap it signed; a payee claims at most credited + penalties; no withdrawal before its window, ' +
      'and an authorization signed before the request settles within it; every proven challenge is paid (bond permitting); ' +
      `the contract holds exactly the totals formula (${RUNS} sequences)`,
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
    Math.max(600_000, RUNS * 3_000),
  );
});
