/**
 * Prepaid accounts on a running marketplace, for the end-to-end tests and the benchmarks: open
 * accounts (fund from the faucet, deposit into accounts.clar) and read their and their payees'
 * state on chain. What a user does with `market account deposit`, for many keys at once.
 */
import { fetchCallReadOnlyFunction, privateKeyToAddress, randomPrivateKey, Cl } from '@stacks/transactions';
import {
  ACCOUNTS,
  amountArgs,
  decodeAccount,
  decodePayee,
  type AccountState,
  type PayeeState,
} from '../../protocol/contracts/index.js';
import { callAndWait, fundAddress } from './funding.js';
import { DEV_ESCROW } from './workload.js';

/** accounts.clar on the devnet. */
export const DEV_ACCOUNTS = `${DEV_ESCROW.split('.')[0]}.${ACCOUNTS}`;

/** Makes `count` fresh keys, each funded and with `deposit` micro-STX in its account; returns the keys. */
export async function openAccounts(devnetUrl: string, count: number, deposit: bigint): Promise<string[]> {
  const keys = Array.from({ length: count }, () => randomPrivateKey());
  // Funding comes from one faucet (serialized); deposits are from distinct keys and go in parallel.
  for (const key of keys) await fundAddress(devnetUrl, privateKeyToAddress(key, 'testnet'), deposit + 1_000_000n);
  await Promise.all(keys.map((key) => callAndWait(devnetUrl, key, DEV_ACCOUNTS, 'deposit', amountArgs(deposit))));
  return keys;
}

async function read(devnetUrl: string, fn: 'get-account' | 'get-payee', who: string) {
  const [contractAddress, contractName] = DEV_ACCOUNTS.split('.') as [string, string];
  return fetchCallReadOnlyFunction({
    contractAddress,
    contractName,
    functionName: fn,
    functionArgs: [Cl.principal(who)],
    senderAddress: contractAddress,
    network: 'testnet',
    client: { baseUrl: devnetUrl },
  });
}

/** An account's state on chain (null before its first deposit). */
export async function accountOnChain(devnetUrl: string, who: string): Promise<AccountState | null> {
  return decodeAccount(await read(devnetUrl, 'get-account', who));
}

/** A payee's credits on chain (null before its first credit). */
export async function payeeOnChain(devnetUrl: string, who: string): Promise<PayeeState | null> {
  return decodePayee(await read(devnetUrl, 'get-payee', who));
}
