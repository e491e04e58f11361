/**
 * The funded dev accounts, from the Clarinet project's `settings/Devnet.toml`. Their secret keys
 * are Clarinet's public, well-known ones (written as comments beside each account there); a key is
 * reported only when it really controls the account's address.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { privateKeyToAddress } from '@stacks/transactions';

/** A dev account as printed at start. */
export interface DevAccount {
  name: string;
  address: string;
  balance: bigint;
  /** Hex private key, only for Clarinet's public dev keys. */
  secretKey?: string;
}

/** Secret keys of `[accounts.NAME]` sections, read from the `# secret_key:` comments. */
export function devKeys(manifestPath: string): Map<string, string> {
  const keys = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync(resolve(dirname(resolve(manifestPath)), 'settings/Devnet.toml'), 'utf8');
  } catch {
    return keys;
  }
  let section = '';
  for (const line of text.split('\n')) {
    const s = /^\[accounts\.([\w-]+)\]/.exec(line);
    if (s) section = s[1];
    const k = /^#\s*secret_key:\s*([0-9a-f]{64,66})/.exec(line.trim());
    if (k && section) keys.set(section, k[1]);
  }
  return keys;
}

/** The accounts simnet funded, with keys where they are the Clarinet dev keys. */
export function devAccounts(
  manifestPath: string,
  accounts: Map<string, string>,
  balanceOf: (a: string) => bigint,
): DevAccount[] {
  const keys = devKeys(manifestPath);
  return [...accounts.entries()]
    .map(([name, address]) => {
      const key = keys.get(name);
      const secretKey = key && privateKeyToAddress(key, 'testnet') === address ? key : undefined;
      return { name, address, balance: balanceOf(address), ...(secretKey ? { secretKey } : {}) };
    })
    .sort((a, b) =>
      a.name === 'deployer' ? -1 : b.name === 'deployer' ? 1 : a.name.localeCompare(b.name, 'en', { numeric: true }),
    );
}
