/** 1,000 signed calls from 10 accounts through the adapter's nonce manager: all confirmed, no gap, no reuse. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Devnet } from '../../devnet/index.js';
import { tempDevnet, deployModel, burst, ESCROW, getJson } from './helpers.js';

let devnet: Devnet;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ devnet, cleanup } = await tempDevnet());
});
afterAll(async () => cleanup?.());

describe('devnet under a burst', () => {
  it('confirms 1,000 transactions from 10 accounts with nonces 0..99 each', async () => {
    const output = await deployModel(devnet, 'burst-model', 100);
    const accounts = devnet.accounts.filter((a) => a.secretKey).slice(0, 10);
    expect(accounts).toHaveLength(10);
    const results = await burst({
      url: () => devnet.url,
      keys: accounts.map((a) => a.secretKey!),
      perAccount: 100,
      modelOutput: output,
    });
    await devnet.idle();
    for (const [i, r] of results.entries()) {
      expect(r.nonces).toEqual(
        Array.from({ length: 100 }, (_, n) => BigInt(n) + (accounts[i].name === 'wallet_1' ? 1n : 0n)),
      );
      const n = await getJson(devnet, `/extended/v1/address/${accounts[i].address}/nonces`);
      const first = accounts[i].name === 'wallet_1' ? 1 : 0; // wallet_1 deployed the model
      expect(n).toMatchObject({
        possible_next_nonce: first + 100,
        last_executed_tx_nonce: first + 99,
        detected_missing_nonces: [],
        detected_mempool_nonces: [],
      });
    }
    const all = results.flatMap((r) => r.txids);
    expect(new Set(all).size).toBe(1000);
    const statuses = await Promise.all(all.map(async (t) => (await getJson(devnet, `/extended/v1/tx/${t}`)).tx_status));
    expect(statuses.filter((s) => s === 'success')).toHaveLength(1000);
    const ids = new Set<string>();
    for (let offset = 0; offset < 1000; offset += 50) {
      const page = await getJson(devnet, `/extended/v1/contract/${ESCROW}/events?limit=50&offset=${offset}`);
      for (const e of page.results) ids.add(e.contract_log.value.repr.match(/\(task-id u(\d+)\)/)![1]);
    }
    expect(ids.size).toBe(1000);
  });
});
