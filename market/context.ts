/** What every market command is handed: config, chain, signer client, printer, and the wallet on demand. */
import { chainIdOf } from '../protocol/index.js';
import type { MarketConfig } from './config.js';
import { MarketChain } from './chain.js';
import { SignerClient } from './signer-client.js';
import { Output } from './output.js';
import { loadWallet, type Wallet } from './keys.js';

export interface Context {
  config: MarketConfig;
  chain: MarketChain;
  signer: SignerClient;
  out: Output;
  /** Loads the key only for commands that sign. */
  wallet(): Wallet;
}

/** Builds a command context. */
export function createContext(config: MarketConfig, json: boolean): Context {
  let wallet: Wallet | undefined;
  return {
    config,
    chain: new MarketChain(config),
    signer: new SignerClient(config.signer_url, chainIdOf(config.network)),
    out: new Output(json),
    wallet: () => (wallet ??= loadWallet(config)),
  };
}
