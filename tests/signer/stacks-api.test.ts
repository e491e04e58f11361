import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  broadcastTransaction,
  deserializeTransaction,
  makeContractCall,
  Pc,
  PostConditionMode,
  privateKeyToAddress,
  randomPrivateKey,
} from '@stacks/transactions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeTasksArgs } from '../../protocol/contracts/index.js';
import { BroadcastRejected, StacksApiChain } from '../../signer/chain/stacks-api.js';
import { ESCROW } from './helpers.js';

const FEE = 4321n;
let server: Server;
let url: string;
/** What the fake node answers to a broadcast, and the broadcasts it received. */
let answer: { status: number; body: string } = { status: 200, body: '' };
const received: { headers: Record<string, unknown>; body: string }[] = [];
beforeAll(async () => {
  // Just enough of a Stacks API for building and broadcasting: nonces, a fee estimate, /v2/transactions.
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url?.endsWith('/nonces'))
      return res.end(JSON.stringify({ possible_next_nonce: 5, detected_missing_nonces: [] }));
    if (req.url === '/v2/fees/transaction')
      return res.end(JSON.stringify({ estimations: [{ fee: 1 }, { fee: Number(FEE) }, { fee: 9 }] }));
    if (req.url === '/v2/transactions' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push({ headers: { type: req.headers['content-type'], product: req.headers['x-hiro-product'] }, body });
        res.statusCode = answer.status;
        res.end(answer.body);
      });
      return;
    }
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
    const items = [1n, 2n].map((id) => ({
      chainTaskId: id,
      outputHash: 'ab'.repeat(32),
      nodePublicKey: `02${'cd'.repeat(32)}`,
      signature: 'ef'.repeat(65),
    }));
    const tx = await chain.buildCompleteTasks(items);
    const [contractAddress, contractName] = ESCROW.split('.');
    const expected = await makeContractCall({
      contractAddress,
      contractName,
      functionName: 'complete-tasks',
      functionArgs: completeTasksArgs(
        items.map((i) => ({
          taskId: i.chainTaskId,
          outputHash: i.outputHash,
          nodePublicKey: i.nodePublicKey,
          signature: i.signature,
        })),
      ),
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

  it('after resetNonces (a replica taking the lead) builds above the nonces open settlements hold, which the API does not know', async () => {
    const chain = new StacksApiChain({
      apiUrl: url,
      network: 'devnet',
      escrowContract: ESCROW,
      privateKey: randomPrivateKey(),
    });
    expect((await chain.buildReclaim(1n)).nonce).toBe(5n);
    chain.resetNonces(() => [5n, 6n]);
    expect((await chain.buildReclaim(2n)).nonce).toBe(7n);
  });
});

describe('StacksApiChain.broadcast', () => {
  it('sends what broadcastTransaction sends, from the stored hex, and reads the answers as it does', async () => {
    const key = randomPrivateKey();
    const chain = new StacksApiChain({ apiUrl: url, network: 'devnet', escrowContract: ESCROW, privateKey: key });
    const tx = await chain.buildReclaim(1n);
    const viaPackage = () =>
      broadcastTransaction({
        transaction: deserializeTransaction(tx.raw),
        network: 'devnet',
        client: { baseUrl: url },
      });
    const outcome = (p: Promise<unknown>) =>
      p.then(
        (v) => ({ ok: v }),
        (e: Error) => ({ err: e.message }),
      );

    answer = { status: 200, body: JSON.stringify(tx.txid) };
    received.length = 0;
    expect(await outcome(chain.broadcast(tx))).toEqual({ ok: undefined });
    expect(await viaPackage()).toEqual({ txid: tx.txid });
    expect(received[0]).toEqual(received[1]);
    expect(JSON.parse(received[0].body)).toEqual({ tx: tx.raw });

    answer = {
      status: 400,
      body: JSON.stringify({
        error: 'transaction rejected',
        reason: 'BadNonce',
        reason_data: { expected: 6 },
        txid: tx.txid,
      }),
    };
    await expect(chain.broadcast(tx)).rejects.toThrow(BroadcastRejected);
    await expect(chain.broadcast(tx)).rejects.toMatchObject({
      reason: 'BadNonce',
      reasonData: { expected: 6 },
      txid: tx.txid,
    });
    expect(await viaPackage()).toMatchObject({ reason: 'BadNonce', reason_data: { expected: 6 } });

    for (const a of [
      { status: 500, body: 'not json' },
      { status: 200, body: 'not a txid' },
    ]) {
      answer = a;
      const [ours, theirs] = [await outcome(chain.broadcast(tx)), await outcome(viaPackage())];
      expect(ours).toEqual(theirs);
      expect(ours).toHaveProperty('err');
    }
  });
});
