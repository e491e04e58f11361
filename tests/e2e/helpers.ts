/** Shared set-up of the end-to-end suites: a marketplace of real processes in a temp dir. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateKeyToAddress } from '@stacks/transactions';
import {
  devAccountKeys,
  startMarketplace,
  writeExampleInput,
  type Marketplace,
  type MarketplaceOptions,
} from '../../scripts/lib/marketplace.js';

/**
 * signer.toml for tests: short leases, sweeps and batch waits so failures show in seconds. A killed
 * agent counts as online until its heartbeat times out, and a spot-checked task (5% of them) waits
 * that long for a second node: 30 s (three of the agent's 10 s heartbeats) rather than 90 s. Leases
 * last 10 s: at 4 s, e2e/prepaid's agents (8 tasks in flight each) let leases lapse three times and
 * fail tasks when the machine was loaded (load 20, the suites on two workers beside others' work).
 */
export const FAST_SIGNER_TOML = `
[network]
heartbeat_timeout_ms = 30000
[scheduler]
max_infer_time_ms = 10000
sweep_interval_ms = 300
prefer_better_node_ms = 0
[chain]
poll_interval_ms = 300
bond_check_interval_ms = 500
[submitter]
batch_size = 50
max_wait_ms = 500
confirm_poll_ms = 300
`;

/** A started marketplace with its example input file. */
export async function marketplace(opts: MarketplaceOptions = {}): Promise<{ m: Marketplace; input: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'market-e2e-'));
  const m = await startMarketplace({ dataDir, signerConfigToml: FAST_SIGNER_TOML, ...opts });
  return { m, input: writeExampleInput(dataDir) };
}

const keys = devAccountKeys();
/** Hex key of a dev account. */
export const key = (name: string): string => keys.get(name)!;
/** Address of a dev account. */
export const address = (name: string): string => privateKeyToAddress(key(name), 'testnet');
