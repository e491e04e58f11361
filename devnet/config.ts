/** The devnet's configuration: config/devnet.toml, then environment variables, then flags. */
import { readFileSync, existsSync } from 'node:fs';
import { parse } from 'smol-toml';
import { z } from 'zod';

/** Validated devnet settings (see config/devnet.toml for what each means). */
export const devnetConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65535).default(3999),
    data_dir: z.string().min(1).default('./.devnet'),
    block_time_ms: z.coerce.number().int().min(0).default(0),
    max_block_txs: z.coerce.number().int().min(1).max(10_000).default(500),
    idle_block_ms: z.coerce.number().int().min(0).default(0),
    manifest: z.string().min(1).default('./Clarinet.toml'),
  })
  .strict();

export type DevnetConfig = z.infer<typeof devnetConfigSchema>;

const ENV: Record<string, keyof DevnetConfig> = {
  DEVNET_HOST: 'host',
  DEVNET_PORT: 'port',
  DEVNET_DATA_DIR: 'data_dir',
  DEVNET_BLOCK_TIME_MS: 'block_time_ms',
  DEVNET_IDLE_BLOCK_MS: 'idle_block_ms',
};

/** Loads the TOML file (if present), applies env overrides and `overrides`; throws naming the bad key. */
export function loadDevnetConfig(path = 'config/devnet.toml', overrides: Partial<Record<keyof DevnetConfig, unknown>> = {}): DevnetConfig {
  const file = existsSync(path) ? (parse(readFileSync(path, 'utf8')) as Record<string, unknown>) : {};
  const merged: Record<string, unknown> = { ...file };
  for (const [env, key] of Object.entries(ENV)) if (process.env[env] !== undefined) merged[key] = process.env[env];
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) merged[k] = v;
  const r = devnetConfigSchema.safeParse(merged);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ');
    throw new Error(`invalid devnet configuration (${path}, DEVNET_* variables, flags): ${issues}`);
  }
  return r.data;
}
