/** Each invalid transaction gets the node's rejection body and changes nothing on chain. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import {
  Cl,
  makeContractCall,
  makeSTXTokenTransfer,
  PostConditionMode,
  Pc,
  type StacksTransactionWire,
} from '@stacks/transactions';
import { STACKS_TESTNET } from '@stacks/network';
import type { Devnet } from '../../devnet/index.js';
import { tempDevnet, keyOf, addressOf, deployModel, taskArgs, ESCROW, DEPLOYER, getJson, call } from './helpers.js';

let devnet: Devnet;
let cleanup: () => Promise<void>;
let output: bigint;

beforeAll(async () => {
  ({ devnet, cleanup } = await tempDevnet());
  output = await deployModel(devnet, 'reject-model', 500);
});
afterAll(async () => cleanup?.());

async function post(raw: Uint8Array | string, json = false) {
  const res = await fetch(`${devnet.url}/v2/transactions`, {
    method: 'POST',
    headers: { 'content-type': json ? 'application/json' : 'application/octet-stream' },
    body: json ? JSON.stringify({ tx: raw }) : Buffer.from(raw as Uint8Array),
  });
  return {
    status: res.status,
    body: (await res.json()) as { error: string; reason: string; reason_data?: Record<string, unknown>; txid: string },
  };
}

/** Everything a rejected transaction could have touched. */
async function snapshot() {
  const who = ['wallet_5', 'wallet_6'].map((n) => addressOf(devnet, n));
  return {
    tip: (await getJson(devnet, '/v2/info')).stacks_tip_height,
    accounts: await Promise.all(who.map((a) => getJson(devnet, `/v2/accounts/${a}`))),
    nonces: await Promise.all(who.map((a) => getJson(devnet, `/extended/v1/address/${a}/nonces`))),
    events: await getJson(devnet, `/extended/v1/contract/${ESCROW}/events?limit=50`),
  };
}

const client = () => ({ baseUrl: devnet.url });
const submit = (key: string, extra: Record<string, unknown> = {}) =>
  makeContractCall({
    contractAddress: DEPLOYER,
    contractName: 'inference-escrow',
    functionName: 'submit-task',
    functionArgs: taskArgs(output, 500),
    senderKey: key,
    network: 'testnet',
    client: client(),
    postConditionMode: PostConditionMode.Allow,
    fee: 2000,
    ...extra,
  });

async function expectRejected(tx: StacksTransactionWire | Uint8Array, reason: string) {
  const before = await snapshot();
  const raw = tx instanceof Uint8Array ? tx : tx.serializeBytes();
  const { status, body } = await post(raw);
  expect(status).toBe(400);
  expect(body.error).toBe('transaction rejected');
  expect(body.reason).toBe(reason);
  await devnet.idle();
  expect(await snapshot()).toEqual(before);
  return body;
}

describe('devnet mempool admission', () => {
  it('rejects a transaction whose signature does not match its signer', async () => {
    const tx = await submit(keyOf(devnet, 'wallet_5'), { nonce: 0 });
    const raw = tx.serializeBytes();
    raw[raw.length - 40] ^= 0xff; // flip a byte of the payload: the signature no longer covers it
    const body = await expectRejected(raw, 'SignatureValidation');
    expect(String(body.reason_data?.message)).toMatch(/signature/);
  });

  it('rejects a transaction signed for another chain id (mainnet-style chain id on the testnet version)', async () => {
    const tx = await submit(keyOf(devnet, 'wallet_5'), {
      nonce: 0,
      network: { ...STACKS_TESTNET, chainId: 0x00000001 },
    });
    const body = await expectRejected(tx, 'BadTransactionVersion');
    expect(String(body.reason_data?.message)).toMatch(/chain id 0x1 does not match .*0x80000000/);
  });

  it('rejects a reused nonce with BadNonce, expected and actual', async () => {
    const { res } = await call(devnet, keyOf(devnet, 'wallet_6'), ESCROW, 'submit-task', taskArgs(output, 500), 0n);
    expect(res).toHaveProperty('txid');
    await devnet.idle();
    const body = await expectRejected(await submit(keyOf(devnet, 'wallet_6'), { nonce: 0 }), 'BadNonce');
    expect(body.reason_data).toMatchObject({ expected: 1, actual: 0 });
  });

  it('rejects a transfer the account cannot pay (amount + fee)', async () => {
    const tx = await makeSTXTokenTransfer({
      recipient: addressOf(devnet, 'wallet_6'),
      amount: 100_000_000_000_001n,
      senderKey: keyOf(devnet, 'wallet_5'),
      network: 'testnet',
      client: client(),
      fee: 1000,
      nonce: 0,
    });
    const body = await expectRejected(tx, 'NotEnoughFunds');
    expect(BigInt(String(body.reason_data?.expected))).toBe(100_000_000_001_001n);
  });

  it('rejects a fee below the relay minimum', async () => {
    const body = await expectRejected(await submit(keyOf(devnet, 'wallet_5'), { nonce: 0, fee: 1 }), 'FeeTooLow');
    expect(body.reason_data).toMatchObject({ actual: 1 });
  });

  it('rejects a call of an unknown contract', async () => {
    const tx = await makeContractCall({
      contractAddress: DEPLOYER,
      contractName: 'no-such-contract',
      functionName: 'f',
      functionArgs: [],
      senderKey: keyOf(devnet, 'wallet_5'),
      network: 'testnet',
      client: client(),
      fee: 2000,
      nonce: 0,
    });
    const body = await expectRejected(tx, 'NoSuchContract');
    expect(String(body.reason_data?.message)).toContain('no-such-contract');
  });

  it('rejects an unknown or non-public function, naming the public ones', async () => {
    for (const fn of ['no-such-function', 'get-task']) {
      const tx = await makeContractCall({
        contractAddress: DEPLOYER,
        contractName: 'inference-escrow',
        functionName: fn,
        functionArgs: [Cl.uint(1)],
        senderKey: keyOf(devnet, 'wallet_5'),
        network: 'testnet',
        client: client(),
        fee: 2000,
        nonce: 0,
        validateWithAbi: false,
      });
      const body = await expectRejected(tx, 'NoSuchPublicFunction');
      expect(String(body.reason_data?.message)).toContain('submit-task');
    }
  });

  it('rejects wrong argument types and counts, saying which argument', async () => {
    const wrongType = await submit(keyOf(devnet, 'wallet_5'), {
      nonce: 0,
      functionArgs: [Cl.int(1), ...taskArgs(output).slice(1)],
    });
    expect(String((await expectRejected(wrongType, 'BadFunctionArgument')).reason_data?.message)).toMatch(
      /model-output: expected uint, got 1/,
    );
    const tooLong = await submit(keyOf(devnet, 'wallet_5'), {
      nonce: 0,
      functionArgs: [Cl.uint(output), Cl.buffer(new Uint8Array(33)), ...taskArgs(output).slice(2)],
    });
    expect(String((await expectRejected(tooLong, 'BadFunctionArgument')).reason_data?.message)).toMatch(
      /input-hash: buffer of 33 bytes exceeds \(buff 32\)/,
    );
    // A client that predates the security argument sends six: the node names the seventh.
    const missing = await submit(keyOf(devnet, 'wallet_5'), { nonce: 0, functionArgs: taskArgs(output).slice(0, 6) });
    expect(String((await expectRejected(missing, 'BadFunctionArgument')).reason_data?.message)).toMatch(
      /takes 7 arguments \(.*, security\), got 6/,
    );
  });

  it('rejects bytes that are not a transaction, and a second transaction with a pending nonce', async () => {
    await expectRejected(new Uint8Array([1, 2, 3]), 'Deserialization');
    const json = await post('zz', true);
    expect(json.status).toBe(400);
    const held = await submit(keyOf(devnet, 'wallet_5'), { nonce: 5 });
    expect((await post(held.serializeBytes())).status).toBe(200);
    const nonces = await getJson(devnet, `/extended/v1/address/${addressOf(devnet, 'wallet_5')}/nonces`);
    expect(nonces).toMatchObject({
      possible_next_nonce: 6,
      detected_mempool_nonces: [5],
      detected_missing_nonces: [0, 1, 2, 3, 4],
    });
    expect((await getJson(devnet, `/extended/v1/tx/${held.txid()}`)).tx_status).toBe('pending');
    await expectRejected(await submit(keyOf(devnet, 'wallet_5'), { nonce: 5, fee: 3000 }), 'ConflictingNonceInMempool');
  });

  it('aborts a call whose post-condition fails: fee paid, nothing else changed', async () => {
    const me = addressOf(devnet, 'wallet_6');
    const before = BigInt((await getJson(devnet, `/v2/accounts/${me}`)).balance);
    const tasksBefore = (await getJson(devnet, `/extended/v1/contract/${ESCROW}/events?limit=50`)).results.length;
    const tx = await submit(keyOf(devnet, 'wallet_6'), {
      nonce: 1,
      postConditionMode: PostConditionMode.Deny,
      postConditions: [Pc.principal(me).willSendLte(10).ustx()],
    });
    expect((await post(tx.serializeBytes())).status).toBe(200);
    await devnet.idle();
    const t = await getJson(devnet, `/extended/v1/tx/${tx.txid()}`);
    expect(t.tx_status).toBe('abort_by_post_condition');
    expect(t.vm_error).toMatch(/sent 500 micro-STX, condition lte 10/);
    expect(BigInt((await getJson(devnet, `/v2/accounts/${me}`)).balance)).toBe(before - 2000n);
    expect((await getJson(devnet, `/extended/v1/contract/${ESCROW}/events?limit=50`)).results.length).toBe(tasksBefore);
    expect((await getJson(devnet, `/extended/v1/address/${me}/nonces`)).possible_next_nonce).toBe(2);
  });

  it('does not check post-conditions of a call that returned (err ...): it is abort_by_response', async () => {
    const me = addressOf(devnet, 'wallet_6');
    const tx = await submit(keyOf(devnet, 'wallet_6'), {
      nonce: 2,
      functionArgs: taskArgs(output, 499), // below the model's price of 500: the contract says no
      postConditionMode: PostConditionMode.Deny,
      postConditions: [Pc.principal(me).willSendEq(499).ustx()],
    });
    expect((await post(tx.serializeBytes())).status).toBe(200);
    await devnet.idle();
    const t = await getJson(devnet, `/extended/v1/tx/${tx.txid()}`);
    expect(t.tx_status).toBe('abort_by_response');
    expect(t.tx_result.repr).toBe('(err u2006)');
  });
});
