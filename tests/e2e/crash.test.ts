/**
 * Crashes mid-stream, with real processes killed by SIGKILL: a node agent (a second agent
 * finishes its work) and the signer, five times at random moments (each restart resumes from
 * its database). Every task settles exactly once on chain and none is lost by the signer.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { DEMO_MODEL, type Marketplace } from '../../scripts/lib/marketplace.js';
import { DEV_ESCROW, settlementEvents, submitTasks, waitSettled } from '../../scripts/lib/workload.js';
import { SignerClient } from '../../market/index.js';
import { key, marketplace } from './helpers.js';

let m: Marketplace;
let input: string;
const wallets = [key('wallet_1'), key('wallet_2'), key('wallet_3')];

beforeAll(async () => {
  ({ m, input } = await marketplace());
}, 240_000);
afterAll(async () => m?.stop(), 60_000);

async function settledOnce(ids: bigint[]): Promise<void> {
  const events = (await settlementEvents(m.devnetUrl, DEV_ESCROW)).filter((e) => ids.includes(e.taskId));
  expect(events.map((e) => e.taskId).sort()).toEqual([...ids].sort());
}

describe('crashes', () => {
  it('a node agent killed mid-stream: a second agent finishes, every task settles once', async () => {
    // The first wave starts; node-1 is killed as soon as it has taken work, whatever it holds
    // then comes back when its lease expires; the second wave arrives while no agent runs.
    const firstWave = submitTasks(m, { model: DEMO_MODEL, walletKeys: wallets, count: 9, inputFile: input });
    await until(async () => {
      const s = await stats();
      return s.total_tasks - s.pending_tasks > 0;
    });
    await m.agents[0].kill();
    const ids = [
      ...(await firstWave),
      ...(await submitTasks(m, { model: DEMO_MODEL, walletKeys: wallets, count: 15, inputFile: input })),
    ];
    await m.startAgent('node-2');
    const counts = await waitSettled(m.signerUrl, ids, 180_000);
    expect(counts.get('settled')).toBe(ids.length);
    await settledOnce(ids);
    const signer = new SignerClient(m.signerUrl);
    const byNode = new Set<string>();
    for (const id of ids) byNode.add(String((await signer.status(String(id)))?.inference_node_id));
    expect([...byNode]).toContain('node-2');
  }, 300_000);

  it('the signer killed 5 times at random moments: on each restart all tasks still settle exactly once', async () => {
    const ids = await submitTasks(m, { model: DEMO_MODEL, walletKeys: wallets, count: 30, inputFile: input });
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 1500));
      await m.signer.kill();
      await m.startSigner();
    }
    const counts = await waitSettled(m.signerUrl, ids, 240_000);
    expect(counts.get('settled')).toBe(ids.length);
    await settledOnce(ids);
    // nothing lost from the database: every task is known, settled, with one settled transition
    const res = await fetch(`${m.signerUrl}/api/v1/tasks/${ids[0]}/status?history=true`);
    const history = ((await res.json()) as { data: { history: { to_status: string }[] } }).data.history;
    expect(history.filter((h) => h.to_status === 'settled')).toHaveLength(1);
  }, 400_000);
});

async function stats(): Promise<{ total_tasks: number; pending_tasks: number }> {
  return (
    (await (await fetch(`${m.signerUrl}/api/v1/stats`)).json()) as {
      data: { total_tasks: number; pending_tasks: number };
    }
  ).data;
}

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met within 60 s');
}
