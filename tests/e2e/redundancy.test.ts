/**
 * A level-3 task on the real marketplace (devnet, signer process, bonded node keys): three nodes
 * run it, one answers a made-up output, and settlement pays the two that agree and slashes the
 * third on chain, with the requester compensated from its stake (issue 12, attack 1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import {
  compressPublicKey,
  fetchCallReadOnlyFunction,
  type ClarityValue,
  privateKeyToAddress,
  privateKeyToPublic,
  randomPrivateKey,
} from '@stacks/transactions';
import { SignerClient, encodeOutputs, signResult, type Feeds } from '../../node-agent/index.js';
import {
  decodeNodeBond,
  decodeTask,
  nodeKeyArgs,
  reclaimArgs,
  INFERENCE_ESCROW,
} from '../../protocol/contracts/index.js';
import {
  CHAIN_ID,
  decodeTensor,
  inferenceInputsSchema,
  sha256Hex,
  type InferenceOutputs,
  type PulledTask,
} from '../../protocol/index.js';
import { DEMO_MODEL, classifierPath, type Marketplace } from '../../scripts/lib/marketplace.js';
import { fundAndBond } from '../../scripts/lib/funding.js';
import { DEV_ESCROW, balance, submitTasks, waitSettled } from '../../scripts/lib/workload.js';
import { key, marketplace } from './helpers.js';

let m: Marketplace;
let input: string;

beforeAll(async () => {
  ({ m, input } = await marketplace({ withoutAgent: true }));
}, 240_000);
afterAll(async () => m?.stop(), 60_000);

/** A node that talks the protocol itself: bonded on chain, registered, pulling and posting signed results. */
async function node(nodeId: string) {
  const privateKey = randomPrivateKey();
  const publicKey = compressPublicKey(privateKeyToPublic(privateKey));
  await fundAndBond(m.devnetUrl, privateKey);
  const client = new SignerClient({
    baseUrl: m.signerUrl,
    nodeId,
    privateKey,
    chainId: CHAIN_ID.testnet,
    timeoutMs: 10_000,
  });
  await client.register({
    node_id: nodeId,
    endpoint: '',
    public_key: publicKey,
    supported_models: [sha256Hex(readFileSync(classifierPath()))],
    performance_score: 1,
  });
  return { nodeId, privateKey, publicKey, client, address: privateKeyToAddress(privateKey, 'testnet') };
}

async function readOnly(fn: string, args: ClarityValue[]) {
  const [contractAddress] = DEV_ESCROW.split('.');
  return fetchCallReadOnlyFunction({
    contractAddress: contractAddress!,
    contractName: INFERENCE_ESCROW,
    functionName: fn,
    functionArgs: args,
    senderAddress: contractAddress!,
    network: 'devnet',
    client: { baseUrl: m.devnetUrl },
  });
}

describe('a level-3 task with a lying node', () => {
  it('pays the two nodes that agree, slashes the liar on chain and compensates the requester', async () => {
    const nodes = [await node('honest-1'), await node('honest-2'), await node('liar')];
    // The honest output: the real classifier on the task's input, in the canonical form the task asks for.
    const session = await ort.InferenceSession.create(classifierPath());
    const doc = inferenceInputsSchema.parse(JSON.parse(readFileSync(input, 'utf8')));
    const raw = decodeTensor(doc.inputs[0]!);
    const result = await session.run({ x: new ort.Tensor('float32', raw.data as Float32Array, raw.dims) });
    const feeds: Feeds = Object.fromEntries(
      Object.entries(result).map(([k, t]) => [
        k,
        { datatype: 'FP32', dims: [...t.dims], data: t.data as Float32Array },
      ]),
    );
    const requester = key('wallet_2');
    const requesterAddress = privateKeyToAddress(requester, 'testnet');
    const [taskId] = await submitTasks(m, {
      model: DEMO_MODEL,
      walletKeys: [requester],
      count: 1,
      inputFile: input,
      security: 3,
    });
    const before = await balance(m.devnetUrl, requesterAddress);
    const paidBefore = await Promise.all(nodes.map((n) => balance(m.devnetUrl, n.address)));

    for (const n of nodes) {
      const task = (await n.client.pull(10)) as PulledTask;
      expect(task.task_id).toBe(String(taskId));
      const encoded = encodeOutputs(feeds, Object.keys(feeds), task.precision ?? 0);
      const output =
        n.nodeId === 'liar'
          ? { outputs: [{ name: Object.keys(feeds)[0]!, shape: [1, 2], datatype: 'FP32', data: [1, 0] }] }
          : (JSON.parse(encoded.json) as InferenceOutputs);
      await n.client.complete(signResult(task, n, { output: output as InferenceOutputs, confidence: 1 }));
    }

    const counts = await waitSettled(m.signerUrl, [taskId!], 60_000);
    expect(counts.get('settled')).toBe(1);
    const onChain = decodeTask(await readOnly('get-task', reclaimArgs(taskId!)))!;
    expect(onChain.status).toBe('paid');
    const liar = decodeNodeBond(await readOnly('get-node', nodeKeyArgs(nodes[2]!.publicKey)))!;
    expect(liar.status).toBe('slashed');
    // Slashed fee * 10000 / sample-bps (capped at the stake): half to the two honest nodes, the rest to the requester.
    const slashed = [(onChain.fee * 10_000n) / BigInt(onChain.sampleBps), liar.stake];
    const honestBond = decodeNodeBond(await readOnly('get-node', nodeKeyArgs(nodes[0]!.publicKey)))!;
    const taken = honestBond.stake - liar.stake; // honest and liar bonded the same stake
    expect(taken).toBe(slashed[0]! < honestBond.stake ? slashed[0] : honestBond.stake);
    const after = await Promise.all(nodes.map((n) => balance(m.devnetUrl, n.address)));
    const nodeShare =
      onChain.fee -
      (onChain.fee * BigInt(onChain.ownerBps)) / 10_000n -
      (onChain.fee * BigInt(onChain.treasuryBps)) / 10_000n;
    const bounty = taken / 2n / 2n;
    expect(after[0]! - paidBefore[0]!).toBe(nodeShare / 2n + bounty);
    expect(after[1]! - paidBefore[1]!).toBe(nodeShare / 2n + bounty);
    expect(after[2]).toBe(paidBefore[2]);
    expect((await balance(m.devnetUrl, requesterAddress)) - before).toBe(taken - 2n * bounty);

    // The slashed key gets no more tasks: it is out of the registry.
    const [next] = await submitTasks(m, {
      model: DEMO_MODEL,
      walletKeys: [key('wallet_3')],
      count: 1,
      inputFile: input,
    });
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await nodes[2]!.client.pull(1)).toBeNull();
    const task = (await nodes[0]!.client.pull(10)) as PulledTask;
    expect(task.task_id).toBe(String(next));
  }, 180_000);
});
