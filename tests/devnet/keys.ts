/** The Clarinet dev accounts with their keys, read the way the devnet reads them, without starting one. */
import { privateKeyToAddress } from '@stacks/transactions';
import { readFileSync } from 'node:fs';

/** Accounts of settings/Devnet.toml that carry a `# secret_key:` comment. */
export function devAccountsFromManifest(): { name: string; address: string; secretKey: string }[] {
  const out: { name: string; address: string; secretKey: string }[] = [];
  let name = '';
  for (const line of readFileSync('settings/Devnet.toml', 'utf8').split('\n')) {
    const s = /^\[accounts\.([\w-]+)\]/.exec(line);
    if (s) name = s[1];
    const k = /^#\s*secret_key:\s*([0-9a-f]{64,66})/.exec(line.trim());
    if (k && name) out.push({ name, address: privateKeyToAddress(k[1], 'testnet'), secretKey: k[1] });
  }
  return out;
}
