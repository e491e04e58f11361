/**
 * The market CLI's configuration: config/market.toml (every key defaulted), then env
 * overrides (MARKET_NODE_URL, MARKET_SIGNER_URL, MARKET_NETWORK, MARKET_KEY_FILE,
 * MARKET_CONTRACTS_ADDRESS, MARKET_ACCOUNTS_CONTRACT, MARKET_DATA_DIR), then command-line flags,
 * through the loader every process shares (protocol/config). On the devnet, a marketplace that
 * `npm start` runs (data/marketplace.json) takes the place of the file's URLs.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import {
  DEVNET_DEPLOYER,
  LOCAL_API_URL,
  LOCAL_SIGNER_URL,
  contractPrincipal,
  networkName,
  stacksAddress,
} from '../protocol/index.js';
import {
  findRunningMarketplace,
  marketplaceDataDir,
  readTomlFile,
  resolveLayers,
  type ConfigDoc,
  type ConfigSpec,
} from '../protocol/index.js';

export const marketConfigSchema = z
  .object({
    network: networkName.default('devnet'),
    node_url: z.string().url().default(LOCAL_API_URL),
    signer_url: z.string().url().default(LOCAL_SIGNER_URL),
    contracts_address: stacksAddress.default(DEVNET_DEPLOYER),
    key_file: z.string().default(''),
    /** Where the CLI keeps per-account state (the last spend authorization it signed); `~` is the home directory. */
    data_dir: z.string().min(1).default('~/.stacks-inference/market'),
    /** Prepaid accounts contract principal; '' = `<contracts_address>.accounts`. */
    accounts_contract: z.union([z.literal(''), contractPrincipal('accounts')]).default(''),
    max_tx_fee: z.number().int().min(1).default(100_000),
    confirm_timeout_s: z.number().int().min(1).default(120),
  })
  .strict();
export type MarketConfig = z.infer<typeof marketConfigSchema>;

/** The data directory with a leading `~/` resolved to the home directory. */
export function dataDirOf(config: Pick<MarketConfig, 'data_dir'>): string {
  return config.data_dir.startsWith('~/') ? join(homedir(), config.data_dir.slice(2)) : config.data_dir;
}

/** Flags of `market` that override the file and the environment, by config key. */
export type MarketFlags = Partial<Record<keyof MarketConfig, string>>;

const spec: ConfigSpec<typeof marketConfigSchema> = {
  name: 'market',
  schema: marketConfigSchema,
  env: {
    MARKET_NETWORK: 'network',
    MARKET_NODE_URL: 'node_url',
    MARKET_SIGNER_URL: 'signer_url',
    MARKET_CONTRACTS_ADDRESS: 'contracts_address',
    MARKET_KEY_FILE: 'key_file',
    MARKET_ACCOUNTS_CONTRACT: 'accounts_contract',
    MARKET_DATA_DIR: 'data_dir',
  },
  flags: Object.fromEntries(Object.keys(marketConfigSchema.shape).map((key) => [flagOf(key), key])),
};

/** The CLI flag of a key that has one; keys set only from code (tests, scripts) go by their own name. */
function flagOf(key: string): string {
  return ({ node_url: 'node', signer_url: 'signer', key_file: 'key-file' } as Record<string, string>)[key] ?? key;
}

function flagsOf(flags: MarketFlags): Record<string, unknown> {
  return Object.fromEntries(Object.entries(flags).map(([key, value]) => [flagOf(key), value]));
}

/** The file layer: `path` (which must exist), else config/market.toml when present. */
function fileDocs(path: string | undefined): ConfigDoc[] {
  const file = path ?? 'config/market.toml';
  return path || existsSync(file) ? [{ source: file, values: readTomlFile(file) }] : [];
}

/** Loads the config file (if present), applies env and flag overrides, validates. */
export function loadMarketConfig(
  path: string | undefined,
  flags: MarketFlags = {},
  env: NodeJS.ProcessEnv = process.env,
  extra: ConfigDoc[] = [],
): MarketConfig {
  return resolveLayers(spec, { docs: [...fileDocs(path), ...extra], env, flags: flagsOf(flags) });
}

/** Options of `loadMarketCliConfig`. */
export interface DiscoveryOptions {
  env?: NodeJS.ProcessEnv;
  /** Where `npm start` keeps its state (default MARKETPLACE_DATA_DIR, else the repository's data/). */
  dataDir?: string;
  /** Where a note about a stale marketplace file goes. */
  note?: (text: string) => void;
}

/**
 * The CLI's configuration: as loadMarketConfig, and on the devnet a marketplace `npm start` runs
 * (its data/marketplace.json, with a live process and signer) supplies the URLs and the deployer,
 * above the file and below env and flags. A stale file is ignored with a note.
 */
export async function loadMarketCliConfig(
  path: string | undefined,
  flags: MarketFlags = {},
  opts: DiscoveryOptions = {},
): Promise<MarketConfig> {
  const env = opts.env ?? process.env;
  const config = loadMarketConfig(path, flags, env);
  const explicit = (key: 'node_url' | 'signer_url', name: string) => flags[key] !== undefined || !!env[name];
  if (
    config.network !== 'devnet' ||
    (explicit('node_url', 'MARKET_NODE_URL') && explicit('signer_url', 'MARKET_SIGNER_URL'))
  )
    return config;
  const found = await findRunningMarketplace(opts.dataDir ?? marketplaceDataDir(env));
  if (!found.found) {
    if (found.note) (opts.note ?? ((t) => process.stderr.write(`note: ${t}\n`)))(found.note);
    return config;
  }
  const m = found.found;
  const values = { node_url: m.devnet_url, signer_url: m.signer_url, contracts_address: m.contracts_address };
  return loadMarketConfig(path, flags, env, [{ source: `running marketplace ${found.file}`, values }]);
}
