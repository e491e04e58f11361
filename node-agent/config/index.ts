/**
 * The agent's configuration: config/node-agent.toml validated with zod (every key defaulted),
 * then environment variables, then CLI flags, through the loader every process shares
 * (protocol/config). Model paths in the file are relative to the file.
 */
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { hex32, nodeId } from '../../protocol/index.js';
import { LOCAL_API_URL, LOCAL_SIGNER_URL, contractPrincipal, networkName } from '../../protocol/index.js';
import { ConfigError, readTomlFile, resolveLayers, type ConfigSpec } from '../../protocol/index.js';
import { ENGINE_NAMES } from '../engine/index.js';
import { DEFAULT_MODELS } from '../models/index.js';
export { chainIdOf } from '../../protocol/index.js';

const agent = z
  .object({
    signer: z.url('must be the signer base URL, e.g. http://127.0.0.1:8080').default(LOCAL_SIGNER_URL),
    key_file: z.string().min(1).default('~/.stacks-inference/node-agent.key'),
    node_id: z.union([z.literal(''), nodeId]).default(''),
    network: networkName.default('devnet'),
    models_dir: z.string().default(''),
    endpoint: z.string().max(512).default(''),
    performance_score: z.number().min(0).max(1000).default(0),
  })
  .strict();

const runtime = z
  .object({
    engine: z.enum(ENGINE_NAMES as [string, ...string[]]).default('onnxruntime'),
    workers: z.number().int().min(0).max(64).default(0),
    intra_op_threads: z.number().int().min(0).max(64).default(0),
    max_batch: z.number().int().min(1).max(1024).default(16),
    max_queue_delay_ms: z.number().min(0).max(1000).default(2),
    max_in_flight: z.number().int().min(1).max(1024).default(32),
    max_input_bytes: z
      .number()
      .int()
      .min(1)
      .default(16 * 1024 * 1024),
    max_input_elements: z.number().int().min(1).default(4_000_000),
  })
  .strict();

const client = z
  .object({
    pull_wait_s: z.number().int().min(0).max(300).default(20),
    pull_concurrency: z.number().int().min(1).max(64).default(4),
    heartbeat_interval_ms: z.number().int().min(50).default(10_000),
    request_timeout_ms: z.number().int().min(100).default(60_000),
    backoff_base_ms: z.number().int().min(1).default(500),
    backoff_max_ms: z.number().int().min(1).default(30_000),
    /** How often `run` fetches, checks and saves the signer's payee voucher for this key (0: never). */
    voucher_interval_s: z.number().int().min(0).default(300),
  })
  .strict();

const chain = z
  .object({
    api_url: z
      .union([z.literal(''), z.url('must be the Stacks node/API base URL, e.g. http://127.0.0.1:3999')])
      .default(LOCAL_API_URL),
    escrow_contract: contractPrincipal('inference-escrow').default(
      'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.inference-escrow',
    ),
    /** Prepaid accounts contract whose settler owes this key ('': `<escrow deployer>.accounts`). */
    accounts_contract: z.union([z.literal(''), contractPrincipal('accounts')]).default(''),
    stake: z.number().int().min(0).default(0),
    max_tx_fee: z.number().int().min(1).default(100_000),
    confirm_timeout_s: z.number().int().min(1).default(120),
  })
  .strict();

const model = z
  .object({
    builtin: z.enum(Object.keys(DEFAULT_MODELS) as [keyof typeof DEFAULT_MODELS]).optional(),
    name: z.string().min(1).optional(),
    path: z.string().min(1).optional(),
    sha256: hex32.optional(),
    max_batch: z.number().int().min(1).max(1024).optional(),
    warmup_shape: z.record(z.string(), z.array(z.number().int().min(1))).optional(),
  })
  .strict()
  .refine((m) => m.builtin || m.path, {
    message: 'each [[models]] entry needs builtin = "classifier"|"detector" or a path',
  });

/** The zod schema of node-agent.toml. */
export const configSchema = z
  .object({
    agent: agent.prefault({}),
    runtime: runtime.prefault({}),
    client: client.prefault({}),
    chain: chain.prefault({}),
    models: z.array(model).default([{ builtin: 'classifier' }]),
  })
  .strict();

/** The validated configuration. */
export type AgentConfig = z.infer<typeof configSchema>;

/** A model to serve, with everything resolved. */
export interface ModelSpec {
  name: string;
  path: string;
  /** Expected sha256; the file is refused when it differs. */
  sha256?: string;
  maxBatch?: number;
  warmupShape: Record<string, number[]>;
}

/** Flags of `node-agent run` that override file and environment. */
export interface ConfigOverrides {
  signer?: string;
  key?: string;
  models?: string;
  nodeId?: string;
  /** Stacks node/API base URL (`--stacks-api`; "" = no chain). */
  stacksApi?: string;
}

export { ConfigError };

const num = (key: string) => ({ key, type: 'number' as const });
const spec: ConfigSpec<typeof configSchema> = {
  name: 'node-agent',
  schema: configSchema,
  env: {
    NODE_AGENT_SIGNER: 'agent.signer',
    NODE_AGENT_KEY: 'agent.key_file',
    NODE_AGENT_NODE_ID: 'agent.node_id',
    NODE_AGENT_NETWORK: 'agent.network',
    NODE_AGENT_MODELS: 'agent.models_dir',
    NODE_AGENT_WORKERS: num('runtime.workers'),
    NODE_AGENT_MAX_BATCH: num('runtime.max_batch'),
    NODE_AGENT_MAX_QUEUE_DELAY_MS: num('runtime.max_queue_delay_ms'),
    NODE_AGENT_MAX_IN_FLIGHT: num('runtime.max_in_flight'),
    NODE_AGENT_PULL_CONCURRENCY: num('client.pull_concurrency'),
    // Empty means "no chain", so it counts.
    NODE_AGENT_STACKS_API: { key: 'chain.api_url', keepEmpty: true },
    NODE_AGENT_ESCROW: 'chain.escrow_contract',
    NODE_AGENT_STAKE: num('chain.stake'),
    NODE_AGENT_ACCOUNTS: 'chain.accounts_contract',
    NODE_AGENT_VOUCHER_INTERVAL_S: num('client.voucher_interval_s'),
  },
  flags: {
    signer: 'agent.signer',
    key: 'agent.key_file',
    models: 'agent.models_dir',
    'node-id': 'agent.node_id',
    'stacks-api': 'chain.api_url',
  },
};

/** Validates a config document after env overrides and flags. */
export function resolveConfig(
  doc: Record<string, unknown> = {},
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = {},
  source = 'config',
): AgentConfig {
  const flags = {
    signer: overrides.signer || undefined,
    key: overrides.key || undefined,
    models: overrides.models || undefined,
    'node-id': overrides.nodeId || undefined,
    'stacks-api': overrides.stacksApi,
  };
  return resolveLayers(spec, { docs: [{ source, values: doc }], env, flags });
}

/** Reads a TOML file (undefined = all defaults) and resolves it; model paths become absolute. */
export function loadConfig(
  path: string | undefined,
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): AgentConfig {
  if (!path) return resolveConfig({}, overrides, env);
  const doc = readTomlFile(path);
  const base = dirname(resolve(path));
  for (const m of (doc.models as Record<string, unknown>[] | undefined) ?? []) {
    if (typeof m.path === 'string') m.path = resolve(base, expandHome(m.path));
  }
  return resolveConfig(doc, overrides, env, path);
}

/** `~/x` -> the home directory's x. */
export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? resolve(homedir(), p.slice(2)) : p;
}

/** The configured models with builtin entries filled in. */
export function modelSpecs(config: AgentConfig): ModelSpec[] {
  return config.models.map((m) => {
    const known = m.builtin ? DEFAULT_MODELS[m.builtin] : undefined;
    const path = m.path ?? known!.path;
    return {
      name:
        m.name ??
        known?.name ??
        path
          .split('/')
          .pop()!
          .replace(/\.onnx$/, ''),
      path,
      sha256: m.sha256 ?? known?.sha256,
      maxBatch: m.max_batch ?? known?.maxBatch,
      warmupShape: m.warmup_shape ?? known?.warmupShape ?? {},
    };
  });
}

/** The chain id node requests are signed for (the devnet signs like testnet). */
