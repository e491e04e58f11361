/**
 * The agent's configuration: config/node-agent.toml validated with zod (every key defaulted),
 * then environment variables, then CLI flags. Model paths in the file are relative to the file.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { CHAIN_ID, hex32, nodeId } from '../../protocol/index.js';
import { ENGINE_NAMES } from '../engine/index.js';
import { DEFAULT_MODELS } from '../models/defaults.js';

const agent = z
  .object({
    signer: z.url('must be the signer base URL, e.g. http://127.0.0.1:8080').default('http://127.0.0.1:8080'),
    key_file: z.string().min(1).default('~/.stacks-inference/node-agent.key'),
    node_id: z.union([z.literal(''), nodeId]).default(''),
    network: z.enum(['mainnet', 'testnet', 'devnet']).default('devnet'),
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
    max_input_bytes: z.number().int().min(1).default(16 * 1024 * 1024),
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
    api_url: z.union([z.literal(''), z.url('must be the Stacks node/API base URL, e.g. http://127.0.0.1:3999')]).default('http://127.0.0.1:3999'),
    escrow_contract: z
      .string()
      .regex(/^S[A-Z0-9]{39,40}\.[a-zA-Z][a-zA-Z0-9-]*$/, 'must be a contract principal like ST1...GZGM.inference-escrow')
      .default('ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.inference-escrow'),
    /** Prepaid accounts contract whose settler owes this key ('': `<escrow deployer>.accounts`). */
    accounts_contract: z.union([z.literal(''), z.string().regex(/^S[A-Z0-9]{39,40}\.[a-zA-Z][a-zA-Z0-9-]*$/, 'must be a contract principal like ST1...GZGM.accounts')]).default(''),
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
  .refine((m) => m.builtin || m.path, { message: 'each [[models]] entry needs builtin = "classifier"|"detector" or a path' });

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

/** The config file or an override is invalid; the message names the key and the fix. */
export class ConfigError extends Error {}

function envOverrides(env: NodeJS.ProcessEnv): Record<string, Record<string, unknown>> {
  const o: Record<string, Record<string, unknown>> = {};
  const set = (section: string, key: string, value: unknown) => ((o[section] ??= {})[key] = value);
  const num = (name: string) => {
    const n = Number(env[name]);
    if (!Number.isFinite(n)) throw new ConfigError(`environment ${name}="${env[name]}" is not a number`);
    return n;
  };
  if (env.NODE_AGENT_SIGNER) set('agent', 'signer', env.NODE_AGENT_SIGNER);
  if (env.NODE_AGENT_KEY) set('agent', 'key_file', env.NODE_AGENT_KEY);
  if (env.NODE_AGENT_NODE_ID) set('agent', 'node_id', env.NODE_AGENT_NODE_ID);
  if (env.NODE_AGENT_NETWORK) set('agent', 'network', env.NODE_AGENT_NETWORK);
  if (env.NODE_AGENT_MODELS) set('agent', 'models_dir', env.NODE_AGENT_MODELS);
  if (env.NODE_AGENT_WORKERS) set('runtime', 'workers', num('NODE_AGENT_WORKERS'));
  if (env.NODE_AGENT_MAX_BATCH) set('runtime', 'max_batch', num('NODE_AGENT_MAX_BATCH'));
  if (env.NODE_AGENT_MAX_QUEUE_DELAY_MS) set('runtime', 'max_queue_delay_ms', num('NODE_AGENT_MAX_QUEUE_DELAY_MS'));
  if (env.NODE_AGENT_MAX_IN_FLIGHT) set('runtime', 'max_in_flight', num('NODE_AGENT_MAX_IN_FLIGHT'));
  if (env.NODE_AGENT_PULL_CONCURRENCY) set('client', 'pull_concurrency', num('NODE_AGENT_PULL_CONCURRENCY'));
  if (env.NODE_AGENT_STACKS_API !== undefined) set('chain', 'api_url', env.NODE_AGENT_STACKS_API);
  if (env.NODE_AGENT_ESCROW) set('chain', 'escrow_contract', env.NODE_AGENT_ESCROW);
  if (env.NODE_AGENT_STAKE) set('chain', 'stake', num('NODE_AGENT_STAKE'));
  if (env.NODE_AGENT_ACCOUNTS) set('chain', 'accounts_contract', env.NODE_AGENT_ACCOUNTS);
  if (env.NODE_AGENT_VOUCHER_INTERVAL_S) set('client', 'voucher_interval_s', num('NODE_AGENT_VOUCHER_INTERVAL_S'));
  return o;
}

/** Validates a config document after env overrides and flags. */
export function resolveConfig(doc: Record<string, unknown> = {}, overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = {}): AgentConfig {
  const merged: Record<string, unknown> = { ...doc };
  for (const [section, values] of Object.entries(envOverrides(env))) merged[section] = { ...((merged[section] as object) ?? {}), ...values };
  const agentSection = { ...((merged.agent as object) ?? {}) } as Record<string, unknown>;
  if (overrides.signer) agentSection.signer = overrides.signer;
  if (overrides.key) agentSection.key_file = overrides.key;
  if (overrides.models) agentSection.models_dir = overrides.models;
  if (overrides.nodeId) agentSection.node_id = overrides.nodeId;
  merged.agent = agentSection;
  if (overrides.stacksApi !== undefined) merged.chain = { ...((merged.chain as object) ?? {}), api_url: overrides.stacksApi };
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `config: ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid node-agent configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** Reads a TOML file (undefined = all defaults) and resolves it; model paths become absolute. */
export function loadConfig(path: string | undefined, overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let doc: Record<string, unknown> = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
    }
    try {
      doc = parseToml(text) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`config file ${path} is not valid TOML: ${(e as Error).message}`);
    }
    const base = dirname(resolve(path));
    for (const m of (doc.models as Record<string, unknown>[] | undefined) ?? []) {
      if (typeof m.path === 'string') m.path = resolve(base, expandHome(m.path));
    }
  }
  return resolveConfig(doc, overrides, env);
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
      name: m.name ?? known?.name ?? path.split('/').pop()!.replace(/\.onnx$/, ''),
      path,
      sha256: m.sha256 ?? known?.sha256,
      maxBatch: m.max_batch ?? known?.maxBatch,
      warmupShape: m.warmup_shape ?? known?.warmupShape ?? {},
    };
  });
}

/** The chain id node requests are signed for (the devnet signs like testnet). */
export function chainIdOf(network: AgentConfig['agent']['network']): number {
  return network === 'mainnet' ? CHAIN_ID.mainnet : CHAIN_ID.testnet;
}
