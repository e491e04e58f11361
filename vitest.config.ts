import { defineConfig, type TestProjectConfiguration } from 'vitest/config';
import { vitestSetupFilePath, getClarinetVitestsArgv } from '@stacks/clarinet-sdk/vitest';
import { pgBinaries } from './tests/pg/server.js';

/**
 * Four projects: the Clarity suites run in clarinet's simnet environment (isolate: false, so a
 * fork's files share one simnet); the suites that start a devnet in their own process run in
 * `devnet` (see DEVNET_IN_PROCESS); everything else runs in plain node; and
 * the signer's suites run again on PostgreSQL (`signer-pg`), when the server binaries are installed.
 *
 * Vitest's default is one worker less than the cores, so one worker on a 2-core machine: the
 * suites then ran one after another although most of their time is spent waiting on child
 * processes (devnet, signer, agents) and timers. Every project runs on two workers, all in one
 * group: projects with different worker counts would need `sequence.groupOrder`, and vitest runs
 * groups one after the other, so one core idled while the contracts ran on a single fork, and
 * again while each group's longest file finished. Every suite that starts a server takes a free
 * port and a temp dir of its own, so two can run side by side.
 */

/**
 * Suites that start a devnet inside the test process (tests/devnet/helpers.ts tempDevnet, the
 * signer's chainFixture): they run in the `devnet` project. A devnet's start is clarinet-sdk's
 * simnet deploying the boot contracts and ours: 4-7 s of CPU in a new process, most of it the
 * wasm's code warming up, about 0.1 s in a process that has started one of the same genesis before
 * (devnet/simnet.ts acquireSimnet). Running them with isolate: false shares that across suites, but
 * is not yet reliable (see the project).
 */
const DEVNET_IN_PROCESS = [
  'tests/devnet/adapter.test.ts',
  'tests/devnet/burst.test.ts',
  'tests/devnet/clients.test.ts',
  'tests/devnet/execution.test.ts',
  'tests/devnet/idle-blocks.test.ts',
  'tests/devnet/logs.test.ts',
  'tests/devnet/rejections.test.ts',
  'tests/devnet/simnet.test.ts',
  'tests/market/accounts-devnet.test.ts',
  'tests/market/models.test.ts',
  'tests/market/sealed-bonds.test.ts',
  'tests/market/submit-validation.test.ts',
  'tests/node-agent/agent.test.ts',
  'tests/node-agent/bond.test.ts',
  'tests/signer/access-devnet.test.ts',
  'tests/signer/bonds.test.ts',
  'tests/signer/catalog.test.ts',
  'tests/signer/console-models.test.ts',
  'tests/signer/crash.test.ts',
  'tests/signer/devnet.test.ts',
  'tests/signer/guard-prepaid.test.ts',
  'tests/signer/metered-tokens-devnet.test.ts',
  'tests/signer/periods-crash.test.ts',
  'tests/signer/periods-devnet.test.ts',
  'tests/signer/prepaid-intake.test.ts',
  'tests/signer/watcher-paging.test.ts',
];

/** Suites that need a PostgreSQL server whatever the dialect: they run in `signer-pg` only. */
const PG_ONLY = [
  'tests/pg/**/*.test.ts',
  // Replicas, leader election and the chaos test exist only on PostgreSQL.
  'tests/cluster/**/*.test.ts',
  // The facade, the schema drift and `signer db copy` test PostgreSQL itself.
  'tests/signer/pg-facade.test.ts',
  'tests/signer/pg-schema.test.ts',
  'tests/signer/db-copy.test.ts',
  // Two connections racing inside one transaction's window: a second SQLite connection waits for the lock instead.
  'tests/signer/replica-races.test.ts',
  'tests/signer/intake-retry.test.ts',
];

/**
 * Signer suites `signer-pg` does not run again on PostgreSQL (seconds: vitest's results cache on
 * this 2-core machine, 2026-12-07; the subset left is ~260 file-seconds on SQLite). On PostgreSQL
 * a suite took 2-30x its SQLite time at load 15 (10:00-10:25 UTC), most for many small tests (state
 * 4 s -> 98 s, periods 1 s -> 27 s): each test database costs a clone (0.1-0.9 s) and a facade
 * open (0.3-0.9 s), each statement 5-20 ms at that load.
 */
const NOT_ON_PG = [
  // SQLite engine or file specific: a SIGKILLed signer recovering its SQLite file (78 s, 36 s),
  // EXPLAIN QUERY PLAN, the totals thread's second connection to the file.
  'tests/signer/crash.test.ts',
  'tests/signer/periods-crash.test.ts',
  'tests/signer/hot-queries.test.ts',
  'tests/signer/dashboard-totals.test.ts',
  // No database in them: a second run would test nothing new (config parses TOML and spawns the
  // CLI, 13 s; verify is the signature worker, 9 s; compiled runs the bundle on a SQLite file).
  'tests/signer/config.test.ts',
  'tests/signer/verify.test.ts',
  'tests/signer/compiled.test.ts',
  'tests/signer/console-onnx.test.ts',
  'tests/signer/dashboard-buckets.test.ts',
  'tests/signer/events.test.ts',
  'tests/signer/guard.test.ts',
  'tests/signer/stacks-api.test.ts',
  'tests/signer/pg-forms.test.ts',
  // Slow and devnet-bound, to keep `npm test` near 15 minutes; their statements run on PostgreSQL
  // in other suites too: watcher paging (79 s), the devnet end-to-end runs (access 11 s, metered
  // tokens 18 s, periods 14 s, devnet 10 s).
  'tests/signer/watcher-paging.test.ts',
  'tests/signer/*devnet.test.ts',
];

/**
 * What `npm test` runs again on PostgreSQL: the suites whose statements differ by dialect or that
 * replicas race on (task states, leasing, the group commit, results, tokens, console sessions and
 * the setup token, replay, prepaid intake and periods, uploads, the dashboard's PostgreSQL forms),
 * beside PG_ONLY. The whole signer suite on PostgreSQL (the rest adds ~170 file-seconds, mostly
 * HTTP and guard logic above the same statements) is `npm run test:pg` (SIGNER_PG_SUITES=all).
 */
const PG_CORE = [
  'tests/signer/state.test.ts',
  'tests/signer/results.test.ts',
  'tests/signer/complete-group.test.ts',
  'tests/signer/scheduler.test.ts',
  'tests/signer/routes.test.ts',
  'tests/signer/tokens.test.ts',
  'tests/signer/console-auth.test.ts',
  'tests/signer/shared-state.test.ts',
  'tests/signer/leader-solo.test.ts',
  'tests/signer/node-replay.test.ts',
  'tests/signer/prepaid-intake.test.ts',
  'tests/signer/periods.test.ts',
  'tests/signer/uploads.test.ts',
  'tests/signer/dashboard-accounts.test.ts',
  'tests/signer/dashboard-totals-pg.test.ts',
];

/** The PostgreSQL project, or null (said once) without the server binaries. */
function signerPg(): TestProjectConfiguration | null {
  if (!pgBinaries()) {
    console.warn(
      'PostgreSQL server binaries not found (apt-get install postgresql): the PostgreSQL suites were skipped',
    );
    return null;
  }
  return {
    test: {
      name: 'signer-pg',
      include: [...(process.env.SIGNER_PG_SUITES === 'all' ? ['tests/signer/**/*.test.ts'] : PG_CORE), ...PG_ONLY],
      exclude: [...NOT_ON_PG, 'node_modules/**'],
      environment: 'node',
      env: { SIGNER_TEST_DIALECT: 'postgres' },
      globalSetup: ['tests/pg/global-setup.ts'],
      pool: 'forks',
      maxWorkers: 2,
      testTimeout: 120_000,
      hookTimeout: 120_000,
    },
  };
}

const pgProject = signerPg();

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'contracts',
          include: ['tests/contracts/**/*.test.ts'],
          environment: 'clarinet',
          pool: 'forks',
          maxWorkers: 2,
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
          exclude: ['tests/contracts/**', 'node_modules/**', ...PG_ONLY, ...DEVNET_IN_PROCESS],
          environment: 'node',
          pool: 'forks',
          maxWorkers: 2,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'devnet',
          include: DEVNET_IN_PROCESS,
          environment: 'node',
          pool: 'forks',
          // The same worker count as every project: all run in one group and share two workers' slots.
          maxWorkers: 2,
          // Isolated again: sharing a worker's module state across these suites (isolate: false, 411 s
          // instead of 1,099 s for them) passed two clean-clone runs and failed the third, with
          // idle-blocks timing out and a market suite failing after another suite in the same worker.
          isolate: true,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      ...(pgProject ? [pgProject] : []),
    ],
  },
});
