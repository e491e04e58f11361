/**
 * The devnet: a local Stacks chain for one machine. The project's contracts run in
 * @stacks/clarinet-sdk's simnet; in front of it an HTTP server takes real signed transactions and
 * serves the node/API subset that stacks.js and the project use. See docs/operations.md.
 */
import { rmSync } from 'node:fs';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { DevnetNode } from './node.js';
import { devnetApp } from './http/index.js';
import { devAccounts, type DevAccount } from './accounts.js';

export type { DevAccount } from './accounts.js';
export { loadDevnetConfig, type DevnetConfig } from './config.js';
export { FEE_SINK } from './vm.js';

/** Options of `startDevnet`; only `dataDir` is required. */
export interface StartDevnetOptions {
  dataDir: string;
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** 0 (default): a block per transaction. */
  blockTimeMs?: number;
  maxBlockTxs?: number;
  /** With a block per transaction: an empty block after this long without one (0, the default: never). */
  idleBlockMs?: number;
  manifestPath?: string;
  /** Delete the chain in `dataDir` first. */
  reset?: boolean;
}

/** A running devnet. */
export interface Devnet {
  /** Base URL for stacks.js (`client: { baseUrl }`), the blockchain-api-client and the signer. */
  url: string;
  port: number;
  accounts: DevAccount[];
  /** How long start-up took: simnet genesis, then the replay of the log. */
  replay: { genesisMs: number; ms: number; txs: number; blocks: number };
  /** Waits until every ready transaction has been mined (tests, benchmarks). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a devnet in this process: replays `dataDir`'s log, then listens on loopback. */
export async function startDevnet(opts: StartDevnetOptions): Promise<Devnet> {
  if (opts.reset) rmSync(opts.dataDir, { recursive: true, force: true });
  const node = await DevnetNode.open({
    manifestPath: opts.manifestPath ?? './Clarinet.toml',
    dataDir: opts.dataDir,
    blockTimeMs: opts.blockTimeMs ?? 0,
    maxBlockTxs: opts.maxBlockTxs,
    idleBlockMs: opts.idleBlockMs ?? 0,
  });
  const app = devnetApp(node);
  const host = opts.host ?? '127.0.0.1';
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: opts.port ?? 0, hostname: host }, () => resolve(s));
    s.once('error', reject);
  });
  // Clients drop idle sockets after about 4 s; a server that closes them at 5 s races a client
  // reusing one after a long block (a VM rebuild), which the client sees as ECONNRESET.
  (server as Server).keepAliveTimeout = 65_000;
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    accounts: devAccounts(opts.manifestPath ?? './Clarinet.toml', node.accounts(), (a) => node.balance(a)),
    replay: node.replayStats,
    idle: () => node.idle(),
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await node.close();
    },
  };
}
