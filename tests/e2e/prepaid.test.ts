/**
 * Prepaid accounts end to end: 1,000 tasks from 10 accounts, signed off chain and run by real
 * node agents, paid for the pay-then-reveal way and settled by `settle-accounts` in a few
 * transactions. Every account is charged exactly the fees of the results it was given, and every
 * payee (the nodes' key principals, the model owner, the treasury) is credited on chain exactly
 * what the signer owes it, which is what its voucher says.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { privateKeyToAddress } from '@stacks/transactions';
import { PrepaidClient, SignerClient, walletFromKey } from '../../market/index.js';
import { CHAIN_ID, sha256Hex } from '../../protocol/index.js';
import { DEMO_MODEL, type Marketplace } from '../../scripts/lib/marketplace.js';
import { callAndWait } from '../../scripts/lib/funding.js';
import { DEV_ACCOUNTS, accountOnChain, openAccounts, payeeOnChain } from '../../scripts/lib/prepaid.js';
import { balance, marketChain } from '../../scripts/lib/workload.js';
import { FAST_SIGNER_TOML, address, key, marketplace } from './helpers.js';

const ACCOUNTS = 10;
const TASKS_PER_ACCOUNT = 100;
const DEPOSIT = 5_000_000n;
const PERIOD_MS = 8000;
let m: Marketplace;
let input: string;

beforeAll(async () => {
  ({ m, input } = await marketplace({
    agents: 2,
    signerConfigToml: `${FAST_SIGNER_TOML}\n[accounts]\nperiod_ms = ${PERIOD_MS}\n`,
  }));
}, 240_000);
afterAll(async () => m?.stop(), 60_000);

interface Period {
  id: number;
  tasks: number;
  charged: string;
  status: string;
  txid: string | null;
}
async function periods(): Promise<Period[]> {
  const res = await fetch(`${m.signerUrl}/api/v1/periods?limit=100`);
  const body = (await res.json()) as { data: { periods: Period[] } | Period[] };
  return Array.isArray(body.data) ? body.data : body.data.periods;
}

describe('prepaid accounts end to end', () => {
  it('runs 1,000 prepaid tasks from 10 accounts on real nodes, settles them in a few transactions and credits every payee exactly', async () => {
    const head = (await marketChain(m).modelHead(DEMO_MODEL))!;
    const keys = await openAccounts(m.devnetUrl, ACCOUNTS, DEPOSIT);
    const bytes = readFileSync(input);
    const inputHash = sha256Hex(bytes);
    expect(await new SignerClient(m.signerUrl).putInput(bytes, walletFromKey(keys[0]!, 'devnet'))).toBe(inputHash);

    const clients = keys.map(
      (privateKey) =>
        new PrepaidClient({ signerUrl: m.signerUrl, chainId: CHAIN_ID.testnet, market: DEV_ACCOUNTS, privateKey }),
    );
    const started = Date.now();
    const runs = await Promise.all(
      clients.map((c) =>
        c.runMany(
          Array.from({ length: TASKS_PER_ACCOUNT }, () => ({
            signed: c.sign({ modelOutput: head.outputId!, inputHash, maxFee: head.price }),
          })),
          { timeoutMs: 480_000 },
        ),
      ),
    );
    for (const r of runs) {
      expect(r.failed).toEqual([]);
      expect(r.revealed).toHaveLength(TASKS_PER_ACCOUNT);
    }
    // Paid in batches: far fewer authorizations than tasks.
    const authorizations = runs.reduce((a, r) => a + r.authorizations, 0);
    expect(authorizations).toBeLessThan((ACCOUNTS * TASKS_PER_ACCOUNT) / 2);

    // Every revealed result settles on chain.
    const total = ACCOUNTS * TASKS_PER_ACCOUNT;
    const end = Date.now() + 180_000;
    let confirmed: Period[] = [];
    for (;;) {
      const all = await periods();
      confirmed = all.filter((p) => p.status === 'confirmed');
      if (confirmed.reduce((a, p) => a + p.tasks, 0) >= total) break;
      if (Date.now() > end)
        throw new Error(
          `after 180 s only ${confirmed.reduce((a, p) => a + p.tasks, 0)} of ${total} tasks settled: ${JSON.stringify(all)}`,
        );
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(confirmed.reduce((a, p) => a + p.tasks, 0)).toBe(total);
    // One settle-accounts per period: a few transactions for 1,000 tasks. How many periods the run
    // spans depends on the machine (11 of 8 s at load 20, the suites on two workers), so the bound
    // is the number of periods begun since the first task, plus the one that was open then.
    expect(confirmed.length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / PERIOD_MS) + 1);
    expect(confirmed.length).toBeLessThan(total / 20);
    expect(new Set(confirmed.map((p) => p.txid)).size).toBe(confirmed.length);

    // Each account is charged exactly the fees of its 100 results, and nothing else.
    const fees = runs.map((r) => r.revealed.reduce((a, x) => a + x.leaf.fee, 0n));
    for (const [i, k] of keys.entries()) {
      expect(fees[i]).toBe(head.price * BigInt(TASKS_PER_ACCOUNT));
      const state = (await accountOnChain(m.devnetUrl, privateKeyToAddress(k, 'testnet')))!;
      expect(state.spent).toBe(fees[i]);
      expect(state.balance).toBe(DEPOSIT - fees[i]!);
    }
    const charged = fees.reduce((a, f) => a + f, 0n);
    expect(confirmed.reduce((a, p) => a + BigInt(p.charged), 0n)).toBe(charged);

    // Payees: the owner and the treasury get their frozen shares of every fee; the nodes the rest.
    const ownerCut = (head.price * 1000n) / 10_000n;
    const treasuryCut = (head.price * 500n) / 10_000n;
    const owner = (await payeeOnChain(m.devnetUrl, address('wallet_7')))!;
    const treasury = (await payeeOnChain(m.devnetUrl, m.roles.treasury.address))!;
    expect(owner.credited).toBe(ownerCut * BigInt(total));
    expect(treasury.credited).toBe(treasuryCut * BigInt(total));
    const nodes = await Promise.all(
      ['node-1', 'node-2'].map(async (n) => ({
        who: m.nodeAddress(n),
        state: await payeeOnChain(m.devnetUrl, m.nodeAddress(n)),
      })),
    );
    const nodeCredits = nodes.reduce((a, n) => a + (n.state?.credited ?? 0n), 0n);
    expect(nodeCredits).toBe(charged - owner.credited - treasury.credited);
    // Each payee's voucher from the signer is what the chain credited: nothing owed is left out.
    for (const who of [
      address('wallet_7'),
      m.roles.treasury.address,
      ...nodes.filter((n) => n.state).map((n) => n.who),
    ]) {
      const res = await fetch(`${m.signerUrl}/api/v1/payees/${who}/voucher`);
      const voucher = ((await res.json()) as { data: { cumulative: string } }).data;
      expect(BigInt(voucher.cumulative)).toBe((await payeeOnChain(m.devnetUrl, who))!.credited);
    }

    // A payee withdraws its credit when it likes: the owner claims everything it was credited.
    const before = await balance(m.devnetUrl, address('wallet_7'));
    await callAndWait(m.devnetUrl, key('wallet_7'), DEV_ACCOUNTS, 'claim', []);
    const after = (await payeeOnChain(m.devnetUrl, address('wallet_7')))!;
    expect(after.claimable).toBe(0n);
    expect(after.claimed).toBe(owner.credited);
    // The claim moved the credit, less the transaction's fee, to the owner's wallet.
    const moved = (await balance(m.devnetUrl, address('wallet_7'))) - before;
    expect(moved).toBeGreaterThan(owner.credited - 10_000n);
    expect(moved).toBeLessThanOrEqual(owner.credited);
  }, 900_000);
});
