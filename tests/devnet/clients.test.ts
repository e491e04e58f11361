/** The official clients, unmodified, against a running devnet. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import {
  Cl,
  broadcastTransaction,
  fetchCallReadOnlyFunction,
  fetchNonce,
  makeSTXTokenTransfer,
  cvToString,
} from '@stacks/transactions';
import { createClient } from '@stacks/blockchain-api-client';
import { decodeTaskSubmitted } from '../../protocol/contracts/index.js';
import { deserializeCV } from '@stacks/transactions';
import type { Devnet } from '../../devnet/index.js';
import { FEE_SINK } from '../../devnet/index.js';
import { tempDevnet, keyOf, addressOf, call, deployModel, taskArgs, ESCROW, DEPLOYER, getJson } from './helpers.js';

let devnet: Devnet;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ devnet, cleanup } = await tempDevnet());
});
afterAll(async () => cleanup?.());

describe('devnet with stacks.js and the blockchain API client', () => {
  it('prints funded dev accounts whose keys control their addresses', () => {
    expect(devnet.accounts.find((a) => a.name === 'deployer')?.address).toBe(DEPLOYER);
    expect(devnet.accounts.filter((a) => a.secretKey).length).toBeGreaterThanOrEqual(9);
    for (const a of devnet.accounts) expect(a.balance).toBe(100_000_000_000_000n);
  });

  it('takes an STX transfer from broadcastTransaction, debits amount and fee, and advances fetchNonce', async () => {
    const sender = addressOf(devnet, 'wallet_2');
    const recipient = addressOf(devnet, 'wallet_3');
    const client = { baseUrl: devnet.url };
    expect(await fetchNonce({ address: sender, network: 'testnet', client })).toBe(0n);
    const tx = await makeSTXTokenTransfer({
      recipient,
      amount: 5000n,
      senderKey: keyOf(devnet, 'wallet_2'),
      network: 'testnet',
      client,
      memo: 'hello',
    });
    const fee = tx.auth.spendingCondition.fee;
    const res = await broadcastTransaction({ transaction: tx, network: 'testnet', client });
    expect(res).toEqual({ txid: tx.txid() });
    await devnet.idle();
    expect(await fetchNonce({ address: sender, network: 'testnet', client })).toBe(1n);
    const acct = await getJson(devnet, `/v2/accounts/${sender}`);
    expect(BigInt(acct.balance)).toBe(100_000_000_000_000n - 5000n - fee);
    expect(BigInt((await getJson(devnet, `/v2/accounts/${recipient}`)).balance)).toBe(100_000_000_000_000n + 5000n);
    expect(BigInt((await getJson(devnet, `/v2/accounts/${FEE_SINK}`)).balance)).toBeGreaterThanOrEqual(fee);
    const t = await getJson(devnet, `/extended/v1/tx/${tx.txid()}`);
    expect(t).toMatchObject({
      tx_status: 'success',
      tx_type: 'token_transfer',
      sender_address: sender,
      nonce: 0,
      fee_rate: fee.toString(),
    });
    expect(t.token_transfer).toMatchObject({ recipient_address: recipient, amount: '5000' });
    expect(t.events).toEqual([
      expect.objectContaining({
        event_type: 'stx_asset',
        asset: expect.objectContaining({ asset_event_type: 'transfer', sender, recipient, amount: '5000' }),
      }),
    ]);
  });

  it('runs contract calls as their origin; the blockchain-api-client reads the transaction and the contract events', async () => {
    const output = await deployModel(devnet, 'clients-model', 700);
    const { tx, res } = await call(devnet, keyOf(devnet, 'wallet_4'), ESCROW, 'submit-task', taskArgs(output, 700));
    expect(res).toEqual({ txid: tx.txid() });
    const pending = await getJson(devnet, `/extended/v1/tx/${tx.txid()}`);
    expect(['pending', 'success']).toContain(pending.tx_status);
    await devnet.idle();

    const api = createClient({ baseUrl: devnet.url });
    const { data: t } = await api.GET('/extended/v1/tx/{tx_id}', { params: { path: { tx_id: tx.txid() } } });
    expect(t).toMatchObject({
      tx_status: 'success',
      tx_type: 'contract_call',
      sender_address: addressOf(devnet, 'wallet_4'),
    });
    const cc = (
      t as {
        contract_call: { contract_id: string; function_name: string; function_args: { name: string; type: string }[] };
      }
    ).contract_call;
    expect(cc.contract_id).toBe(ESCROW);
    expect(cc.function_name).toBe('submit-task');
    expect(cc.function_args.map((a) => a.name)).toEqual([
      'model-output',
      'input-hash',
      'fee',
      'max-blocks',
      'privacy',
      'priority',
      'security',
    ]);
    const { data: ev } = await api.GET('/extended/v1/contract/{contract_id}/events', {
      params: { path: { contract_id: ESCROW }, query: { limit: 10, offset: 0 } },
    });
    const log = ev!.results[0] as { event_type: string; tx_id: string; contract_log: { value: { hex: string } } };
    expect(log.event_type).toBe('smart_contract_log');
    expect(log.tx_id).toBe(`0x${tx.txid()}`);
    const e = decodeTaskSubmitted(deserializeCV(log.contract_log.value.hex));
    expect(e).toMatchObject({ requester: addressOf(devnet, 'wallet_4'), modelOutput: output, fee: 700n });
    // The event shows the requester the terms its task keeps: one node, the model's precision, the deploy-time shares.
    expect(e).toMatchObject({
      security: 1,
      precision: 5,
      ownerBps: 1000,
      treasuryBps: 500,
      treasury: DEPLOYER,
      sampleBps: 500,
    });
    // The fee moved into the escrow contract: a real STX event of the call.
    expect(
      (t as { events: { event_type: string; asset?: { recipient: string; amount: string } }[] }).events,
    ).toContainEqual(
      expect.objectContaining({
        event_type: 'stx_asset',
        asset: expect.objectContaining({ recipient: ESCROW, amount: '700' }),
      }),
    );
  });

  it('answers fetchCallReadOnlyFunction with the contract state', async () => {
    const task = await fetchCallReadOnlyFunction({
      contractAddress: DEPLOYER,
      contractName: 'inference-escrow',
      functionName: 'get-task',
      functionArgs: [Cl.uint(1)],
      senderAddress: DEPLOYER,
      network: 'testnet',
      client: { baseUrl: devnet.url },
    });
    expect(cvToString(task)).toContain(addressOf(devnet, 'wallet_4'));
    const none = await fetchCallReadOnlyFunction({
      contractAddress: DEPLOYER,
      contractName: 'inference-escrow',
      functionName: 'get-task',
      functionArgs: [Cl.uint(999)],
      senderAddress: DEPLOYER,
      network: 'testnet',
      client: { baseUrl: devnet.url },
    });
    expect(cvToString(none)).toBe('none');
  });

  it('serves tip info, blocks, the contract ABI and fee estimates', async () => {
    const info = await getJson(devnet, '/v2/info');
    expect(info.network_id).toBe(0x80000000);
    const latest = await getJson(devnet, '/extended/v2/blocks/latest');
    expect(latest.height).toBe(info.stacks_tip_height);
    const status = await getJson(devnet, '/extended');
    expect(status.chain_tip.block_height).toBe(info.stacks_tip_height);
    const abi = await getJson(devnet, `/v2/contracts/interface/${DEPLOYER}/inference-escrow`);
    expect(abi.functions.map((f: { name: string }) => f.name)).toContain('complete-tasks');
    expect((await fetch(`${devnet.url}/v2/contracts/interface/${DEPLOYER}/nope`)).status).toBe(404);
    const before = info.stacks_tip_height;
    const mined = await (
      await fetch(`${devnet.url}/devnet/mine`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"blocks":3}',
      })
    ).json();
    expect(mined.stacks_tip_height).toBe(before + 3);
  });

  it('answers bad requests with 4xx and a message saying what to fix', async () => {
    const bad: [string, RequestInit | undefined, number, RegExp][] = [
      ['/v2/accounts/not-a-principal', undefined, 400, /not a Stacks principal/],
      ['/extended/v1/address/ST123/nonces', undefined, 400, /not a Stacks principal/],
      [`/extended/v1/contract/${ESCROW}/events?limit=-1`, undefined, 400, /limit and offset/],
      ['/extended/v1/tx/zz', undefined, 404, /could not find transaction/],
      [
        `/v2/contracts/call-read/${DEPLOYER}/inference-escrow/get-task`,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
        400,
        /"sender"/,
      ],
      [
        '/v2/fees/transaction',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' },
        400,
        /transaction_payload/,
      ],
      [
        '/devnet/mine',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"blocks":0}' },
        400,
        /blocks/,
      ],
      [
        '/v2/transactions',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"transaction":"00"}' },
        400,
        /"tx"/,
      ],
      ['/v2/nope', undefined, 404, /no such endpoint/],
    ];
    for (const [path, init, status, message] of bad) {
      const res = await fetch(`${devnet.url}${path}`, init);
      expect({ path, status: res.status }).toEqual({ path, status });
      expect(((await res.json()) as { error: string }).error).toMatch(message);
    }
  });
});
