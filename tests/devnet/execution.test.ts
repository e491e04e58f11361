/**
 * What the VM does with accepted transactions: contract deploys, runtime errors (fee paid, state
 * untouched), and interval blocks holding several transactions, including one that fails.
 */
import { describe, it, expect, afterAll } from 'vitest';
import {
  Cl,
  cvToString,
  fetchCallReadOnlyFunction,
  makeContractDeploy,
  broadcastTransaction,
  ClarityVersion,
} from '@stacks/transactions';
import { startDevnet, type Devnet } from '../../devnet/index.js';
import { tempDevnet, keyOf, addressOf, call, signCall, nextBlock, mined, getJson } from './helpers.js';

const SOURCE = `
(define-data-var n uint u0)
(define-public (bump) (begin (var-set n (+ (var-get n) u1)) (print {event: "bumped", n: (var-get n)}) (ok (var-get n))))
(define-public (boom (d uint)) (begin (var-set n u999) (ok (/ u10 d))))
(define-read-only (get-n) (var-get n))
`;

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

async function deployCounter(devnet: Devnet): Promise<string> {
  const key = keyOf(devnet, 'wallet_1');
  const tx = await makeContractDeploy({
    contractName: 'counter',
    codeBody: SOURCE,
    clarityVersion: ClarityVersion.Clarity3,
    senderKey: key,
    network: 'testnet',
    client: { baseUrl: devnet.url },
  });
  const res = await broadcastTransaction({ transaction: tx, network: 'testnet', client: { baseUrl: devnet.url } });
  expect(res).toEqual({ txid: tx.txid() });
  const t = await mined(devnet.url, tx.txid());
  expect(t).toMatchObject({ tx_status: 'success', tx_type: 'smart_contract' });
  return `${addressOf(devnet, 'wallet_1')}.counter`;
}

async function readN(devnet: Devnet, contract: string): Promise<string> {
  const [contractAddress, contractName] = contract.split('.');
  const v = await fetchCallReadOnlyFunction({
    contractAddress,
    contractName,
    functionName: 'get-n',
    functionArgs: [],
    senderAddress: contractAddress,
    network: 'testnet',
    client: { baseUrl: devnet.url },
  });
  return cvToString(v);
}

const balanceOf = async (devnet: Devnet, who: string) => BigInt((await getJson(devnet, `/v2/accounts/${who}`)).balance);

describe('devnet execution', () => {
  it('deploys a contract from a signed transaction, and refuses the same name twice', async () => {
    const { devnet, cleanup } = await tempDevnet();
    cleanups.push(cleanup);
    const contract = await deployCounter(devnet);
    expect(
      (await getJson(devnet, `/v2/contracts/interface/${contract.replace('.', '/')}`)).functions.map(
        (f: { name: string }) => f.name,
      ),
    ).toEqual(['boom', 'bump', 'get-n']);
    const again = await makeContractDeploy({
      contractName: 'counter',
      codeBody: SOURCE,
      senderKey: keyOf(devnet, 'wallet_1'),
      network: 'testnet',
      client: { baseUrl: devnet.url },
    });
    const res = await broadcastTransaction({ transaction: again, network: 'testnet', client: { baseUrl: devnet.url } });
    expect(res).toMatchObject({ reason: 'ContractAlreadyExists' });

    // A runtime error aborts the call: the fee is paid, the nonce used, the state untouched.
    const who = addressOf(devnet, 'wallet_2');
    const before = await balanceOf(devnet, who);
    const { tx, res: r } = await call(
      devnet,
      keyOf(devnet, 'wallet_2'),
      contract,
      'boom',
      [Cl.uint(0)],
      undefined,
      5000n,
    );
    expect(r).toEqual({ txid: tx.txid() });
    const t = await mined(devnet.url, tx.txid());
    expect(t.tx_status).toBe('abort_by_response');
    expect(t.vm_error).toMatch(/DivisionByZero/);
    expect(await readN(devnet, contract)).toBe('u0');
    expect(await balanceOf(devnet, who)).toBe(before - 5000n);
    expect((await getJson(devnet, `/extended/v1/address/${who}/nonces`)).possible_next_nonce).toBe(1);
  });

  it('mines interval blocks of several transactions; a failing one is undone alone, and the log replays the same', async () => {
    const { devnet, dir, manifestPath, cleanup } = await tempDevnet({ blockTimeMs: 1000 });
    const contract = await deployCounter(devnet);
    const senders = ['wallet_2', 'wallet_3', 'wallet_4'];
    const before = await Promise.all(senders.map((s) => balanceOf(devnet, addressOf(devnet, s))));
    // Signed first, then sent one after another just after a block: signing and sending each in
    // turn could straddle a block boundary on a loaded machine, and the point is one block of three.
    const sent = [
      await signCall(devnet, keyOf(devnet, 'wallet_2'), contract, 'bump', [], undefined, 5000n),
      await signCall(devnet, keyOf(devnet, 'wallet_3'), contract, 'boom', [Cl.uint(0)], undefined, 5000n),
      await signCall(devnet, keyOf(devnet, 'wallet_4'), contract, 'bump', [], undefined, 5000n),
    ];
    const send = (tx: (typeof sent)[number]) =>
      broadcastTransaction({ transaction: tx, network: 'testnet', client: { baseUrl: devnet.url } });
    await nextBlock(devnet);
    for (const tx of sent) expect(await send(tx)).toEqual({ txid: tx.txid() });
    const txs = await Promise.all(sent.map((tx) => mined(devnet.url, tx.txid())));
    expect(txs.map((t) => t.tx_status)).toEqual(['success', 'abort_by_response', 'success']);
    expect(new Set(txs.map((t) => t.block_height)).size).toBe(1);
    expect(txs.map((t) => t.tx_index)).toEqual([0, 1, 2]);
    expect(txs[2].tx_result.repr).toBe('(ok u2)');
    expect(await readN(devnet, contract)).toBe('u2');
    const after = await Promise.all(senders.map((s) => balanceOf(devnet, addressOf(devnet, s))));
    expect(after).toEqual(before.map((b) => b - 5000n));
    // Empty blocks keep coming on the interval.
    const tip = (await getJson(devnet, '/v2/info')).stacks_tip_height;
    await new Promise((r) => setTimeout(r, 2000));
    expect((await getJson(devnet, '/v2/info')).stacks_tip_height).toBeGreaterThan(tip);

    await devnet.close();
    const again = await startDevnet({ dataDir: dir, blockTimeMs: 0, manifestPath });
    cleanups.push(async () => {
      await again.close();
      await cleanup().catch(() => {});
    });
    expect(again.replay.txs).toBe(4);
    expect(await readN(again, contract)).toBe('u2');
    const replayed = await Promise.all(sent.map((tx) => getJson(again, `/extended/v1/tx/${tx.txid()}`)));
    expect(replayed.map((t) => [t.tx_status, t.block_height, t.tx_result.hex])).toEqual(
      txs.map((t) => [t.tx_status, t.block_height, t.tx_result.hex]),
    );
  });
});
