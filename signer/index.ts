/**
 * The signer service: the coordinator that carries every task from chain to settlement.
 * `startSigner` opens the database, serves the HTTP API and runs the background loops.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Logger } from 'pino';
import type { Chain } from './chain/index.js';
import { resolveConfig, type SignerConfig, type SignerConfigInput } from './config/index.js';
import { openDatabase, redactUrl } from './db/index.js';
import { createApp } from './http/index.js';
import { startLoops } from './loops.js';
import { createServices, type Services } from './services.js';

export { createApp } from './http/index.js';
export { openDatabase, type SignerDatabase } from './db/index.js';
export { createServices, type Services } from './services.js';
export {
  loadConfig,
  resolveConfig,
  configSchema,
  ConfigError,
  type SignerConfig,
  type SignerConfigInput,
} from './config/index.js';
export type { Chain } from './chain/index.js';
export { ApiError } from './errors.js';

/** Options of `startSigner`. */
export interface StartOptions {
  /** A validated config, or a partial one to be defaulted. */
  config: SignerConfig | SignerConfigInput;
  /** The chain to watch and settle on; by default built from `config.chain` when enabled. */
  chain?: Chain | null;
  log?: Logger;
}

/** A running signer. */
export interface RunningSigner {
  url: string;
  services: Services;
  close(): Promise<void>;
}

async function chainFromConfig(config: SignerConfig): Promise<Chain | null> {
  if (!config.chain.enabled) return null;
  if (!config.chain.private_key)
    throw new Error('chain.enabled needs the signer key: set SIGNER_PRIVATE_KEY (or chain.private_key)');
  // Loaded only when a chain is used: API-only runs skip the API client's weight.
  const { StacksApiChain } = await import('./chain/stacks-api.js');
  return new StacksApiChain({
    apiUrl: config.chain.api_url,
    network: config.chain.network,
    escrowContract: config.chain.escrow_contract,
    privateKey: config.chain.private_key,
  });
}

/** Starts the signer: database (migrated), HTTP server, sweeper, watcher and submitter. */
export async function startSigner(opts: StartOptions): Promise<RunningSigner> {
  // Validating an already valid config is harmless, so both forms go through resolveConfig.
  const config = resolveConfig(opts.config);
  const chain = opts.chain === undefined ? await chainFromConfig(config) : opts.chain;
  const store = openDatabase(config.database.url);
  const services = createServices({
    config,
    store,
    log: opts.log,
    chainId: chain?.chainId,
    escrow: chain?.escrowContract,
    chain,
  });
  const app = createApp(services);
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const srv = serve({ fetch: app.fetch, port: config.server.port, hostname: config.server.host }, () => resolve(srv));
    srv.once('error', reject);
  });
  // Idle keep-alive connections outlive every client's own idle timeout (undici closes at 4 s), so
  // a client never sends a request on a socket the signer is closing: under load that race cut
  // POSTs off with "other side closed", and a POST is not retried.
  const http = server as unknown as { keepAliveTimeout: number; headersTimeout: number };
  http.keepAliveTimeout = 65_000;
  http.headersTimeout = 66_000;
  const { port } = server.address() as AddressInfo;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  const loops = startLoops(services, chain);
  services.log.info(
    { url, database: redactUrl(config.database.url), chain: chain ? chain.escrowContract : null },
    'signer started',
  );
  return {
    url,
    services,
    async close() {
      await Promise.all(loops.map((l) => l.stop()));
      // Long-polls would hold the server open for up to max_wait_seconds.
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([services.verifier.close(), services.dashboardTotals.close()]);
      store.close();
    },
  };
}
