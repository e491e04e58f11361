/**
 * The signer's configuration: a TOML file (config/signer.toml), validated with zod, every key
 * defaulted, then overridden by environment variables and CLI flags (in that order), through the
 * loader every process shares (protocol/config).
 */
import { z } from 'zod';
import { DEFAULT_MAX_INLINE_INPUT_BYTES, PRIVACY_MODES } from '../../protocol/index.js';
import { LOCAL_API_URL, contractPrincipal, networkName, privateKeyHex } from '../../protocol/index.js';
import { ConfigError, readTomlFile, resolveLayers, type ConfigSpec } from '../../protocol/index.js';
import { guardConfigSchema } from '../guard/index.js';

export { ConfigError };
/** The chain id SIP-018 signatures are bound to for a network name. */
export { chainIdOf } from '../../protocol/index.js';

const server = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    body_limit_bytes: z.number().int().min(1024).default(1_048_576),
    max_wait_seconds: z.number().int().min(0).max(300).default(30),
    verify_threads: z.number().int().min(0).max(64).default(1),
    inline_input_max_bytes: z.number().int().min(0).default(262_144),
  })
  .strict();

/**
 * `url`: a SQLite file (the default) or a PostgreSQL database (`postgres://…`) that replicas share.
 * `path` is its older name, still read; `url` wins when both are set. Both keys of the result
 * hold the one location, so readers of `database.path` keep working.
 */
const database = z
  .object({ url: z.string().min(1).optional(), path: z.string().min(1).optional() })
  .strict()
  .transform(({ url, path }) => {
    const location = url ?? path ?? './data/inference.db';
    return { url: location, path: location };
  });

const network = z
  .object({
    max_nodes: z.number().int().min(1).default(100),
    heartbeat_interval_ms: z.number().int().min(10).default(30_000),
    heartbeat_timeout_ms: z.number().int().min(10).default(90_000),
    default_privacy_mode: z.enum(PRIVACY_MODES).default('standard'),
  })
  .strict();

const scheduler = z
  .object({
    max_attempts: z.number().int().min(1).default(3),
    max_infer_time_ms: z.number().int().min(1).default(60_000),
    max_in_flight_per_node: z.number().int().min(1).default(8),
    prefer_better_node_ms: z.number().int().min(0).default(1_000),
    sweep_interval_ms: z.number().int().min(10).default(1_000),
    reputation_half_life_ms: z.number().int().min(1).default(3_600_000),
  })
  .strict();

const auth = z.object({ timestamp_window_ms: z.number().int().min(1_000).default(60_000) }).strict();

const chain = z
  .object({
    enabled: z.boolean().default(false),
    api_url: z.string().url().default(LOCAL_API_URL),
    network: networkName.default('testnet'),
    escrow_contract: contractPrincipal('inference-escrow').default(
      'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.inference-escrow',
    ),
    private_key: privateKeyHex.optional(),
    poll_interval_ms: z.number().int().min(10).default(2_000),
    bond_check_interval_ms: z.number().int().min(10).default(15_000),
  })
  .strict();

const submitter = z
  .object({
    batch_size: z.number().int().min(1).max(200).default(50),
    max_wait_ms: z.number().int().min(0).default(5_000),
    urgent_blocks: z.number().int().min(0).default(3),
    confirm_poll_ms: z.number().int().min(10).default(2_000),
    drop_after_ms: z.number().int().min(1_000).default(600_000),
    reclaim_for_users: z.boolean().default(false),
  })
  .strict();

const cluster = z
  .object({
    /** How often a replica on PostgreSQL tries to take the leader lock while another holds it (ms). */
    leader_retry_ms: z.number().int().min(10).default(1_000),
  })
  .strict();

const models = z
  .object({
    dir: z.string().default('./models'),
    max_upload_bytes: z
      .number()
      .int()
      .min(1024)
      .default(64 * 1024 * 1024),
    catalog_cache_ms: z.number().int().min(0).default(5_000),
    publish_timeout_ms: z.number().int().min(1_000).default(120_000),
    validate_timeout_ms: z.number().int().min(1_000).default(120_000),
    public_url: z.string().url().optional(),
  })
  .strict();
const inputs = z
  .object({
    max_unclaimed_per_requester: z.number().int().min(1).default(1_000),
    max_unclaimed_bytes_per_requester: z
      .number()
      .int()
      .min(1024)
      .default(256 * 1024 * 1024),
    max_unclaimed_bytes: z
      .number()
      .int()
      .min(1024)
      .default(1024 * 1024 * 1024),
    unclaimed_ttl_ms: z
      .number()
      .int()
      .min(1_000)
      .default(6 * 3_600_000),
    retention_ms: z
      .number()
      .int()
      .min(0)
      .default(24 * 3_600_000),
    gc_interval_ms: z.number().int().min(100).default(60_000),
  })
  .strict();
const consoleSection = z
  .object({
    session_ttl_ms: z
      .number()
      .int()
      .min(60_000)
      .default(12 * 3_600_000),
    login_max_failures: z.number().int().min(1).default(5),
    login_max_failures_per_address: z.number().int().min(1).default(20),
    login_window_ms: z
      .number()
      .int()
      .min(1_000)
      .default(15 * 60_000),
  })
  .strict();
const dashboard = z
  .object({
    refresh_ms: z.number().int().min(500).default(3_000),
    totals_refresh_ms: z.number().int().min(0).default(30_000),
    bucket_seconds: z.number().int().min(1).default(60),
    buckets: z.number().int().min(2).max(1_440).default(60),
    settlements_shown: z.number().int().min(1).max(500).default(20),
  })
  .strict();
const inference = z
  .object({
    queue_size: z.number().int().min(1).default(100),
    default_priority: z.number().int().min(0).max(9).default(5),
    timeout_ms: z.number().int().min(100).default(5_000),
    max_timeout_ms: z.number().int().min(100).default(60_000),
    max_batch: z.number().int().min(1).max(1_000).default(32),
    max_body_bytes: z
      .number()
      .int()
      .min(1024)
      .default(8 * 1024 * 1024),
    retry_after_seconds: z.number().int().min(1).default(1),
  })
  .strict()
  .refine((v) => v.timeout_ms <= v.max_timeout_ms, {
    message: 'timeout_ms must not exceed max_timeout_ms',
    path: ['timeout_ms'],
  });
/**
 * Prepaid accounts (contracts/accounts.clar, signer/accounts): signed task requests paid from a
 * deposit, settled per period. Every key is defaulted; `enabled` follows chain.enabled when unset.
 */
const accountsTier = z
  .object({
    /** Paid volume (micro-STX) in the last `tier_window_days` from which this tier applies. */
    volume_ustx: z.number().int().min(0),
    /** Discount off the demand price, in basis points (never below the on-chain price). */
    discount_bps: z.number().int().min(0).max(10_000),
  })
  .strict();
const accounts = z
  .object({
    /** Accept prepaid requests (POST /api/v1/requests); unset: on exactly when chain.enabled. */
    enabled: z.boolean().optional(),
    /** Contract principal of accounts.clar; unset: `<deployer of chain.escrow_contract>.accounts`. */
    contract: contractPrincipal('accounts').optional(),
    /** How long a signed price quote is good for (seconds). */
    quote_ttl_s: z.number().int().min(1).max(86_400).default(300),
    /** Volume tiers, by paid volume over `tier_window_days`; the highest tier reached applies. */
    tiers: z
      .array(accountsTier)
      .max(32)
      .default([
        { volume_ustx: 100_000_000, discount_bps: 500 },
        { volume_ustx: 1_000_000_000, discount_bps: 1_000 },
      ]),
    /** Days of paid volume a tier counts. */
    tier_window_days: z.number().int().min(1).max(365).default(30),
    /** Pending prepaid + chain tasks from which the demand surcharge starts. */
    demand_queue_start: z.number().int().min(0).default(1_000),
    /** Every this many tasks above demand_queue_start add demand_step_bps to the price. */
    demand_queue_step: z.number().int().min(1).default(1_000),
    /** Surcharge per step, basis points. */
    demand_step_bps: z.number().int().min(0).max(100_000).default(1_000),
    /** Largest surcharge, basis points (10000: at most twice the price). */
    demand_max_bps: z.number().int().min(0).max(1_000_000).default(10_000),
    /** Most requests in one POST /api/v1/requests (the body limit is sized from it). */
    max_requests_per_call: z.number().int().min(1).max(1_000).default(100),
    /** Largest input_base64 of one request, bytes (decoded); bigger inputs: PUT /api/v1/inputs first. */
    max_inline_input_bytes: z.number().int().min(0).default(DEFAULT_MAX_INLINE_INPUT_BYTES),
    /** An account's chain state read within this long is trusted for admission, unless it looks short (ms). */
    account_cache_ms: z.number().int().min(0).default(10_000),
    /** A period is settled once its oldest paid receipt waited this long (ms), or at once for a withdrawal. */
    period_ms: z.number().int().min(100).default(60_000),
    /** ...or once the unsettled total reaches this many micro-STX. */
    period_amount_ustx: z.number().int().min(1).default(10_000_000),
    /** Most accounts in one settle-accounts transaction (the contract takes 200). */
    max_accounts_per_tx: z.number().int().min(1).max(200).default(200),
  })
  .strict();
/** Encrypted tasks (issue 14, signer/privacy). */
const privacy = z
  .object({
    /** How long a reservation's nodes may be sealed to (ms): the requester uploads its ciphertexts within it. */
    reservation_ttl_ms: z.number().int().min(1_000).default(120_000),
  })
  .strict();
const log = z
  .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
  .strict();

/** The zod schema of signer.toml; every section and key may be omitted. */
export const configSchema = z
  .object({
    server: server.prefault({}),
    database: database.prefault({}),
    network: network.prefault({}),
    scheduler: scheduler.prefault({}),
    auth: auth.prefault({}),
    chain: chain.prefault({}),
    submitter: submitter.prefault({}),
    cluster: cluster.prefault({}),
    models: models.prefault({}),
    inputs: inputs.prefault({}),
    console: consoleSection.prefault({}),
    dashboard: dashboard.prefault({}),
    inference: inference.prefault({}),
    accounts: accounts.prefault({}),
    guard: guardConfigSchema.prefault({}),
    privacy: privacy.prefault({}),
    log: log.prefault({}),
  })
  .strict();

/** The validated configuration. */
export type SignerConfig = z.infer<typeof configSchema>;
/** What may be passed before validation (a TOML document's shape). */
export type SignerConfigInput = z.input<typeof configSchema>;

/** Flags of `signer run` that override the file and the environment. */
export interface ConfigOverrides {
  database?: string;
  apiPort?: number;
  apiHost?: string;
  debug?: boolean;
}

/** Environment variables the signer reads; the key is only ever read from here or the file, and never logged. */
const spec: ConfigSpec<typeof configSchema> = {
  name: 'signer',
  schema: configSchema,
  env: {
    // A PostgreSQL URL may carry a password: never echoed in an error. SIGNER_DB wins over the generic name.
    DATABASE_URL: { key: 'database.url', secret: true },
    SIGNER_DB: { key: 'database.url', secret: true },
    SIGNER_PORT: { key: 'server.port', type: 'number' },
    SIGNER_HOST: 'server.host',
    SIGNER_LOG_LEVEL: 'log.level',
    SIGNER_CHAIN_API: 'chain.api_url',
    SIGNER_CHAIN_ENABLED: { key: 'chain.enabled', type: 'boolean' },
    SIGNER_NETWORK: 'chain.network',
    SIGNER_ESCROW: 'chain.escrow_contract',
    SIGNER_PRIVATE_KEY: { key: 'chain.private_key', secret: true },
    SIGNER_MODELS_DIR: 'models.dir',
  },
  flags: { database: 'database.url', 'api-port': 'server.port', 'api-host': 'server.host', debug: 'log.level' },
};

/** Validates a config object (e.g. from tests) after merging env overrides and flags. */
export function resolveConfig(
  input: SignerConfigInput | Record<string, unknown> = {},
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = {},
  source = 'config',
): SignerConfig {
  const flags = {
    database: overrides.database || undefined,
    'api-port': overrides.apiPort,
    'api-host': overrides.apiHost || undefined,
    debug: overrides.debug ? 'debug' : undefined,
  };
  return resolveLayers(spec, { docs: [{ source, values: input as Record<string, unknown> }], env, flags });
}

/** Reads and validates a TOML config file (a missing path means all defaults). */
export function loadConfig(
  path: string | undefined,
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): SignerConfig {
  return resolveConfig(path ? readTomlFile(path) : {}, overrides, env, path);
}

/** True when the signer takes prepaid requests: `accounts.enabled`, or chain.enabled when that is unset. */
export function accountsEnabled(config: SignerConfig): boolean {
  return config.accounts.enabled ?? config.chain.enabled;
}

/** Contract principal of accounts.clar: `accounts.contract`, or `accounts` beside the escrow. */
export function accountsContractOf(config: SignerConfig): string {
  return config.accounts.contract ?? `${config.chain.escrow_contract.split('.')[0]}.accounts`;
}
