import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeContractCall, Pc, PostConditionMode, privateKeyToAddress, randomPrivateKey } from '@stacks/transactions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeTasksArgs } from '../../protocol/contracts/index.js';
import { StacksApiChain } from '../../signer/chain/stacks-api.js';
import { ESCROW } from './helpers.js';

const FEE = 4321n;
let server: Server;
let url: string;
beforeAll(async () => {
  // Just enough of a Stacks API for building: the account's nonces and a fee estimate.
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url?.endsWith('/nonces')) return res.end(JSON.stringify({ possible_next_nonce: 5, detected_missing_nonces: [] }));
    if (req.url === '/v2/fees/transaction') return res.end(JSON.stringify({ estimations: [{ fee: 1 }, { fee: Number(FEE) }, { fee: 9 }] }));
    res.statusCode = 404;
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('StacksApiChain.buildCompleteTasks', () => {
  it('signs the same bytes as makeContractCall with the estimated fee and the next nonce', async () => {
    const key = randomPrivateKey();
    const chain = new StacksApiChain({ apiUrl: url, network: 'devnet', escrowContract: ESCROW, privateKey: key });
    const items = [1n, 2n].map((id) => ({ chainTaskId: id, outputHash: 'ab'.repeat(32), nodePublicKey: `02${'cd'.repeat(32)}`, signature: 'ef'.repeat(65) }));
    const tx = await chain.buildCompleteTasks(items);
    const [contractAddress, contractName] = ESCROW.split('.');
    const expected = await makeContractCall({
      contractAddress,
      contractName,
      functionName: 'complete-tasks',
      functionArgs: completeTasksArgs(items.map((i) => ({ taskId: i.chainTaskId, outputHash: i.outputHash, nodePublicKey: i.nodePublicKey, signature: i.signature }))),
      network: 'devnet',
      postConditionMode: PostConditionMode.Allow,
      postConditions: [Pc.principal(privateKeyToAddress(key, 'testnet')).willSendEq(0).ustx()],
      validateWithAbi: false,
      senderKey: key,
      fee: FEE,
      nonce: 5n,
    });
    expect(tx).toEqual({ txid: expected.txid(), nonce: 5n, raw: expected.serialize() });
  });
});
