/**
 * The node agent, assembled: key, worker pool, batcher, model store, signer client and loop.
 * `startAgent` is what `node-agent run` calls; tests and the e2e suite call it too.
 */
import { availableParallelism, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import type { RegisterNodeRequest } from '../protocol/index.js';
import { chainIdOf, expandHome, modelSpecs, type AgentConfig } from './config/index.js';
import { loadOrCreateKey, type NodeKey } from './keys/index.js';
import { WorkerPool } from './pool/index.js';
import { DynamicBatcher } from './batcher/index.js';
import { ModelStore, scanModels } from './models/index.js';
import { SignerClient } from './client/index.js';
import { Agent } from './loop/index.js';
import { BondClient, ensureBond, type NodeBond } from './chain/index.js';
import { PayeeClient, voucherFileOf, watchVoucherOnce } from './accounts/index.js';

export { loadConfig, resolveConfig, modelSpecs, ConfigError, type AgentConfig } from './config/index.js';
export { loadOrCreateKey, type NodeKey } from './keys/index.js';
export { WorkerPool, WorkerCrashedError, PoolClosedError } from './pool/index.js';
export { DynamicBatcher, isBatchable } from './batcher/index.js';
export { ModelStore, ModelRefusedError, scanModels, sha256File, DEFAULT_MODELS } from './models/index.js';
export { SignerClient, SignerError, backoffDelay } from './client/index.js';
export {
  Agent,
  computeTask,
  signResult,
  TaskFailure,
  type Completion,
  type TaskContext,
} from './loop/index.js';
export { encodeOutputs, confidenceOf } from './encode/index.js';
export {
  BondClient,
  BondError,
  NotFundedError,
  ensureBond,
  fundingHint,
  type NodeBond,
  type BondEvent,
} from './chain/index.js';
export { validateInput } from './validate/index.js';
export {
  PayeeClient,
  VoucherError,
  accountsContractOf,
  keepSaved,
  loadVoucher,
  saveVoucher,
  voucherFileOf,
  watchVoucherOnce,
  type CheckedVoucher,
} from './accounts/index.js';
export type { Engine, ModelInfo, Feeds, TensorMeta } from './engine/index.js';

/** Worker replacements within this window that make the node `degraded` (a crash loop, not one crash). */
const DEGRADED_WINDOW_MS = 5 * 60_000;
const DEGRADED_RESTARTS = 3;

/** The node id: configured, or derived from the payout address. */
export function nodeIdOf(config: AgentConfig, key: NodeKey): string {
  return config.agent.node_id || `node-${key.address.slice(0, 12).toLowerCase()}`;
}

/** Where `node-agent bench` stores its measurement: beside the key. */
export function benchFileOf(config: AgentConfig): string {
  return join(dirname(expandHome(config.agent.key_file)), 'bench.json');
}

/** The performance score to register with: configured, else measured by `node-agent bench`, else 100. */
export function performanceScoreOf(config: AgentConfig): number {
  if (config.agent.performance_score > 0) return config.agent.performance_score;
  const file = benchFileOf(config);
  if (existsSync(file)) {
    const score = (JSON.parse(readFileSync(file, 'utf8')) as { performance_score?: number }).performance_score;
    if (typeof score === 'number' && score > 0) return score;
  }
  return 100;
}

/**
 * Every `client.voucher_interval_s` (first at start): fetch the signer's voucher for this key,
 * check it against the settler key on chain, save it beside the key, and warn about the signer's
 * bond (see accounts/watchVoucherOnce). Returns the stop function.
 */
function watchVouchers(config: AgentConfig, key: NodeKey, log: Logger): () => void {
  if (!config.chain.api_url || config.client.voucher_interval_s === 0) return () => undefined;
  const client = new PayeeClient(config, key);
  const file = voucherFileOf(config);
  let busy = false;
  const tick = () => {
    if (busy) return;
    busy = true;
    watchVoucherOnce(client, config.agent.signer, file, log)
      .catch((e: Error) => log.warn({ err: e.message }, 'payee voucher check failed'))
      .finally(() => (busy = false));
  };
  tick();
  const timer = setInterval(tick, config.client.voucher_interval_s * 1000);
  timer.unref();
  return () => clearInterval(timer);
}

/** A running agent and its parts. */
export interface RunningAgent {
  agent: Agent;
  pool: WorkerPool;
  batcher: DynamicBatcher;
  store: ModelStore;
  key: NodeKey;
  nodeId: string;
  /** The key's active bond in the escrow (null when chain.api_url is empty: a signer without a chain). */
  bond: NodeBond | null;
  /** Stops the loop (saying offline), then the workers. */
  close(): Promise<void>;
}

/**
 * Checks the key's bond in the escrow and bonds `chain.stake` when it has none (the signer
 * registers only bonded keys, and the contract pays only them). Throws BondError (or
 * NotFundedError, with the address to fund) when the node cannot work.
 */
export async function bondOf(config: AgentConfig, key: NodeKey, log: Logger): Promise<NodeBond | null> {
  if (!config.chain.api_url) {
    log.warn(
      'chain.api_url is empty: not checking the bond (only a signer without a chain registers an unbonded node)',
    );
    return null;
  }
  const client = new BondClient(config.chain, config.agent.network, key);
  return ensureBond(client, BigInt(config.chain.stake), (e) => {
    if (e.kind === 'bonded') log.info({ stake: String(e.bond.stake), escrow: client.escrow }, 'node key is bonded');
    if (e.kind === 'bonding')
      log.info(
        { amount: String(e.amount), escrow: client.escrow, address: key.address },
        'node key has no bond: bonding its stake',
      );
    if (e.kind === 'mined')
      log.info({ txid: e.txid, stake: String(e.bond.stake) }, 'bond-node mined: the node key is bonded');
  });
}

/**
 * Builds every part from a config, checks (or makes) the key's bond, loads the models, and
 * starts the loop (registration retries in the background until the signer answers).
 */
export async function startAgent(
  config: AgentConfig,
  log: Logger = pino({ name: 'node-agent' }),
): Promise<RunningAgent> {
  const key = loadOrCreateKey(expandHome(config.agent.key_file), config.agent.network);
  if (key.created) log.info({ key_file: config.agent.key_file }, 'created a new node key');
  const nodeId = nodeIdOf(config, key);
  log.info({ node_id: nodeId, payout_address: key.address, public_key: key.publicKey }, 'node identity');
  // Before any worker starts: a node that cannot be paid should stop at once, saying why.
  const bond = await bondOf(config, key, log);

  const restarts: number[] = [];
  const pool = await WorkerPool.start({
    workers: config.runtime.workers,
    intraOpThreads: config.runtime.intra_op_threads,
    engine: config.runtime.engine,
    onReplace: (reason) => {
      restarts.push(Date.now());
      if (restarts.length > DEGRADED_RESTARTS) restarts.shift();
      log.error({ reason }, 'inference worker replaced');
    },
  });
  const batcher = new DynamicBatcher(pool, {
    maxBatch: config.runtime.max_batch,
    maxQueueDelayMs: config.runtime.max_queue_delay_ms,
  });
  const client = new SignerClient({
    baseUrl: config.agent.signer,
    nodeId,
    privateKey: key.privateKey,
    chainId: chainIdOf(config.agent.network),
    timeoutMs: config.client.request_timeout_ms,
  });

  const modelsDir = config.agent.models_dir ? expandHome(config.agent.models_dir) : '';
  const { models, refused } = await scanModels(modelSpecs(config), modelsDir);
  for (const r of refused) log.error(r, 'model refused');
  const host = { load: pool.load.bind(pool), register: batcher.register.bind(batcher) };
  const store = new ModelStore(
    host,
    models,
    modelsDir || join(dirname(expandHome(config.agent.key_file)), 'models'),
    (hash) => client.artifact(hash),
    (m, r) =>
      log.info(
        {
          model: m.name,
          artifact_hash: m.artifactHash,
          path: m.path,
          warmup_ms: Math.round(r.warmupMs),
          warmup_error: r.warmupError,
        },
        'model loaded',
      ),
  );
  // Load local models now, so warm-up happens before the first task rather than during it.
  for (const m of models) await store.ensure(m.artifactHash);

  const limits = { maxInputBytes: config.runtime.max_input_bytes, maxInputElements: config.runtime.max_input_elements };
  const registration = (): RegisterNodeRequest => ({
    node_id: nodeId,
    endpoint: config.agent.endpoint,
    public_key: key.publicKey,
    supported_models: store.served(),
    performance_score: performanceScoreOf(config),
    capabilities: {
      cpu_cores: availableParallelism(),
      memory_mb: Math.floor(totalmem() / 1024 / 1024),
      gpu_memory_mb: 0,
      max_batch: config.runtime.max_batch,
    },
  });
  const agent = new Agent(
    {
      client,
      registration,
      task: {
        nodeId,
        privateKey: key.privateKey,
        validate: (bytes, inputHash, info) => pool.validate(bytes, inputHash, info, limits),
        model: (hash) => store.ensure(hash),
        input: (hash, opts) => client.input(hash, opts),
        infer: (hash, feeds) => batcher.submit(hash, feeds),
        encode: (outputs, names, precision) => pool.encode(outputs, names, precision),
        openSealed: (sealed, inputHash) => pool.openSealed(key.privateKey, sealed, inputHash),
        sealOutput: (json, salt, replyTo) => pool.sealOutput(json, salt, replyTo),
      },
      // The signer leases only to `online` nodes, so one recovered crash must not take the node out of service.
      degraded: () => restarts.length >= DEGRADED_RESTARTS && Date.now() - restarts[0]! < DEGRADED_WINDOW_MS,
      log,
    },
    {
      pullWaitS: config.client.pull_wait_s,
      pullConcurrency: config.client.pull_concurrency,
      heartbeatIntervalMs: config.client.heartbeat_interval_ms,
      backoffBaseMs: config.client.backoff_base_ms,
      backoffMaxMs: config.client.backoff_max_ms,
      maxInFlight: config.runtime.max_in_flight,
    },
  );
  agent.start();
  const stopVouchers = watchVouchers(config, key, log);
  return {
    agent,
    pool,
    batcher,
    store,
    key,
    nodeId,
    bond,
    async close() {
      stopVouchers();
      await agent.stop();
      batcher.close();
      await pool.close();
    },
  };
}
