/**
 * The node's bond, against the real devnet: `node-agent run` with an unfunded key stops with its
 * address and how to fund it; funded, the agent bonds the contract's minimum from its own key
 * before registering; `status`, `unbond` and `withdraw` take the stake through its lifecycle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cl, broadcastTransaction, makeSTXTokenTransfer } from '@stacks/transactions';
import { BondClient, ensureBond, loadOrCreateKey, NotFundedError, resolveConfig } from '../../node-agent/index.js';
import type { Devnet } from '../../devnet/index.js';
import { ROOT } from '../../scripts/lib/services.js';
import { fundNodeKey } from '../../scripts/lib/funding.js';
import { balance } from '../../scripts/lib/workload.js';
import { call, DEPLOYER, ESCROW, keyOf, mined, tempDevnet } from '../devnet/helpers.js';

const exec = promisify(execFile);
let devnet: Devnet;
let cleanup: () => Promise<void>;
let dir: string;

beforeAll(async () => {
  ({ devnet, cleanup } = await tempDevnet());
  dir = mkdtempSync(join(tmpdir(), 'node-bond-'));
  // Unbonding waits max-blocks + 1 blocks: the admin shortens it to the contract's minimum here.
  const { res } = await call(devnet, keyOf(devnet, 'deployer'), ESCROW, 'set-max-blocks', [Cl.uint(5)]);
  expect((await mined(devnet.url, (res as { txid: string }).txid)).tx_status).toBe('success');
}, 120_000);
afterAll(async () => {
  await cleanup?.();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the agent's CLI as an operator would; resolves with its exit code and output. */
async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      ['--import', 'tsx', 'node-agent/cli.ts', ...args, '--stacks-api', devnet.url],
      { cwd: ROOT, env: { ...process.env, NODE_AGENT_NETWORK: 'devnet' }, timeout: 60_000 },
    );
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: err.stdout + err.stderr };
  }
}

function clientOf(keyFile: string): BondClient {
  const cfg = resolveConfig({
    agent: { key_file: keyFile, network: 'devnet' },
    chain: { api_url: devnet.url, escrow_contract: ESCROW },
  });
  return new BondClient(cfg.chain, 'devnet', loadOrCreateKey(keyFile, 'devnet'));
}

/** Mines `blocks` blocks (the devnet mines one per transaction): one STX transfer each. */
async function advance(blocks: number): Promise<void> {
  const client = { baseUrl: devnet.url };
  for (let i = 0; i < blocks; i++) {
    const tx = await makeSTXTokenTransfer({
      recipient: DEPLOYER,
      amount: 1n,
      senderKey: keyOf(devnet, 'wallet_3'),
      network: 'testnet',
      client,
    });
    const res = await broadcastTransaction({ transaction: tx, network: 'testnet', client });
    if ('reason' in res) throw new Error(`transfer refused: ${res.reason}`);
    await mined(devnet.url, res.txid);
  }
}

describe('node bond', () => {
  it('run with a key that holds no STX stops before registering, printing its address and how to fund it', async () => {
    const keyFile = join(dir, 'unfunded.key');
    const { address } = loadOrCreateKey(keyFile, 'devnet');
    const { code, out } = await cli('run', '--key', keyFile, '--signer', 'http://127.0.0.1:9');
    expect(code).toBe(1);
    expect(out).toContain(`the node address ${address} holds 0 micro-STX; bond-node needs`);
    expect(out).toContain(`npm run devnet:fund -- ${address}`);
    await expect(ensureBond(clientOf(keyFile), 0n)).rejects.toBeInstanceOf(NotFundedError);
  }, 90_000);

  it('bonds the contract minimum from the node key once funded, once', async () => {
    const keyFile = join(dir, 'node.key');
    await fundNodeKey(devnet.url, keyFile);
    const client = clientOf(keyFile);
    const events: string[] = [];
    const bond = await ensureBond(client, 0n, (e) => events.push(e.kind));
    expect(bond).toMatchObject({ status: 'active', stake: 1_000_000n, operator: client.key.address });
    expect(events).toEqual(['bonding', 'mined']);
    // Already bonded: nothing is sent again.
    const spent = await balance(devnet.url, client.key.address);
    expect(await ensureBond(client, 0n, (e) => events.push(e.kind))).toMatchObject({
      status: 'active',
      stake: 1_000_000n,
    });
    expect(events.at(-1)).toBe('bonded');
    expect(await balance(devnet.url, client.key.address)).toBe(spent);
  });

  it('status, unbond and withdraw take the stake back after the unbonding delay', async () => {
    const keyFile = join(dir, 'cycle.key');
    await fundNodeKey(devnet.url, keyFile);
    const client = clientOf(keyFile);
    const bonded = await cli('bond', '--key', keyFile, '--amount', '2000000');
    expect(bonded.out).toContain('bonded: 2000000 micro-STX');
    expect((await cli('status', '--key', keyFile)).out).toMatch(/bond\s+active, stake 2000000 micro-STX/);

    const before = await balance(devnet.url, client.key.address);
    const unbonded = await cli('unbond', '--key', keyFile);
    expect(unbonded.code).toBe(0);
    expect(unbonded.out).toMatch(/unbonding \(tx 0x[0-9a-f]+\): the signer gives this node no more tasks/);
    // An unbonding key cannot run: it would get no task.
    const run = await cli('run', '--key', keyFile, '--signer', 'http://127.0.0.1:9');
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/is unbonding .*node-agent withdraw/);
    const early = await cli('withdraw', '--key', keyFile);
    expect(early.code).toBe(1);
    expect(early.out).toMatch(/withdrawable from block \d+; the chain is at \d+/);

    await advance(6);
    const withdrawn = await cli('withdraw', '--key', keyFile);
    expect(withdrawn.out).toContain('withdrew 2000000 micro-STX');
    expect(await client.getNode()).toBeNull();
    // The stake came back, less the fees of unbond and withdraw.
    const after = await balance(devnet.url, client.key.address);
    expect(after - before).toBeGreaterThan(2_000_000n - 20_000n);
    expect(after - before).toBeLessThanOrEqual(2_000_000n);
  }, 180_000);
});
