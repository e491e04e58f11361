/**
 * A devnet with a deployed model for the signer's chain tests: real signed transactions through
 * stacks.js, the contracts in the devnet's simnet. The signer's chain key is the deployer's
 * (an authorized signer of the escrow by default).
 */
import {
  fetchCallReadOnlyFunction,
  makeSTXTokenTransfer,
  broadcastTransaction,
  ClarityType,
} from '@stacks/transactions';
import {
  decodeTask,
  deployModelArgs,
  reclaimArgs,
  submitTaskArgs,
  MODEL_REGISTRY,
  type ChainTask,
} from '../../protocol/contracts/index.js';
import { sha256Hex } from '../../protocol/index.js';
import { StacksApiChain } from '../../signer/chain/stacks-api.js';
import type { Devnet } from '../../devnet/index.js';
import { call, DEPLOYER, ESCROW, keyOf, mined, tempDevnet } from '../devnet/helpers.js';
import { fundAndBond } from '../../scripts/lib/funding.js';
import type { NodeBond } from '../../node-agent/index.js';

export { ESCROW };

/** A devnet, a live model, and helpers to submit tasks and move the chain forward. */
export interface ChainFixture {
  devnet: Devnet;
  artifactHash: string;
  modelOutput: bigint;
  signerKey: string;
  chain(): StacksApiChain;
  /** Submits a task as wallet_2 and returns its txid (mined before returning; throws when the escrow refused it). */
  submitTask(inputHash: string, maxBlocks?: number): Promise<string>;
  /** The escrow's min-blocks (get-config): the shortest max-blocks a task may ask. */
  minBlocks(): Promise<number>;
  /** Mines `n` blocks (one STX transfer each). */
  advance(n: number): Promise<void>;
  task(id: bigint): Promise<ChainTask | null>;
  /** Funds a node key's address and bonds the minimum stake (or `stake`) under it, from that key, as an agent does. */
  bond(nodeKey: string, stake?: bigint): Promise<NodeBond>;
  cleanup(): Promise<void>;
}

/** Starts a devnet and deploys one model priced 1,000 micro-STX. */
export async function chainFixture(): Promise<ChainFixture> {
  const { devnet, cleanup } = await tempDevnet();
  const artifactHash = sha256Hex(`artifact-${Date.now()}-${Math.random()}`);
  const dep = await call(
    devnet,
    keyOf(devnet, 'wallet_1'),
    `${DEPLOYER}.${MODEL_REGISTRY}`,
    'deploy',
    deployModelArgs({
      model: 'mnist',
      artifactHash,
      format: 'onnx',
      price: 1000,
      uri: 'https://models.example/mnist.onnx',
    }),
  );
  if ('reason' in dep.res) throw new Error(`deploy refused: ${JSON.stringify(dep.res)}`);
  await devnet.idle();
  const client = { baseUrl: devnet.url };
  const signerKey = keyOf(devnet, 'deployer');
  return {
    devnet,
    artifactHash,
    modelOutput: 1n,
    signerKey,
    chain: () =>
      new StacksApiChain({ apiUrl: devnet.url, network: 'devnet', escrowContract: ESCROW, privateKey: signerKey }),
    async submitTask(inputHash, maxBlocks = 100) {
      const { res } = await call(
        devnet,
        keyOf(devnet, 'wallet_2'),
        ESCROW,
        'submit-task',
        submitTaskArgs({ modelOutput: 1n, inputHash, fee: 1000, maxBlocks, privacy: 0, priority: 1 }),
      );
      if ('reason' in res) throw new Error(`submit-task refused: ${JSON.stringify(res)}`);
      await devnet.idle();
      // An aborted call is mined too: without this a refused task (say max-blocks below min-blocks)
      // surfaces only as a signer that never sees it.
      const tx = await mined(devnet.url, res.txid);
      if (tx.tx_status !== 'success')
        throw new Error(`submit-task ${res.txid}: ${tx.tx_status} ${tx.tx_result?.repr ?? ''}`);
      return res.txid;
    },
    async minBlocks() {
      const [address, name] = ESCROW.split('.');
      const cfg = await fetchCallReadOnlyFunction({
        contractAddress: address,
        contractName: name,
        functionName: 'get-config',
        functionArgs: [],
        senderAddress: DEPLOYER,
        network: 'testnet',
        client,
      });
      const v = cfg.type === ClarityType.Tuple ? cfg.value['min-blocks'] : undefined;
      if (v?.type !== ClarityType.UInt) throw new Error('get-config has no min-blocks');
      return Number(v.value);
    },
    async advance(n) {
      const key = keyOf(devnet, 'wallet_3');
      for (let i = 0; i < n; i++) {
        const tx = await makeSTXTokenTransfer({
          recipient: DEPLOYER,
          amount: 1n,
          senderKey: key,
          network: 'testnet',
          client,
        });
        await broadcastTransaction({ transaction: tx, network: 'testnet', client });
        await devnet.idle();
      }
    },
    async task(id) {
      const [address, name] = ESCROW.split('.');
      const cv = await fetchCallReadOnlyFunction({
        contractAddress: address,
        contractName: name,
        functionName: 'get-task',
        functionArgs: reclaimArgs(id),
        senderAddress: DEPLOYER,
        network: 'testnet',
        client,
      });
      return decodeTask(cv);
    },
    bond: (nodeKey, stake) => fundAndBond(devnet.url, nodeKey, { escrow: ESCROW, ...(stake ? { stake } : {}) }),
    cleanup,
  };
}

/** Polls `check` until it returns a truthy value or `ms` pass. */
export async function until<T>(what: string, check: () => Promise<T> | T, ms = 20_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
