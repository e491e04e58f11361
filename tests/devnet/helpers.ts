/** Shared set-up of the devnet suites: a devnet in a temp dir, dev keys, signed calls through stacks.js. */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  type ClarityValue,
  broadcastTransaction,
  makeContractCall,
  PostConditionMode,
  privateKeyToAddress,
} from '@stacks/transactions';
import { startDevnet, type Devnet } from '../../devnet/index.js';
import { deployModelArgs, submitTaskArgs, MODEL_REGISTRY, INFERENCE_ESCROW } from '../../protocol/contracts/index.js';

export const DEPLOYER = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM';
export const ESCROW = `${DEPLOYER}.${INFERENCE_ESCROW}`;

/**
 * A copy of the Clarinet project (manifest, contracts, dev accounts) in a temp dir, so that a
 * contract edited while a suite runs cannot change the genesis under a restarted devnet.
 */
export function snapshotProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'devnet-project-'));
  for (const p of ['Clarinet.toml', 'contracts', 'settings']) cpSync(p, join(dir, p), { recursive: true });
  return join(dir, 'Clarinet.toml');
}

/** A devnet in a fresh temp dir; `cleanup` closes it and removes the dir. */
export async function tempDevnet(
  opts: { blockTimeMs?: number; idleBlockMs?: number } = {},
): Promise<{ devnet: Devnet; dir: string; manifestPath: string; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'devnet-test-'));
  const manifestPath = snapshotProject();
  const devnet = await startDevnet({
    dataDir: dir,
    blockTimeMs: opts.blockTimeMs ?? 0,
    idleBlockMs: opts.idleBlockMs ?? 0,
    manifestPath,
  });
  return {
    devnet,
    dir,
    manifestPath,
    cleanup: async () => {
      await devnet.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(dirname(manifestPath), { recursive: true, force: true });
    },
  };
}

/** The secret key of a named dev account. */
export function keyOf(devnet: Pick<Devnet, 'accounts'>, name: string): string {
  const a = devnet.accounts.find((x) => x.name === name);
  if (!a?.secretKey) throw new Error(`no dev key for ${name}`);
  return a.secretKey;
}

export function addressOf(devnet: Devnet, name: string): string {
  return devnet.accounts.find((x) => x.name === name)!.address;
}

/** Signs a contract call with stacks.js, exactly as a wallet would (the nonce from the devnet unless given). */
export async function signCall(
  devnet: Pick<Devnet, 'url'>,
  key: string,
  contract: string,
  fn: string,
  args: ClarityValue[],
  nonce?: bigint,
  fee?: bigint,
) {
  const [contractAddress, contractName] = contract.split('.');
  return makeContractCall({
    contractAddress,
    contractName,
    functionName: fn,
    functionArgs: args,
    senderKey: key,
    network: 'testnet',
    client: { baseUrl: devnet.url },
    postConditionMode: PostConditionMode.Allow,
    ...(nonce !== undefined ? { nonce } : {}),
    ...(fee !== undefined ? { fee } : {}),
  });
}

/** Signs and broadcasts a contract call with stacks.js, exactly as a wallet would. */
export async function call(
  devnet: Pick<Devnet, 'url'>,
  key: string,
  contract: string,
  fn: string,
  args: ClarityValue[],
  nonce?: bigint,
  fee?: bigint,
) {
  const tx = await signCall(devnet, key, contract, fn, args, nonce, fee);
  const res = await broadcastTransaction({ transaction: tx, network: 'testnet', client: { baseUrl: devnet.url } });
  return { tx, res };
}

/** Resolves just after the devnet's next block (polling its tip), so the interval to the one after is all ahead. */
export async function nextBlock(devnet: Pick<Devnet, 'url'>): Promise<number> {
  const tipOf = async () => ((await getJson(devnet, '/v2/info')) as { stacks_tip_height: number }).stacks_tip_height;
  const start = await tipOf();
  for (let i = 0; i < 3000; i++) {
    const tip = await tipOf();
    if (tip > start) return tip;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no block after height ${start} within 30 s`);
}

export const randomHash = () => randomBytes(32).toString('hex');

/** Polls a transaction until it leaves the mempool; returns its API object. */
export async function mined(url: string, txid: string): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const t = (await (await fetch(`${url}/extended/v1/tx/${txid}`)).json()) as { tx_status: string };
    if (t.tx_status !== 'pending') return t;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`transaction ${txid} was not mined`);
}

/** Deploys a model from `wallet_1` and returns its output id. */
export async function deployModel(
  devnet: Pick<Devnet, 'url' | 'accounts'>,
  name = 'mnist',
  price = 1000,
): Promise<bigint> {
  const { res } = await call(
    devnet,
    keyOf(devnet, 'wallet_1'),
    `${DEPLOYER}.${MODEL_REGISTRY}`,
    'deploy',
    deployModelArgs({
      model: name,
      artifactHash: randomHash(),
      format: 'onnx',
      price,
      uri: `https://models.example/${name}.onnx`,
    }),
  );
  if ('reason' in res) throw new Error(`deploy rejected: ${JSON.stringify(res)}`);
  const tx = await mined(devnet.url, res.txid);
  if (tx.tx_status !== 'success') throw new Error(`deploy failed: ${tx.tx_result.repr}`);
  return BigInt(/u(\d+)/.exec(tx.tx_result.repr)![1]);
}

/** `submit-task` arguments for a model output, with a fresh input hash. */
export function taskArgs(modelOutput: bigint, fee = 1000, maxBlocks = 100): ClarityValue[] {
  return submitTaskArgs({ modelOutput, inputHash: randomHash(), fee, maxBlocks, privacy: 0, priority: 1 });
}

export async function getJson<T = any>(devnet: Pick<Devnet, 'url'>, path: string): Promise<T> {
  return (await (await fetch(`${devnet.url}${path}`)).json()) as T;
}

/** One account's part of a burst: signed calls sent in nonce order through the adapter's nonce manager. */
export interface BurstResult {
  txids: string[];
  nonces: bigint[];
}

/**
 * Sends `perAccount` submit-task calls from each key at once, nonces from `NonceManager`. A
 * broadcast that fails on the network (devnet down) is retried with the same signed bytes; a
 * rejection frees the nonce. `onAccepted` sees every accepted txid.
 */
export async function burst(opts: {
  url: () => string;
  keys: string[];
  perAccount: number;
  modelOutput: bigint;
  onAccepted?: (txid: string) => void;
  retryForMs?: number;
}): Promise<BurstResult[]> {
  const { NonceManager } = await import('../../signer/chain/nonce.js');
  return Promise.all(
    opts.keys.map(async (key) => {
      const address = privateKeyToAddress(key, 'testnet');
      const nonces = new NonceManager(async () =>
        (await fetch(`${opts.url()}/extended/v1/address/${address}/nonces`)).json(),
      );
      const out: BurstResult = { txids: [], nonces: [] };
      while (out.txids.length < opts.perAccount) {
        const nonce = await retry(() => nonces.reserve(), opts.retryForMs ?? 0);
        const tx = await makeContractCall({
          contractAddress: DEPLOYER,
          contractName: INFERENCE_ESCROW,
          functionName: 'submit-task',
          functionArgs: taskArgs(opts.modelOutput, 100, 1000),
          senderKey: key,
          network: 'testnet',
          nonce,
          fee: 3000n,
          postConditionMode: PostConditionMode.Allow,
        });
        const res = await retry(
          () => broadcastTransaction({ transaction: tx, network: 'testnet', client: { baseUrl: opts.url() } }),
          opts.retryForMs ?? 0,
        );
        if ('reason' in res) {
          nonces.rejected(nonce);
          continue;
        }
        nonces.accepted(nonce);
        out.txids.push(res.txid);
        out.nonces.push(nonce);
        opts.onAccepted?.(res.txid);
      }
      return out;
    }),
  );
}

async function retry<T>(fn: () => Promise<T>, forMs: number): Promise<T> {
  const until = Date.now() + forMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
