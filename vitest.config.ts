import { defineConfig } from 'vitest/config';
import { vitestSetupFilePath, getClarinetVitestsArgv } from '@stacks/clarinet-sdk/vitest';

/**
 * Two projects: the Clarity suites run in clarinet's simnet environment (one fork, since
 * simnet is a process-wide singleton); everything else runs in plain node.
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
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
