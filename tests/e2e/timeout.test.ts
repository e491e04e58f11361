/**
 * A task for a model that no node serves is never computed: the signer marks it timeout once
 * its deadline block passes, `market result` gets nothing, and `market reclaim` (the real CLI, as
 * a user runs it) returns exactly the fee to the requester.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { Pc, ClarityType, broadcastTransaction, makeSTXTokenTransfer } from '@stacks/transactions';
import { deployModelArgs, submitTaskArgs, INFERENCE_ESCROW, MODEL_REGISTRY } from '../../protocol/contracts/index.js';
import { sha256Hex } from '../../protocol/index.js';
import { walletFromKey } from '../../market/index.js';
import { ROOT } from '../../scripts/lib/services.js';
import type { Marketplace } from '../../scripts/lib/marketplace.js';
import { balance, marketChain } from '../../scripts/lib/workload.js';
import { key, marketplace } from './helpers.js';

const run = promisify(execFile);
let m: Marketplace;

beforeAll(async () => {
  ({ m } = await marketplace());
}, 240_000);
afterAll(async () => m?.stop(), 60_000);

describe('deadline', () => {
  it('times out a task no node serves, and market reclaim returns exactly the fee', async () => {
    const chain = marketChain(m);
    const owner = walletFromKey(key('wallet_6'), 'devnet');
    const requester = walletFromKey(key('wallet_4'), 'devnet');
    const orphanHash = sha256Hex(randomBytes(64));
    await chain.confirm(
      await chain.call(
        owner,
        MODEL_REGISTRY,
        'deploy',
        deployModelArgs({
          model: 'nobody-serves-this',
          artifactHash: orphanHash,
          format: 'onnx',
          price: 5_000,
          uri: 'none',
        }),
      ),
    );
    const head = (await chain.modelHead('nobody-serves-this'))!;
    const fee = 7_777n;
    const submit = await chain.confirm(
      await chain.call(
        requester,
        INFERENCE_ESCROW,
        'submit-task',
        submitTaskArgs({
          modelOutput: head.outputId!,
          inputHash: sha256Hex('x'),
          fee,
          maxBlocks: 5,
          privacy: 0,
          priority: 0,
        }),
        [Pc.principal(requester.address).willSendEq(fee).ustx()],
      ),
    );
    expect(submit.result.type).toBe(ClarityType.ResponseOk);
    const taskId = (submit.result as { value: { value: bigint } }).value.value;

    // Before the deadline the fee cannot be reclaimed.
    const early = await run(
      process.execPath,
      ['--import', 'tsx', 'market/cli.ts', 'reclaim', String(taskId), '--node', m.devnetUrl, '--signer', m.signerUrl],
      { cwd: ROOT, env: { ...process.env, MARKET_PRIVATE_KEY: requester.privateKey } },
    ).catch((e: { stderr: string; code: number }) => e);
    expect('code' in early && early.code).toBe(1);
    expect((early as { stderr: string }).stderr).toMatch(/deadline is block \d+ and the tip is \d+/);

    // Blocks pass (each transfer is mined in its own block) beyond the deadline (5 blocks, the contract's minimum).
    const sender = walletFromKey(key('wallet_5'), 'devnet');
    for (let i = 0; i < 6; i++) {
      const tx = await makeSTXTokenTransfer({
        recipient: owner.address,
        amount: 1n,
        senderKey: sender.privateKey,
        network: chain.network,
        fee: 200n,
      });
      const res = await broadcastTransaction({ transaction: tx, network: chain.network });
      await chain.confirm(res.txid);
    }
    await waitStatus(String(taskId), 'timeout');
    // A task not settled by its deadline never releases a result, not even to its requester (issue 12, attack 3).
    const withheld = await run(
      process.execPath,
      ['--import', 'tsx', 'market/cli.ts', 'result', String(taskId), '--node', m.devnetUrl, '--signer', m.signerUrl],
      { cwd: ROOT, env: { ...process.env, MARKET_PRIVATE_KEY: requester.privateKey } },
    ).catch((e: { stderr: string; code: number }) => e);
    expect('code' in withheld && withheld.code).toBe(1);
    expect((withheld as { stderr: string }).stderr).toMatch(
      /was not settled by its deadline.*never releases its result/,
    );

    const before = await balance(m.devnetUrl, requester.address);
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'market/cli.ts',
        'reclaim',
        String(taskId),
        '--json',
        '--node',
        m.devnetUrl,
        '--signer',
        m.signerUrl,
      ],
      { cwd: ROOT, env: { ...process.env, MARKET_PRIVATE_KEY: requester.privateKey } },
    );
    const out = JSON.parse(stdout) as { refunded: string; txid: string };
    expect(BigInt(out.refunded)).toBe(fee);
    const tx = (await (await fetch(`${m.devnetUrl}/extended/v1/tx/${out.txid}`)).json()) as { fee_rate: string };
    expect((await balance(m.devnetUrl, requester.address)) - before).toBe(fee - BigInt(tx.fee_rate));
    expect((await chain.task(BigInt(taskId)))!.status).toBe('refunded');
  }, 240_000);
});

async function waitStatus(id: string, want: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = '';
  while (Date.now() < deadline) {
    const res = await fetch(`${m.signerUrl}/api/v1/tasks/${id}/status`);
    if (res.ok) last = ((await res.json()) as { data: { status: string } }).data.status;
    if (last === want) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`task ${id} is ${last}, not ${want}, after 60 s`);
}
