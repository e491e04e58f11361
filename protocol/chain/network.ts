/**
 * Stacks networks as every part names them: the name a config file holds, the chain id SIP-018
 * signatures are bound to, the address version stacks.js derives addresses with, and the local
 * endpoints `npm start` serves by default.
 */
import { z } from 'zod';

/** Network names a config accepts; the devnet signs and addresses like testnet. */
export const NETWORK_NAMES = ['mainnet', 'testnet', 'devnet'] as const;
/** Chain ids as `chain-id` reads them in Clarity. */
export const CHAIN_ID = { mainnet: 1, testnet: 0x80000000 } as const;

/** A network name. */
export type NetworkName = (typeof NETWORK_NAMES)[number];
/** zod schema of a network name. */
export const networkName = z.enum(NETWORK_NAMES);

/** The devnet's Stacks node + API on this machine (`npm start`, `npm run devnet`). */
export const LOCAL_API_URL = 'http://127.0.0.1:3999';
/** The signer on this machine (`npm start`, `npm run signer`). */
export const LOCAL_SIGNER_URL = 'http://127.0.0.1:8080';
/** Who deployed the contracts on the devnet (Clarinet's deployer account). */
export const DEVNET_DEPLOYER = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM';

/** The chain id a network's transactions and SIP-018 signatures carry (the devnet's is testnet's). */
export function chainIdOf(network: NetworkName): number {
  return network === 'mainnet' ? CHAIN_ID.mainnet : CHAIN_ID.testnet;
}

/** The stacks.js network (address version, transaction version) for a network name. */
export function stacksNetworkOf(network: NetworkName): 'mainnet' | 'testnet' {
  return network === 'mainnet' ? 'mainnet' : 'testnet';
}

/** A standard principal (`ST...`, `SP...`). */
export const stacksAddress = z.string().regex(/^S[PMTN][0-9A-Z]{38,40}$/, 'must be a Stacks address like ST1PQ...GZGM');

/** A contract principal; `example` names the contract the message shows (e.g. `inference-escrow`). */
export function contractPrincipal(example: string) {
  return z
    .string()
    .regex(/^S[A-Z0-9]{39,40}\.[a-zA-Z][a-zA-Z0-9-]*$/, `must be a contract principal like ST1...GZGM.${example}`);
}
