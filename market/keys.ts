/**
 * The user's wallet key: from MARKET_PRIVATE_KEY or a key file. Never printed or logged.
 */
import { readFileSync, statSync } from 'node:fs';
import { getAddressFromPrivateKey } from '@stacks/transactions';
import { PRIVATE_KEY_HINT, isPrivateKey, stacksNetworkOf } from '../protocol/index.js';
import type { MarketConfig } from './config.js';

/** A loaded wallet key and its address. */
export interface Wallet {
  privateKey: string;
  address: string;
}

/** Reads the wallet key; the error says where a key can come from, never what was read. */
export function loadWallet(config: MarketConfig): Wallet {
  let key = process.env.MARKET_PRIVATE_KEY?.trim();
  let source = 'MARKET_PRIVATE_KEY';
  if (!key) {
    if (!config.key_file)
      throw new Error('no wallet key: set MARKET_PRIVATE_KEY or pass --key-file FILE (a hex private key)');
    source = config.key_file;
    try {
      if ((statSync(config.key_file).mode & 0o077) !== 0 && process.platform !== 'win32') {
        process.stderr.write(`warning: ${config.key_file} is readable by other users; chmod 600 it\n`);
      }
      key = readFileSync(config.key_file, 'utf8').trim();
    } catch (e) {
      throw new Error(`cannot read key file ${config.key_file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  key = key.toLowerCase().replace(/^0x/, '');
  if (!isPrivateKey(key)) throw new Error(`the key in ${source} is not usable: it ${PRIVATE_KEY_HINT}`);
  return walletFromKey(key, config.network);
}

/** A wallet for a known hex key (dev accounts, tests). */
export function walletFromKey(privateKey: string, network: MarketConfig['network']): Wallet {
  return { privateKey, address: getAddressFromPrivateKey(privateKey, stacksNetworkOf(network)) };
}
