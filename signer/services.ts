/**
 * What the HTTP routes, the sweeper, the watcher and the submitter share. Built once by
 * `createServices` and handed to the Hono app through its context.
 */
import type { Logger } from 'pino';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import type { TaskStatus } from '../protocol/index.js';
import type { SignerConfig } from './config/index.js';
import { chainIdOf } from './config/index.js';
import type { SignerDatabase } from './db/index.js';
import { Notifier } from './tasks/index.js';
import { replayCacheFor, type Replays } from './auth/index.js';
import { SignatureVerifier } from './auth/index.js';
import { createMetrics, type Metrics } from './metrics/index.js';
import { ArtifactIndex } from './models/index.js';
import { loginLimiterFor, type LoginThrottle } from './console/index.js';
import { announceSetup, ConsoleSetup } from './console/index.js';
import { Catalog } from './catalog/index.js';
import type { Chain } from './chain/index.js';
import { createLeader, type Leader } from './cluster/index.js';
import { DirectInference } from './inference/index.js';
import { NodeBonds } from './nodes/index.js';
import { PrepaidAccounts } from './accounts/index.js';
import { accountsEnabled } from './config/index.js';
import { AllTimeTotals } from './dashboard/index.js';
import { PolicyGuard } from './guard/index.js';

/** Shared state of one running signer. */
export interface Services {
  store: SignerDatabase;
  config: SignerConfig;
  log: Logger;
  /** Chain id result and request signatures are bound to. */
  chainId: number;
  /** Contract principal of inference-escrow. */
  escrow: string;
  /** Wakes long-polls when work appears. */
  pending: Notifier;
  /** Signatures already accepted (in memory; in the database on PostgreSQL, shared by replicas). */
  replay: Replays;
  /** Checks node signatures, on worker threads; closed with the services. */
  verifier: SignatureVerifier;
  metrics: Metrics;
  artifacts: ArtifactIndex;
  /** Failed console logins per address and per (username, address) (in memory, or the database on PostgreSQL; see console/login-limiter.ts). */
  loginLimiter: LoginThrottle;
  /** The console's one-time setup token while no admin exists (console/setup.ts). */
  consoleSetup: ConsoleSetup;
  /** Models, prices and versions: the chain's registry, or published console uploads without a chain. */
  catalog: Catalog;
  /**
   * Emits `ended` (task id, new status) when a node's attempt on a task ends: its result accepted
   * (`completed`), or the attempt failed (`pending` again, or `failed`). Direct inference wakes its
   * callers on it.
   */
  attempts: EventEmitter<{ ended: [taskId: string, status: TaskStatus] }>;
  /** Direct inference for API-token holders: the bounded queue of `source = 'direct'` tasks. */
  inference: DirectInference;
  /** Node bonds read from the escrow; null without a chain (an API-only signer pays nobody on chain, so it asks no bond). */
  bonds: NodeBonds | null;
  /** Last chain tip seen by the watcher (null before the first read or without a chain). */
  chain: { tipHeight: number | null };
  /** Whether this replica leads (watches the chain, settles): always on SQLite, by advisory lock on PostgreSQL (signer/cluster). */
  leader: Leader;
  /** Prepaid accounts (signer/accounts): null when accounts are disabled or there is no chain. */
  accounts: PrepaidAccounts | null;
  /** The dashboard's all-time totals, remade on a worker thread (dashboard/all-time.ts); closed with the services. */
  dashboardTotals: AllTimeTotals;
  /** The policy guard of clear-text inputs (`[guard]`). */
  guard: PolicyGuard;
  startedAt: number;
}

/** Options of `createServices`. */
export interface ServiceOptions {
  config: SignerConfig;
  store: SignerDatabase;
  log?: Logger;
  chainId?: number;
  escrow?: string;
  /** The chain the catalog reads and the console publishes on; none (the default) for API-only signers. */
  chain?: Chain | null;
}

/** Where the config says the signer listens, for the setup URL in the log ('' when the port is chosen at start). */
function baseUrlOf(config: SignerConfig): string {
  const { host, port } = config.server;
  if (port === 0) return '';
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${port}`;
}

/** Assembles the shared services around an open database. */
export function createServices(opts: ServiceOptions): Services {
  const { config } = opts;
  const services: Omit<Services, 'inference' | 'accounts' | 'dashboardTotals'> = {
    store: opts.store,
    config,
    // Redaction is a second line of defence: no code path logs the key or the config object.
    log:
      opts.log ??
      pino({
        level: config.log.level,
        name: 'signer',
        redact: ['private_key', '*.private_key', 'chain.private_key', 'privateKey', '*.privateKey'],
      }),
    chainId: opts.chainId ?? chainIdOf(config.chain.network),
    escrow: opts.escrow ?? config.chain.escrow_contract,
    pending: new Notifier(),
    replay: replayCacheFor(opts.store, config.auth.timestamp_window_ms),
    verifier: new SignatureVerifier(config.server.verify_threads),
    metrics: createMetrics(),
    artifacts: new ArtifactIndex(config.models.dir),
    // Next to the database actually open (tests hand in stores that are not at config.database.path), or in it on PostgreSQL.
    consoleSetup: ConsoleSetup.for(opts.store),
    loginLimiter: loginLimiterFor(opts.store, {
      maxPerPair: config.console.login_max_failures,
      maxPerAddress: config.console.login_max_failures_per_address,
      windowMs: config.console.login_window_ms,
    }),
    catalog: new Catalog({ store: opts.store, chain: opts.chain ?? null, cacheMs: config.models.catalog_cache_ms }),
    attempts: new EventEmitter(),
    chain: { tipHeight: null },
    leader: createLeader(opts.store),
    bonds: opts.chain ? new NodeBonds(opts.chain) : null,
    guard: new PolicyGuard(config.guard),
    startedAt: Date.now(),
  };
  // Without an admin, the console's setup token is made now and its URL logged (console/setup.ts).
  announceSetup(services.consoleSetup, opts.store, services.log, baseUrlOf(config));
  const accounts = opts.chain && accountsEnabled(config) ? new PrepaidAccounts(services, opts.chain) : null;
  const dashboardTotals = new AllTimeTotals(opts.store.sqlite, {
    location: opts.store.location,
    refreshMs: config.dashboard.totals_refresh_ms,
    log: services.log,
  });
  const withAccounts = Object.assign(services, { accounts, dashboardTotals });
  return Object.assign(withAccounts, { inference: new DirectInference(withAccounts) });
}
