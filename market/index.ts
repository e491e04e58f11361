/** The user's side: config, wallet, chain and signer clients used by the `market` CLI. */
export { loadMarketConfig, type MarketConfig } from './config.js';
export { loadWallet, walletFromKey, type Wallet } from './keys.js';
export { MarketChain, ChainAbort, contractErrorName } from './chain.js';
export { SignerClient, SignerRefusal, chainTaskRef, type TaskResultView } from './signer-client.js';
export {
  PrepaidClient,
  DishonestSigner,
  type SignedRequest,
  type RequestParams,
  type SubmitOutcome,
  type Revealed,
  type ResultState,
  type PrepaidClientOptions,
} from './prepaid.js';
