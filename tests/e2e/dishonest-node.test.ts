/**
 * Nodes that cheat are refused and the task still settles correctly through an honest node:
 * a wrong output hash, a forged signature, and a result for a task leased to another node.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { randomPrivateKey, privateKeyToPublic, compressPublicKey, privateKeyToAddress } from '@stacks/transactions';
import { SignerClient, SignerError, signResult } from '../../node-agent/index.js';
import { CHAIN_ID, jsonHash, sha256Hex, type PulledTask } from '../../protocol/index.js';
import { SignerClient as MarketSignerClient, walletFromKey } from '../../market/index.js';
import { DEMO_MODEL, classifierPath, type Marketplace } from '../../scripts/lib/marketplace.js';
import { DEV_ESCROW, settlementEvents, submitTasks, waitSettled } from '../../scripts/lib/workload.js';
import { fundAndBond } from '../../scripts/lib/funding.js';
import { key, marketplace } from './helpers.js';

let m: Marketplace;
let input: string;

beforeAll(async () => {
  ({ m, input } = await marketplace({ withoutAgent: true }));
}, 240_000);
afterAll(async () => m?.stop(), 60_000);

function rogue(nodeId: string) {
  const privateKey = randomPrivateKey();
  const client = new SignerClient({
    baseUrl: m.signerUrl,
    nodeId,
    privateKey,
    chainId: CHAIN_ID.testnet,
    timeoutMs: 10_000,
  });
  // Bonded like any node (the signer registers no other): what it cheats with is its stake.
  const register = async () => {
    await fundAndBond(m.devnetUrl, privateKey);
    return client.register({
      node_id: nodeId,
      endpoint: '',
      public_key: compressPublicKey(privateKeyToPublic(privateKey)),
      supported_models: [sha256Hex(readFileSync(classifierPath()))],
      performance_score: 500,
    });
  };
  return { nodeId, privateKey, client, register, address: privateKeyToAddress(privateKey, 'testnet') };
}

async function status(_client: SignerClient, call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (e) {
    if (e instanceof SignerError) return e.status;
    throw e;
  }
}

describe('dishonest nodes', () => {
  it('refuses wrong hashes, forged signatures and results for others’ tasks; an honest node settles the task', async () => {
    const a = rogue('rogue-a');
    const b = rogue('rogue-b');
    await a.register();
    await b.register();
    const [taskId] = await submitTasks(m, {
      model: DEMO_MODEL,
      walletKeys: [key('wallet_1')],
      count: 1,
      inputFile: input,
    });
    const task = (await a.client.pull(10)) as PulledTask;
    expect(task.task_id).toBe(String(taskId));

    const fakeOutput = { outputs: [{ name: 'softmax_0.tmp_0', shape: [1, 2], datatype: 'FP32', data: [1, 0] }] };
    const honestlySigned = signResult(task, a, { output: fakeOutput as never, confidence: 1 });
    // 1. the output hash does not match the output
    const wrongHash = { ...honestlySigned, output_hash: sha256Hex('another output') };
    expect(await status(a.client, a.client.complete(wrongHash))).toBe(400);
    // 2. a signature by a key other than the registered one
    const forged = signResult(
      task,
      { nodeId: a.nodeId, privateKey: randomPrivateKey() },
      { output: fakeOutput as never, confidence: 1 },
    );
    expect(await status(a.client, a.client.complete(forged))).toBe(401);
    // 3. node b posts, correctly signed by itself, a result for the task leased to a
    const other = signResult(task, b, { output: fakeOutput as never, confidence: 1 });
    expect(await status(b.client, b.client.complete(other))).toBe(409);

    // Rogue a walks away; its lease expires and the honest agent computes the real result.
    await m.startAgent('node-1');
    const counts = await waitSettled(m.signerUrl, [taskId], 120_000);
    expect(counts.get('settled')).toBe(1);
    const [paid] = (await settlementEvents(m.devnetUrl, DEV_ESCROW)).filter((e) => e.taskId === taskId);
    expect([a.address, b.address]).not.toContain(paid.node);
    // The result is the requester's (wallet_1 submitted the task), read with a request it signs.
    expect((await fetch(`${m.signerUrl}/api/v1/tasks/${taskId}/result`)).status).toBe(401);
    const result = {
      data: await new MarketSignerClient(m.signerUrl).result(String(taskId), walletFromKey(key('wallet_1'), 'devnet')),
    };
    expect(result.data.inference_node_id).toBe('node-1');
    expect(paid.outputHash).toBe(jsonHash(result.data.output));
    expect(paid.outputHash).not.toBe(jsonHash(fakeOutput));
  }, 240_000);
});
