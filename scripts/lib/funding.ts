/**
 * STX for keys on the local devnet, and bonds for node keys: the one place `npm start`, the
 * demo, the benchmarks and every test that runs a node fund and bond it. A node agent bonds its
 * own key at `run` once its address holds STX (fundAddress); a test node that talks to the
 * signer without an agent is bonded here (fundAndBond), from its own key, as an agent would.
 */
import {
  broadcastTransaction,
  compressPublicKey,
  fetchCallReadOnlyFunction,
  makeContractCall,
  makeSTXTokenTransfer,
  PostConditionMode,
  privateKeyToAddress,
  privateKeyToPublic,
  type ClarityValue,
} from '@stacks/transactions';
import {
  ACCOUNTS,
  amountArgs,
  decodeAccountsConfig,
  decodeSigner,
  setSettlerArgs,
} from '../../protocol/contracts/index.js';
import { resolveConfig, BondClient, ensureBond, loadOrCreateKey, type NodeBond } from '../../node-agent/index.js';
import { devKeys } from '../../devnet/accounts.js';
import { resolve } from 'node:path';
import { ROOT } from './services.js';
import { DEV_ESCROW, balance } from './workload.js';

/** What a node address gets: the default 1 STX stake and many fees. */
export const NODE_FUNDING = 10_000_000n;
/** The dev account that funds keys (Clarinet's `faucet`: no test spends from it otherwise). */
export const FUNDER = 'faucet';

/** Transfers from one dev account go one after another, so that no two share a nonce. */
const queues = new Map<string, Promise<unknown>>();

function serialized<T>(key: string, run: () => Promise<T>): Promise<T> {
  const next = (queues.get(key) ?? Promise.resolve()).then(run, run);
  queues.set(
    key,
    next.catch(() => undefined),
  );
  return next;
}

async function mined(devnetUrl: string, txid: string, what = 'STX transfer'): Promise<void> {
  const id = txid.startsWith('0x') ? txid : `0x${txid}`;
  for (let i = 0; i < 1200; i++) {
    const res = await fetch(`${devnetUrl}/extended/v1/tx/${id}`);
    if (res.ok) {
      const tx = (await res.json()) as { tx_status: string; tx_result?: { repr: string } };
      if (tx.tx_status === 'success') return;
      if (tx.tx_status !== 'pending')
        throw new Error(`${what} ${id}: ${tx.tx_status} ${tx.tx_result?.repr ?? ''}`.trim());
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`STX transfer ${id} not mined after 120 s`);
}

/**
 * Tops `address` up to `atLeast` micro-STX from a dev account (default the faucet) and waits
 * until the transfer is mined; nothing when it holds that much already. Returns what was sent.
 */
export async function fundAddress(
  devnetUrl: string,
  address: string,
  atLeast = NODE_FUNDING,
  from = FUNDER,
): Promise<bigint> {
  const key = devKeys(resolve(ROOT, 'Clarinet.toml')).get(from);
  if (!key) throw new Error(`no dev account named ${from} in settings/Devnet.toml`);
  return serialized(`${devnetUrl} ${from}`, async () => {
    const have = await balance(devnetUrl, address);
    if (have >= atLeast) return 0n;
    const amount = atLeast - have;
    const client = { baseUrl: devnetUrl };
    const tx = await makeSTXTokenTransfer({
      recipient: address,
      amount,
      senderKey: key,
      network: 'testnet',
      client,
      memo: 'devnet funding',
    });
    const res = await broadcastTransaction({ transaction: tx, network: 'testnet', client });
    if ('reason' in res) throw new Error(`funding ${address}: the devnet refused the transfer: ${res.reason}`);
    await mined(devnetUrl, res.txid);
    return amount;
  });
}

/** Funds a node key's address (the key file is created, 0600, when missing); its agent bonds it at `run`. Returns the address. */
export async function fundNodeKey(devnetUrl: string, keyFile: string): Promise<string> {
  const key = loadOrCreateKey(keyFile, 'devnet');
  await fundAddress(devnetUrl, key.address);
  return key.address;
}

/**
 * Funds a node key and bonds `stake` (default the contract's minimum) under it from its own
 * address, as `node-agent bond` does: for test nodes that talk to the signer without an agent.
 */
export async function fundAndBond(
  devnetUrl: string,
  privateKey: string,
  opts: { escrow?: string; stake?: bigint } = {},
): Promise<NodeBond> {
  const address = privateKeyToAddress(privateKey, 'testnet');
  await fundAddress(devnetUrl, address, NODE_FUNDING + (opts.stake ?? 0n));
  const { chain } = resolveConfig({ chain: { api_url: devnetUrl, escrow_contract: opts.escrow ?? DEV_ESCROW } });
  const client = new BondClient(chain, 'devnet', {
    privateKey,
    publicKey: compressPublicKey(privateKeyToPublic(privateKey)),
    address,
  });
  return ensureBond(client, opts.stake ?? 0n);
}

/** The settler's bond `npm start` posts: 10 STX, or the contract's min-signer-bond when higher. */
export const SETTLER_BOND = 10_000_000n;

/** Signs, sends and waits for one contract call on the devnet; throws with the result when it aborts. */
export async function callAndWait(
  devnetUrl: string,
  key: string,
  contract: string,
  fn: string,
  args: ClarityValue[],
): Promise<void> {
  const [contractAddress, contractName] = contract.split('.') as [string, string];
  const client = { baseUrl: devnetUrl };
  const sender = privateKeyToAddress(key, 'testnet');
  await serialized(`${devnetUrl} ${sender}`, async () => {
    const tx = await makeContractCall({
      contractAddress,
      contractName,
      functionName: fn,
      functionArgs: args,
      senderKey: key,
      network: 'testnet',
      client,
      postConditionMode: PostConditionMode.Allow,
    });
    const res = await broadcastTransaction({ transaction: tx, network: 'testnet', client });
    if ('reason' in res) throw new Error(`${contract}.${fn}: the devnet refused the call: ${res.reason}`);
    await mined(devnetUrl, res.txid, `${contract}.${fn}`);
  });
}

/**
 * Makes the signer's key the settler of accounts.clar (`set-settler` by the admin, with the
 * signer's address and public key) and bonds it (`post-bond` from the signer's key, funded from
 * the faucet), so prepaid accounts settle out of the box. Idempotent: a settler already set and
 * bonded is left alone. Throws, saying why, when another key is settler and still bonded (the
 * contract refuses to replace it until it withdraws its bond).
 */
export async function ensureSettler(
  devnetUrl: string,
  adminKey: string,
  signerKey: string,
  opts: { accounts?: string; bond?: bigint } = {},
): Promise<{ settler: string; bond: bigint }> {
  const accounts = opts.accounts ?? `${DEV_ESCROW.split('.')[0]}.${ACCOUNTS}`;
  const [contractAddress, contractName] = accounts.split('.') as [string, string];
  const read = (functionName: string) =>
    fetchCallReadOnlyFunction({
      contractAddress,
      contractName,
      functionName,
      functionArgs: [],
      senderAddress: contractAddress,
      network: 'testnet',
      client: { baseUrl: devnetUrl },
    });
  const address = privateKeyToAddress(signerKey, 'testnet');
  const publicKey = compressPublicKey(privateKeyToPublic(signerKey));
  let signer = decodeSigner(await read('get-signer'));
  if (signer.settler !== address || signer.key !== publicKey) {
    if (signer.bond > 0n)
      throw new Error(
        `${accounts}: ${signer.settler} is settler with a bond of ${signer.bond} µSTX; it must withdraw it (request-bond-withdrawal, withdraw-bond) before ${address} can be named`,
      );
    await callAndWait(devnetUrl, adminKey, accounts, 'set-settler', setSettlerArgs(address, publicKey));
  }
  const config = decodeAccountsConfig(await read('get-config'));
  const target =
    (opts.bond ?? SETTLER_BOND) > config.minSignerBond ? (opts.bond ?? SETTLER_BOND) : config.minSignerBond;
  signer = decodeSigner(await read('get-signer'));
  if (signer.bond < target) {
    const amount = target - signer.bond;
    await fundAddress(devnetUrl, address, (await balance(devnetUrl, address)) + amount);
    await callAndWait(devnetUrl, signerKey, accounts, 'post-bond', amountArgs(amount));
  }
  return { settler: address, bond: signer.bond < target ? target : signer.bond };
}
