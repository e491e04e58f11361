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
import { PrepaidClient, SignerClient, walletFromKey, type SignedRequest } from '../market/index.js';
import { CHAIN_ID, sha256Hex } from '../protocol/index.js';
import { DEMO_MODEL, startMarketplace, writeExampleInput } from '../scripts/lib/marketplace.js';
import { DEV_ACCOUNTS, openAccounts } from '../scripts/lib/prepaid.js';
import { marketChain } from '../scripts/lib/workload.js';

const ACCOUNT_COUNT = 20;
const PER_ACCOUNT = 1_000;
const CLIENTS = 8;
const DEPOSIT = 20_000_000n;

/** Accepted requests per second, and how the clients saw it. */
export async function measureIntake(say: (s: string) => void): Promise<{
  requests: number;
  accepted: number;
  refused: Record<string, number>;
  seconds: number;
  acceptedPerSecond: number;
  clients: number;
  perCall: number;
}> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-accounts-'));
  const m = await startMarketplace({ dataDir, withoutAgent: true, signerConfigToml: '[log]\nlevel = "warn"\n' });
  try {
    const market = DEV_ACCOUNTS;
    const head = await marketChain(m).modelHead(DEMO_MODEL);
    if (!head?.outputId) throw new Error(`${DEMO_MODEL} is not live`);
    const input = readFileSync(writeExampleInput(dataDir));
    const inputHash = sha256Hex(input);
    const keys = await openAccounts(m.devnetUrl, ACCOUNT_COUNT, DEPOSIT);
    const clients = keys.map(
      (privateKey) => new PrepaidClient({ signerUrl: m.signerUrl, chainId: CHAIN_ID.testnet, market, privateKey }),
    );
    // The input once (a signed upload, as the client does for inputs above the inline limit); every request names it.
    if ((await new SignerClient(m.signerUrl).putInput(input, walletFromKey(keys[0]!, 'devnet'))) !== inputHash)
      throw new Error('the signer stored the input under another hash');
    say(`signing ${ACCOUNT_COUNT * PER_ACCOUNT} task requests...`);
    const calls: { client: PrepaidClient; items: { signed: SignedRequest }[] }[] = [];
    for (const c of clients) {
      // Max fee twice the price: demand pricing raises the quote as the queue grows (no node drains it here), up to 2x.
      const signed = Array.from({ length: PER_ACCOUNT }, () => ({
        signed: c.sign({ modelOutput: head.outputId!, inputHash, maxFee: head.price * 2n }),
      }));
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
            else
              refused[o.status === 'refused' ? o.code : o.status] =
                (refused[o.status === 'refused' ? o.code : o.status] ?? 0) + 1;
          }
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const requests = ACCOUNT_COUNT * PER_ACCOUNT;
    const acceptedPerSecond = Math.round(accepted / seconds);
    say(
      `signer intake: ${accepted} of ${requests} signed requests accepted in ${seconds.toFixed(1)} s = ${acceptedPerSecond}/s (${CLIENTS} clients, 100 per call)${Object.keys(refused).length ? `; refused ${JSON.stringify(refused)}` : ''}`,
    );
    return {
      requests,
      accepted,
      refused,
      seconds: Math.round(seconds * 100) / 100,
      acceptedPerSecond,
      clients: CLIENTS,
      perCall: 100,
    };
  } finally {
    await m.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
