/** StacksApiChain against a running devnet: events after a cursor, signed calls, status, nonces. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import {
  makeSTXTokenTransfer,
  broadcastTransaction,
  makeRandomPrivKey,
  privateKeyToPublic,
  privateKeyToAddress,
  compressPrivateKey,
  fetchCallReadOnlyFunction,
  ClarityType,
} from '@stacks/transactions';
import { signTaskResult } from '../../protocol/sip018/index.js';
import { StacksApiChain, BroadcastRejected } from '../../signer/chain/stacks-api.js';
import type { TaskSubmittedEvent, TxStatus } from '../../signer/chain/types.js';
import type { Devnet } from '../../devnet/index.js';
import { tempDevnet, keyOf, addressOf, call, deployModel, taskArgs, ESCROW, randomHash, getJson } from './helpers.js';
import { fundAddress, fundAndBond, NODE_FUNDING } from '../../scripts/lib/funding.js';

let devnet: Devnet;
let cleanup: () => Promise<void>;
let output: bigint;

const chainFor = (key: string) =>
  new StacksApiChain({ apiUrl: devnet.url, network: 'devnet', escrowContract: ESCROW, privateKey: key });

beforeAll(async () => {
  ({ devnet, cleanup } = await tempDevnet());
  output = await deployModel(devnet, 'adapter-model', 100);
});
afterAll(async () => cleanup?.());

/** Submits `n` tasks from `wallet`, nonces from `from`; returns the input hashes in order. */
async function submitTasks(wallet: string, n: number, from: bigint, maxBlocks = 100): Promise<void> {
  for (let i = 0; i < n; i++) {
    const { res } = await call(
      devnet,
      keyOf(devnet, wallet),
      ESCROW,
      'submit-task',
      taskArgs(output, 100, maxBlocks),
      from + BigInt(i),
    );
    if ('reason' in res) throw new Error(JSON.stringify(res));
  }
  await devnet.idle();
}

/** A uint field of the escrow's get-config. */
async function escrowConfigUint(field: string): Promise<number> {
  const [contractAddress, contractName] = ESCROW.split('.');
  const cfg = await fetchCallReadOnlyFunction({
    contractAddress,
    contractName,
    functionName: 'get-config',
    functionArgs: [],
    senderAddress: contractAddress,
    network: 'testnet',
    client: { baseUrl: devnet.url },
  });
  const v = cfg.type === ClarityType.Tuple ? cfg.value[field] : undefined;
  if (v?.type !== ClarityType.UInt) throw new Error(`get-config has no uint ${field}`);
  return Number(v.value);
}

async function settle(chain: StacksApiChain, txid: string): Promise<TxStatus> {
  for (let i = 0; i < 200; i++) {
    const s = await chain.txStatus(txid);
    if (s.status !== 'pending') return s;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`transaction ${txid} still pending`);
}

describe('StacksApiChain on the devnet', () => {
  it('reads task-submitted events after a persisted cursor, across pages and restarts, without gaps or duplicates', async () => {
    await submitTasks('wallet_2', 70, 0n);
    const seen: TaskSubmittedEvent[] = [];
    let cursor: string | null = null;
    // A fresh adapter each round stands for a signer restart that kept only the cursor string.
    let r = await chainFor(keyOf(devnet, 'deployer')).readTaskEvents(cursor, 30);
    seen.push(...r.events);
    cursor = r.cursor;
    await submitTasks('wallet_3', 45, 0n); // appended while the reader is behind
    for (let round = 0; round < 10; round++) {
      r = await chainFor(keyOf(devnet, 'deployer')).readTaskEvents(cursor, 30);
      seen.push(...r.events);
      cursor = r.cursor;
      if (r.events.length === 0) break;
    }
    const ids = seen.map((e) => Number(e.chainTaskId));
    expect(ids).toEqual(Array.from({ length: 115 }, (_, i) => i + 1));
    expect(seen[0]).toMatchObject({
      requester: addressOf(devnet, 'wallet_2'),
      modelOutput: output,
      model: 'adapter-model',
      fee: 100n,
      privacy: 0,
      priority: 1,
    });
    expect(seen[114].requester).toBe(addressOf(devnet, 'wallet_3'));
    const tx = await getJson(devnet, `/extended/v1/tx/${seen[0].txid}`);
    expect(seen[0].blockHeight).toBe(tx.block_height);
    expect(seen[0].deadline).toBe(BigInt(tx.block_height + 100));
    // A cursor whose event vanished (a reorganization) falls back on its block height.
    const lost = JSON.stringify({ h: seen[100].blockHeight, tx: `0x${'00'.repeat(32)}`, ei: 0 });
    const fromHeight = await chainFor(keyOf(devnet, 'deployer')).readTaskEvents(lost, 1000);
    expect(fromHeight.events.map((e) => Number(e.chainTaskId))).toEqual(ids.filter((id) => id >= 101));
    // Nothing new: same cursor, no events.
    const again = await chainFor(keyOf(devnet, 'deployer')).readTaskEvents(cursor, 30);
    expect(again.events).toEqual([]);
    await expect(chainFor(keyOf(devnet, 'deployer')).readTaskEvents('garbage', 5)).rejects.toThrow(/pass null/);
  });

  it('settles a complete-tasks batch and decodes each item result (a bad signature fails alone)', async () => {
    const chain = chainFor(keyOf(devnet, 'deployer'));
    const nodeKey = compressPrivateKey(makeRandomPrivKey());
    const nodePub = privateKeyToPublic(nodeKey) as string;
    // The escrow pays only bonded keys: the node bonds the minimum from its own address first.
    // Funded from wallet_5, not the faucet, whose nonce the fee-cap test below counts from 0.
    await fundAddress(devnet.url, privateKeyToAddress(nodeKey, 'testnet'), NODE_FUNDING, 'wallet_5');
    expect(await fundAndBond(devnet.url, nodeKey, { escrow: ESCROW })).toMatchObject({ status: 'active' });
    // The three newest tasks: still before their deadline.
    const events = (await chain.readTaskEvents(null, 1000)).events.slice(-3);
    const items = events.map((ev) => {
      const outputHash = randomHash();
      const signature = signTaskResult(
        { escrow: ESCROW, taskId: ev.chainTaskId, inputHash: ev.inputHash, outputHash },
        chain.chainId,
        nodeKey,
      );
      return { chainTaskId: ev.chainTaskId, outputHash, nodePublicKey: nodePub, signature };
    });
    items[2] = { ...items[2], outputHash: randomHash() }; // signature no longer matches the output
    const tx = await chain.buildCompleteTasks(items);
    expect(tx.txid).toMatch(/^[0-9a-f]{64}$/);
    await chain.broadcast(tx);
    const s = await settle(chain, tx.txid);
    expect(s.status).toBe('success');
    if (s.status !== 'success') return;
    expect(s.itemResults).toHaveLength(3);
    // fee 100, minus the owner's 10 % and the treasury's 5 %: the node gets 85 per task.
    expect(s.itemResults![0]).toEqual({ ok: true, payout: 85n });
    expect(s.itemResults![1]).toEqual({ ok: true, payout: 85n });
    expect(s.itemResults![2]).toEqual({ ok: false, code: 2016 });
    const t = await getJson(devnet, `/extended/v1/tx/${tx.txid}`);
    expect(t.post_conditions).toEqual([
      expect.objectContaining({ type: 'stx', amount: '0', condition_code: 'sent_equal_to' }),
    ]);
    expect(BigInt(t.fee_rate)).toBeLessThanOrEqual(1_000_000n);
  });

  it('reports a reclaim before the deadline as aborted, and settles it after the deadline', async () => {
    const chain = chainFor(keyOf(devnet, 'wallet_4'));
    // The shortest task the escrow takes (get-config's min-blocks): its deadline is the nearest one can get.
    const minBlocks = await escrowConfigUint('min-blocks');
    const before = (await chain.readTaskEvents(null, 1000)).events.length;
    await submitTasks('wallet_4', 1, 0n, minBlocks);
    const events = (await chain.readTaskEvents(null, 1000)).events;
    expect(events).toHaveLength(before + 1);
    const id = events[before].chainTaskId;
    expect(events[before]).toMatchObject({
      requester: addressOf(devnet, 'wallet_4'),
      deadline: BigInt(events[before].blockHeight + minBlocks),
    });
    const early = await chain.buildReclaim(id);
    await chain.broadcast(early);
    const s = await settle(chain, early.txid);
    expect(s).toMatchObject({ status: 'aborted', reason: expect.stringMatching(/abort_by_response.*2015/) });
    await fetch(`${devnet.url}/devnet/mine`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ blocks: minBlocks + 1 }),
    });
    const late = await chain.buildReclaim(id);
    expect(late.nonce).toBe(early.nonce + 1n);
    await chain.broadcast(late);
    expect(await settle(chain, late.txid)).toMatchObject({ status: 'success' });
  });

  it('resyncs its nonce after a rejection caused by another user of the key, and never reuses one in flight', async () => {
    const key = keyOf(devnet, 'wallet_7');
    const chain = chainFor(key);
    const a = await chain.buildReclaim(1n);
    const b = await chain.buildReclaim(1n);
    expect([a.nonce, b.nonce]).toEqual([0n, 1n]);
    await chain.broadcast(a);
    await chain.broadcast(b);
    // Another process signs with the same key and takes nonce 2 first.
    const other = await makeSTXTokenTransfer({
      recipient: addressOf(devnet, 'wallet_8'),
      amount: 1n,
      senderKey: key,
      network: 'testnet',
      client: { baseUrl: devnet.url },
      nonce: 2,
    });
    await broadcastTransaction({ transaction: other, network: 'testnet', client: { baseUrl: devnet.url } });
    await devnet.idle();
    const c = await chain.buildReclaim(1n);
    expect(c.nonce).toBe(2n);
    await expect(chain.broadcast(c)).rejects.toThrow(BroadcastRejected);
    const d = await chain.buildReclaim(1n);
    expect(d.nonce).toBe(3n);
    await chain.broadcast(d);
    expect((await settle(chain, d.txid)).status).toBe('aborted'); // task 1 is paid: the contract says no, but the nonce was right
  });

  it('maps a dropped transaction and an unknown txid', async () => {
    const key = keyOf(devnet, 'wallet_8');
    const me = addressOf(devnet, 'wallet_8');
    const chain = chainFor(key);
    const client = { baseUrl: devnet.url };
    const balance = BigInt((await getJson(devnet, `/v2/accounts/${me}`)).balance);
    const nonce = BigInt((await getJson(devnet, `/extended/v1/address/${me}/nonces`)).possible_next_nonce);
    // The later nonce arrives first and waits; the earlier one then escrows almost everything,
    // which admission cannot foresee (it only counts fees and transfer amounts).
    const later = await makeSTXTokenTransfer({
      recipient: addressOf(devnet, 'wallet_1'),
      amount: 1n,
      senderKey: key,
      network: 'testnet',
      client,
      nonce: nonce + 1n,
      fee: 1000,
    });
    await broadcastTransaction({ transaction: later, network: 'testnet', client });
    expect(await chain.txStatus(later.txid())).toEqual({ status: 'pending' });
    const { tx: drain } = await call(
      devnet,
      key,
      ESCROW,
      'submit-task',
      taskArgs(output, Number(balance - 2000n - 500n), 100),
      nonce,
      2000n,
    );
    await devnet.idle();
    expect((await chain.txStatus(drain.txid())).status).toBe('success');
    expect(await chain.txStatus(later.txid())).toEqual({ status: 'dropped', reason: 'dropped_too_expensive' });
    expect(await chain.txStatus('ab'.repeat(32))).toEqual({ status: 'not_found' });
  });

  it('never pays more than its fee cap, even when the node would then refuse the transaction', async () => {
    const capped = new StacksApiChain({
      apiUrl: devnet.url,
      network: 'devnet',
      escrowContract: ESCROW,
      privateKey: keyOf(devnet, 'faucet'),
      maxFee: 50n,
    });
    const tx = await capped.buildReclaim(1n);
    const t = (await import('@stacks/transactions')).deserializeTransaction(tx.raw);
    expect(t.auth.spendingCondition.fee).toBe(50n); // below the 1 micro-STX a byte any node requires
    await expect(capped.broadcast(tx)).rejects.toMatchObject({ reason: 'FeeTooLow' });
    const roomy = new StacksApiChain({
      apiUrl: devnet.url,
      network: 'devnet',
      escrowContract: ESCROW,
      privateKey: keyOf(devnet, 'faucet'),
    });
    const ok = await roomy.buildReclaim(1n);
    expect(ok.nonce).toBe(0n); // the rejected transaction's nonce was not consumed
    await roomy.broadcast(ok);
  });

  it('refuses a bad configuration with a message saying what to fix', () => {
    expect(
      () =>
        new StacksApiChain({
          apiUrl: devnet.url,
          network: 'devnet',
          escrowContract: 'inference-escrow',
          privateKey: keyOf(devnet, 'deployer'),
        }),
    ).toThrow(/contract principal/);
    expect(
      () => new StacksApiChain({ apiUrl: devnet.url, network: 'devnet', escrowContract: ESCROW, privateKey: 'nope' }),
    ).toThrow(/privateKey/);
  });
});
