/**
 * 50 tasks submitted on chain by three wallets are computed by a real node agent, signed,
 * batched by the signer and settled by the escrow: every party's balance moves by exactly its
 * share, and the escrow keeps nothing that is settled.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fetchCallReadOnlyFunction, type TupleCV, type UIntCV } from '@stacks/transactions';
import { ROOT } from '../../scripts/lib/services.js';
import { DEMO_MODEL, DEMO_PRICE, type Marketplace } from '../../scripts/lib/marketplace.js';
import { DEV_ESCROW, balance, settlementEvents, submitTasks, waitSettled } from '../../scripts/lib/workload.js';
import { address, key, marketplace } from './helpers.js';

const run = promisify(execFile);
let m: Marketplace;
let input: string;

beforeAll(async () => {
  // The signer and the treasury have keys of their own (set by the admin), so the treasury pays no fee.
  ({ m, input } = await marketplace());
}, 240_000);
afterAll(async () => m?.stop(), 60_000);

describe('on-chain tasks end to end', () => {
  it('settles 50 tasks from 3 accounts, paying node, owner and treasury exactly their shares', async () => {
    const owner = address('wallet_7');
    const treasury = m.roles.treasury.address;
    expect(new Set([treasury, m.roles.signer.address, m.roles.admin.address]).size).toBe(3);
    // node-1 bonded its stake before registering; from now on its address only receives payouts.
    const nodeAddress = m.nodeAddress('node-1');
    const before = {
      owner: await balance(m.devnetUrl, owner),
      treasury: await balance(m.devnetUrl, treasury),
      node: await balance(m.devnetUrl, nodeAddress),
    };

    const ids = await submitTasks(m, {
      model: DEMO_MODEL,
      walletKeys: [key('wallet_1'), key('wallet_2'), key('wallet_3')],
      count: 50,
      inputFile: input,
    });
    expect(new Set(ids).size).toBe(50);
    const counts = await waitSettled(m.signerUrl, ids, 180_000);
    expect(counts.get('settled')).toBe(50);

    const events = (await settlementEvents(m.devnetUrl, DEV_ESCROW)).filter((e) => ids.includes(e.taskId));
    // each task paid exactly once
    expect(events.map((e) => e.taskId).sort()).toEqual([...ids].sort());
    for (const e of events) {
      expect(e.fee).toBe(DEMO_PRICE);
      expect(e.nodePayout + e.ownerPayout + e.treasuryPayout).toBe(e.fee);
      expect(e.ownerPayout).toBe((e.fee * 1000n) / 10000n);
      expect(e.treasuryPayout).toBe((e.fee * 500n) / 10000n);
    }
    const nodes = new Set(events.map((e) => e.node));
    expect(nodes.size).toBe(1);
    const [node] = nodes;
    expect(node).toBe(nodeAddress);
    const sum = (f: (e: (typeof events)[number]) => bigint) => events.reduce((a, e) => a + f(e), 0n);

    // Every party's balance moved by exactly its payouts.
    expect((await balance(m.devnetUrl, node)) - before.node).toBe(sum((e) => e.nodePayout));
    expect((await balance(m.devnetUrl, owner)) - before.owner).toBe(sum((e) => e.ownerPayout));
    expect((await balance(m.devnetUrl, treasury)) - before.treasury).toBe(sum((e) => e.treasuryPayout));
    // Nothing settled stays in escrow: the contract holds the node's stake alone.
    const [contractAddress, contractName] = DEV_ESCROW.split('.') as [string, string];
    const totals = (await fetchCallReadOnlyFunction({
      contractAddress,
      contractName,
      functionName: 'get-totals',
      functionArgs: [],
      senderAddress: contractAddress,
      network: 'testnet',
      client: { baseUrl: m.devnetUrl },
    })) as TupleCV<Record<string, UIntCV>>;
    expect(BigInt(totals.value.escrowed.value)).toBe(0n);
    expect(await balance(m.devnetUrl, DEV_ESCROW)).toBe(BigInt(totals.value['stake-locked'].value));
  }, 300_000);

  it('market submit --binary uploads the binary tensor form; the node computes the same output as from JSON', async () => {
    const submit = async (...extra: string[]) => {
      const args = [
        '--import',
        'tsx',
        'market/cli.ts',
        'submit',
        '--model',
        DEMO_MODEL,
        '--input',
        input,
        '--json',
        '--node',
        m.devnetUrl,
        '--signer',
        m.signerUrl,
        ...extra,
      ];
      const { stdout } = await run(process.execPath, args, {
        cwd: ROOT,
        env: { ...process.env, MARKET_PRIVATE_KEY: key('wallet_4') },
      });
      return JSON.parse(stdout.trim().split('\n').pop()!) as {
        status: string;
        inputHash: string;
        output_hash: string;
        signature_verified: boolean;
      };
    };
    const [json, binary] = await Promise.all([submit(), submit('--binary')]);
    expect(binary.inputHash).not.toBe(json.inputHash);
    expect([json.status, binary.status]).toEqual(['settled', 'settled']);
    expect(binary.signature_verified).toBe(true);
    expect(binary.output_hash).toBe(json.output_hash);
  }, 240_000);
});
