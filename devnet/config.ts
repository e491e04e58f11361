/**
 * The devnet's configuration: config/devnet.toml (when present), then environment variables, then
 * flags, through the loader every process shares (protocol/config).
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { readTomlFile, resolveLayers, type ConfigSpec } from '../protocol/index.js';

/** Validated devnet settings (see config/devnet.toml for what each means). */
export const devnetConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    // Coerced: flags arrive as text.
    port: z.coerce.number().int().min(0).max(65535).default(3999),
    data_dir: z.string().min(1).default('./.devnet'),
    block_time_ms: z.coerce.number().int().min(0).default(0),
    max_block_txs: z.coerce.number().int().min(1).max(10_000).default(500),
    idle_block_ms: z.coerce.number().int().min(0).default(0),
    manifest: z.string().min(1).default('./Clarinet.toml'),
  })
  .strict();

export type DevnetConfig = z.infer<typeof devnetConfigSchema>;

const spec: ConfigSpec<typeof devnetConfigSchema> = {
  name: 'devnet',
  schema: devnetConfigSchema,
  env: {
    DEVNET_HOST: 'host',
    DEVNET_PORT: { key: 'port', type: 'number' },
    DEVNET_DATA_DIR: 'data_dir',
    DEVNET_BLOCK_TIME_MS: { key: 'block_time_ms', type: 'number' },
    DEVNET_IDLE_BLOCK_MS: { key: 'idle_block_ms', type: 'number' },
  },
  flags: {
    host: 'host',
    port: 'port',
    'data-dir': 'data_dir',
    'block-time': 'block_time_ms',
    'idle-block': 'idle_block_ms',
    manifest: 'manifest',
  },
};

/** Flag names of `npm run devnet` for each key `overrides` may set. */
const FLAG_OF: Record<keyof DevnetConfig, string | undefined> = {
  host: 'host',
  port: 'port',
  data_dir: 'data-dir',
  block_time_ms: 'block-time',
  idle_block_ms: 'idle-block',
  manifest: 'manifest',
  max_block_txs: undefined,
};

/** Loads the TOML file (if present), applies env overrides and `overrides` (flags); throws naming the bad key and its source. */
export function loadDevnetConfig(
  path = 'config/devnet.toml',
  overrides: Partial<Record<keyof DevnetConfig, unknown>> = {},
  env: NodeJS.ProcessEnv = process.env,
): DevnetConfig {
  const flags: Record<string, unknown> = {};
  const docs = existsSync(path) ? [{ source: path, values: readTomlFile(path) }] : [];
  for (const [key, value] of Object.entries(overrides) as [keyof DevnetConfig, unknown][]) {
    const flag = FLAG_OF[key];
    if (flag) flags[flag] = value;
    // A key with no flag is still an override the caller made (e.g. max_block_txs from code).
    else if (value !== undefined) docs.push({ source: 'overrides', values: { [key]: value } });
  }
  return resolveLayers(spec, { docs, env, flags });
}
