/**
 * The signer's intake of prepaid task requests on loopback, for bench/accounts.ts: a real
 * marketplace (devnet and signer processes, no node agent so nothing but intake uses the CPU),
 * 20 accounts that deposited on chain, and 20,000 task requests each really signed by its account
 * key beforehand. Eight clients post them 100 per call (POST /api/v1/requests, what
 * market/prepaid.ts sends); the signer checks every signature, nonce, expiry, price and deposit,
 * and stores each as a task in one SQL transaction per call. The clients share the machine's
 * 2 cores with the signer and the devnet, so the figure is a floor.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { broadcastTransaction, makeContractCall, PostConditionMode, privateKeyToAddress, randomPrivateKey } from '@stacks/transactions';
import { PrepaidClient, SignerClient, walletFromKey, type SignedRequest } from '../market/index.js';
import { ACCOUNTS, amountArgs } from '../protocol/contracts/index.js';
import { CHAIN_ID, sha256Hex } from '../protocol/index.js';
import { DEMO_MODEL, startMarketplace, writeExampleInput } from '../scripts/lib/marketplace.js';
import { fundAddress } from '../scripts/lib/funding.js';
import { DEV_ESCROW, marketChain } from '../scripts/lib/workload.js';

const ACCOUNT_COUNT = 20;
const PER_ACCOUNT = 1_000;
const CLIENTS = 8;
const DEPOSIT = 20_000_000n;

/** Waits until the devnet has mined `txid` with success. */
async function mined(devnetUrl: string, txid: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const r = await fetch(`${devnetUrl}/extended/v1/tx/0x${txid.replace(/^0x/, '')}`);
    if (r.ok) {
      const tx = (await r.json()) as { tx_status: string };
      if (tx.tx_status === 'success') return;
      if (tx.tx_status.startsWith('abort')) throw new Error(`deposit ${txid} aborted: ${tx.tx_status}`);
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`deposit ${txid} not mined`);
}

/** Accepted requests per second, and how the clients saw it. */
export async function measureIntake(say: (s: string) => void): Promise<{ requests: number; accepted: number; refused: Record<string, number>; seconds: number; acceptedPerSecond: number; clients: number; perCall: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-accounts-'));
  const m = await startMarketplace({ dataDir, withoutAgent: true, signerConfigToml: '[log]\nlevel = "warn"\n' });
  try {
    const market = `${DEV_ESCROW.split('.')[0]}.${ACCOUNTS}`;
    const head = await marketChain(m).modelHead(DEMO_MODEL);
    if (!head?.outputId) throw new Error(`${DEMO_MODEL} is not live`);
    const input = readFileSync(writeExampleInput(dataDir));
    const inputHash = sha256Hex(input);
    const client = { baseUrl: m.devnetUrl };
    const keys = Array.from({ length: ACCOUNT_COUNT }, () => randomPrivateKey());
    for (const key of keys) {
      const who = privateKeyToAddress(key, 'testnet');
      await fundAddress(m.devnetUrl, who, DEPOSIT + 1_000_000n);
      const [contractAddress, contractName] = market.split('.') as [string, string];
      const tx = await makeContractCall({ contractAddress, contractName, functionName: 'deposit', functionArgs: amountArgs(DEPOSIT), senderKey: key, network: 'testnet', client, postConditionMode: PostConditionMode.Allow });
      const res = await broadcastTransaction({ transaction: tx, network: 'testnet', client });
      if ('reason' in res) throw new Error(`deposit refused: ${res.reason}`);
      await mined(m.devnetUrl, res.txid);
    }
    const clients = keys.map((privateKey) => new PrepaidClient({ signerUrl: m.signerUrl, chainId: CHAIN_ID.testnet, market, privateKey }));
    // The input once (a signed upload, as the client does for inputs above the inline limit); every request names it.
    if ((await new SignerClient(m.signerUrl).putInput(input, walletFromKey(keys[0]!, 'devnet'))) !== inputHash) throw new Error('the signer stored the input under another hash');
    say(`signing ${ACCOUNT_COUNT * PER_ACCOUNT} task requests...`);
    const calls: { client: PrepaidClient; items: { signed: SignedRequest }[] }[] = [];
    for (const c of clients) {
      // Max fee twice the price: demand pricing raises the quote as the queue grows (no node drains it here), up to 2x.
      const signed = Array.from({ length: PER_ACCOUNT }, () => ({ signed: c.sign({ modelOutput: head.outputId!, inputHash, maxFee: head.price * 2n }) }));
      for (let i = 0; i < signed.length; i += 100) calls.push({ client: c, items: signed.slice(i, i + 100) });
    }
    const refused: Record<string, number> = {};
    let accepted = 0;
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < calls.length) {
          const call = calls[next++]!;
          for (const o of await call.client.submit(call.items)) {
            if (o.status === 'accepted') accepted++;
            else refused[o.status === 'refused' ? o.code : o.status] = (refused[o.status === 'refused' ? o.code : o.status] ?? 0) + 1;
          }
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const requests = ACCOUNT_COUNT * PER_ACCOUNT;
    const acceptedPerSecond = Math.round(accepted / seconds);
    say(`signer intake: ${accepted} of ${requests} signed requests accepted in ${seconds.toFixed(1)} s = ${acceptedPerSecond}/s (${CLIENTS} clients, 100 per call)${Object.keys(refused).length ? `; refused ${JSON.stringify(refused)}` : ''}`);
    return { requests, accepted, refused, seconds: Math.round(seconds * 100) / 100, acceptedPerSecond, clients: CLIENTS, perCall: 100 };
  } finally {
    await m.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
