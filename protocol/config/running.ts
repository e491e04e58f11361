/**
 * The running-marketplace file: `npm start` writes `<data dir>/marketplace.json` once everything
 * answers and removes it when it stops, so that `market` and `npm run demo` reach the marketplace on
 * whatever ports it was given. A file whose process is gone, or whose signer does not answer, is stale.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { stacksAddress } from '../chain/index.js';

/** Its name inside the data directory. */
export const RUNNING_FILE = 'marketplace.json';

/** What the file holds. */
export const runningMarketplaceSchema = z.object({
  devnet_url: z.url(),
  signer_url: z.url(),
  /** The `npm start` process. */
  pid: z.number().int().positive(),
  /** Who deployed the contracts. */
  contracts_address: stacksAddress,
  data_dir: z.string().min(1),
  started_at: z.string(),
});
/** A running marketplace as `npm start` describes it. */
export type RunningMarketplace = z.infer<typeof runningMarketplaceSchema>;

/** `npm start`'s data directory: MARKETPLACE_DATA_DIR, else `data/` in the repository. */
export function marketplaceDataDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.MARKETPLACE_DATA_DIR
    ? resolve(env.MARKETPLACE_DATA_DIR)
    : fileURLToPath(new URL('../../data', import.meta.url));
}

/** Writes the file (atomically: readers never see half of it); returns its path. */
export function writeRunningMarketplace(info: RunningMarketplace): string {
  const file = join(info.data_dir, RUNNING_FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(info, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  return file;
}

/** Removes the file if it describes process `pid` (another start's file is left alone). */
export function removeRunningMarketplace(dataDir: string, pid = process.pid): void {
  const file = join(dataDir, RUNNING_FILE);
  try {
    if (JSON.parse(readFileSync(file, 'utf8')).pid === pid) rmSync(file);
  } catch {
    // Missing or unreadable: nothing of ours to remove.
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A marketplace found running, or why none was (`note` is unset when there simply is no file). */
export type Discovery = { found: RunningMarketplace; file: string; note?: undefined } | { found: null; note?: string };

/** Looks for a running marketplace in `dataDir`: the file must parse, its pid live, its signer's /health answer. */
export async function findRunningMarketplace(
  dataDir = marketplaceDataDir(),
  healthTimeoutMs = 2_000,
): Promise<Discovery> {
  const file = join(dataDir, RUNNING_FILE);
  if (!existsSync(file)) return { found: null };
  let info: RunningMarketplace;
  try {
    info = runningMarketplaceSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return { found: null, note: `${file} is not a marketplace description; ignoring it (npm start rewrites it)` };
  }
  if (!alive(info.pid))
    return { found: null, note: `${file} is stale (npm start process ${info.pid} is gone); ignoring it` };
  const healthy = await fetch(new URL('/health', info.signer_url), { signal: AbortSignal.timeout(healthTimeoutMs) })
    .then((r) => r.ok)
    .catch(() => false);
  if (!healthy)
    return {
      found: null,
      note: `${file} names a signer at ${info.signer_url} that does not answer /health; ignoring it`,
    };
  return { found: info, file };
}
