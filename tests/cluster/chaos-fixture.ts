/**
 * The chaos test's processes: `signer run` replicas on one database beside a devnet marketplace,
 * each started as `npm run signer` starts it (the compiled bundle), and node agents, each talking to
 * one replica only. A replica restarts on its own port, so its agent finds it again.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Marketplace } from '../../scripts/lib/marketplace.js';
import { startService, type Service } from '../../scripts/lib/services.js';
import { fundNodeKey } from '../../scripts/lib/funding.js';
import { DEV_ESCROW } from '../../scripts/lib/workload.js';
import { buildSigner, signerNodeFlags } from '../../scripts/build-signer.js';

/** One `signer run` process slot: a fixed port, started and killed again and again. */
export interface Replica {
  name: string;
  url: string;
  /** The running process, or null while it is down. */
  service: Service | null;
  start(): Promise<void>;
  /** SIGKILL, as a power cut. */
  kill(): Promise<void>;
}

/**
 * A replica of the marketplace's signer (same key, chain and config) on `database`. The config is
 * the one startMarketplace wrote (dataDir/signer.toml); `--database` names the shared database.
 */
export async function replica(m: Marketplace, name: string, port: number, database: string): Promise<Replica> {
  const url = `http://127.0.0.1:${port}`;
  const spec = {
    name,
    script: await buildSigner(),
    nodeFlags: signerNodeFlags(),
    args: [
      'run',
      '--config',
      join(m.dataDir, 'signer.toml'),
      '--database',
      database,
      '--api-port',
      String(port),
      '--api-host',
      '127.0.0.1',
    ],
    env: {
      SIGNER_CHAIN_ENABLED: 'true',
      SIGNER_CHAIN_API: m.devnetUrl,
      SIGNER_NETWORK: 'testnet',
      SIGNER_PRIVATE_KEY: m.roles.signer.privateKey,
      SIGNER_MODELS_DIR: join(m.dataDir, 'models'),
    },
    readyUrl: `${url}/health`,
    log: join(m.dataDir, 'logs', `${name}.log`),
  };
  const r: Replica = {
    name,
    url,
    service: null,
    async start() {
      r.service = await startService(spec);
    },
    async kill() {
      await r.service?.kill();
      r.service = null;
    },
  };
  await r.start();
  return r;
}

/**
 * A node agent (the bundled classifier, one inference worker) that talks to `signerUrl` only. Its
 * retries are capped at 1 s, so that it is back within a second of its replica's restart.
 */
export async function agent(m: Marketplace, name: string, signerUrl: string): Promise<Service> {
  const keyFile = join(m.dataDir, `${name}.key`);
  // The agent bonds its own stake when it starts, from its own address: fund that first.
  await fundNodeKey(m.devnetUrl, keyFile);
  const config = join(m.dataDir, `${name}.toml`);
  writeFileSync(config, '[client]\nbackoff_base_ms = 100\nbackoff_max_ms = 1000\n');
  const service = await startService({
    name,
    script: 'node-agent/cli.ts',
    args: [
      'run',
      '--config',
      config,
      '--signer',
      signerUrl,
      '--key',
      keyFile,
      '--models',
      join(m.dataDir, `${name}-models`),
      '--node-id',
      name,
      '--stacks-api',
      m.devnetUrl,
    ],
    env: { NODE_AGENT_NETWORK: 'devnet', NODE_AGENT_ESCROW: DEV_ESCROW, NODE_AGENT_WORKERS: '1' },
    log: join(m.dataDir, 'logs', `${name}.log`),
  });
  await registered(signerUrl, name);
  return service;
}

/** Waits until the signer lists the node as online (the agent has no port of its own). */
async function registered(signerUrl: string, nodeId: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${signerUrl}/api/v1/nodes`).catch(() => null);
    if (res?.ok) {
      const body = (await res.json()) as {
        data: { node_id: string; status: string }[] | { nodes: { node_id: string; status: string }[] };
      };
      const nodes = Array.isArray(body.data) ? body.data : body.data.nodes;
      if (nodes.some((n) => n.node_id === nodeId && n.status !== 'offline')) return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`node agent ${nodeId} did not register with ${signerUrl} within 90 s`);
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
