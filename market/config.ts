/**
 * The market CLI's configuration: config/market.toml (every key defaulted), then env
 * overrides (MARKET_NODE_URL, MARKET_SIGNER_URL, MARKET_NETWORK, MARKET_KEY_FILE,
 * MARKET_CONTRACTS_ADDRESS, MARKET_ACCOUNTS_CONTRACT, MARKET_DATA_DIR), then command-line flags.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';

export const marketConfigSchema = z
  .object({
    network: z.enum(['devnet', 'testnet', 'mainnet']).default('devnet'),
    node_url: z.string().url().default('http://127.0.0.1:3999'),
    signer_url: z.string().url().default('http://127.0.0.1:8080'),
    contracts_address: z.string().regex(/^S[PMTN][0-9A-Z]{38,40}$/, 'must be a Stacks address').default('ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM'),
    key_file: z.string().default(''),
    /** Where the CLI keeps per-account state (the last spend authorization it signed); `~` is the home directory. */
    data_dir: z.string().min(1).default('~/.stacks-inference/market'),
    /** Prepaid accounts contract principal; '' = `<contracts_address>.accounts`. */
    accounts_contract: z.union([z.literal(''), z.string().regex(/^S[PMTN][0-9A-Z]{38,40}\.[a-zA-Z][a-zA-Z0-9-]*$/, 'must be a contract principal like ST1...GZGM.accounts')]).default(''),
    max_tx_fee: z.number().int().min(1).default(100_000),
    confirm_timeout_s: z.number().int().min(1).default(120),
  })
  .strict();
export type MarketConfig = z.infer<typeof marketConfigSchema>;

const ENV: Record<string, keyof MarketConfig> = {
  MARKET_NETWORK: 'network',
  MARKET_NODE_URL: 'node_url',
  MARKET_SIGNER_URL: 'signer_url',
  MARKET_CONTRACTS_ADDRESS: 'contracts_address',
  MARKET_KEY_FILE: 'key_file',
  MARKET_ACCOUNTS_CONTRACT: 'accounts_contract',
  MARKET_DATA_DIR: 'data_dir',
};

/** Loads the config file (if present), applies env and flag overrides, validates. */
export function loadMarketConfig(path: string | undefined, flags: Partial<Record<keyof MarketConfig, string>> = {}): MarketConfig {
  const file = path ?? 'config/market.toml';
  let raw: Record<string, unknown> = {};
  if (existsSync(file)) raw = parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  else if (path) throw new Error(`config file ${path} does not exist`);
  for (const [env, key] of Object.entries(ENV)) if (process.env[env]) raw[key] = process.env[env];
  for (const [key, value] of Object.entries(flags)) if (value !== undefined) raw[key] = value;
  const parsed = marketConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`invalid market config (${file}): ${issues}`);
  }
  return parsed.data;
}
