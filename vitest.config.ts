import { defineConfig } from 'vitest/config';
import { vitestSetupFilePath, getClarinetVitestsArgv } from '@stacks/clarinet-sdk/vitest';

/**
 * Two projects: the Clarity suites run in clarinet's simnet environment (one fork, since
 * simnet is a process-wide singleton); everything else runs in plain node.
 *
 * Vitest's default is one worker less than the cores, so one worker on a 2-core machine: the
 * node suites then ran one after another although most of their time is spent waiting on
 * child processes (devnet, signer, agents) and timers. They run on two workers; every suite
 * that starts a server takes a free port and a temp dir of its own, so two can run side by side.
 * Projects with different worker counts need their own `sequence.groupOrder` (vitest runs the
 * groups one after the other): the contracts go first, on their single fork.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'contracts',
          include: ['tests/contracts/**/*.test.ts'],
          environment: 'clarinet',
          pool: 'forks',
          maxWorkers: 1,
          isolate: false,
          sequence: { groupOrder: 0 },
          setupFiles: [vitestSetupFilePath],
          environmentOptions: { clarinet: { ...getClarinetVitestsArgv() } },
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'node',
          include: ['tests/**/*.test.ts', 'protocol/**/*.test.ts'],
          exclude: ['tests/contracts/**', 'node_modules/**'],
          environment: 'node',
          pool: 'forks',
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
