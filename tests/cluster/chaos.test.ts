/**
 * Chaos: three `signer run` replicas on one PostgreSQL database, a node agent on each (each node
 * talks to one replica only), CHAOS_TASKS on-chain tasks submitted through all three, and replicas
 * SIGKILLed at random moments (the leader three times, another one once) and restarted. In the
 * end the escrow's events say every task was paid exactly once or refunded, none is lost, none
 * paid twice; after each kill of the leader another replica led within LEAD_BOUND_MS and the next
 * settlement landed within FAILOVER_BOUND_MS.
 *
 * The tasks are cheap on purpose (the bundled classifier, a small binary input per submitter,
 * settlements of up to 200 tasks). The run is bound by the devnet and the leader's watcher (about
 * 10 events ingested a second on the loaded 2-core machine): about three minutes there for 1,000 tasks.
 * So `npm test` runs 400 (the kills still fall while tasks flow: submission takes longer than the
 * four kills), and `npm run fuzz` runs the 1,000 (CHAOS_TASKS=1000).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cl } from '@stacks/transactions';
import { INFERENCE_ESCROW } from '../../protocol/contracts/index.js';
import { DEMO_MODEL, devAccountKeys, type Marketplace } from '../../scripts/lib/marketplace.js';
import { freePort, type Service } from '../../scripts/lib/services.js';
import { marketChain, submitTasks, waitSettled } from '../../scripts/lib/workload.js';
import { SignerClient, walletFromKey } from '../../market/index.js';
import { FAST_SIGNER_TOML, marketplace } from '../e2e/helpers.js';
import { agent, replica, sleep, type Replica } from './chaos-fixture.js';
import { clusterDb, type ClusterDb } from './chaos-db.js';
import { outcome, reclaimPending } from './chaos-chain.js';

const TASKS = Number(process.env.CHAOS_TASKS ?? 400);
if (!Number.isInteger(TASKS) || TASKS < 100)
  throw new Error(`CHAOS_TASKS must be an integer of at least 100, got ${process.env.CHAOS_TASKS}`);
const REPLICAS = 3;
/** Another replica takes the lead within this long after the leader was killed (it retries every second). */
const LEAD_BOUND_MS = 5_000;
/**
 * The next settlement lands within this long after the leader was killed. Measured on the shared
 * 2-core machine: 1-6 s mostly, 19 s once at a load average of 15, when the new leader's first
 * submitter tick waited behind its watcher ingesting a page of 200 events in one transaction (each
 * statement blocks a PostgreSQL replica's event loop).
 */
const FAILOVER_BOUND_MS = 30_000;
/** The devnet mines a block per transaction (about 1,100 in a run): no deadline passes while it runs. */
const MAX_BLOCKS = 2_500;
/** Kills in order: the leader three times, and once a replica picked at random. */
const KILLS = ['leader', 'any', 'leader', 'leader'] as const;

const CHAOS_TOML = FAST_SIGNER_TOML.replace('batch_size = 50', 'batch_size = 200').replace(
  '[scheduler]',
  '[scheduler]\nmax_in_flight_per_node = 32',
);

let m: Marketplace;
let input: string;
let db: ClusterDb;
let replicas: Replica[] = [];
const agents: Service[] = [];

beforeAll(async () => {
  [{ m, input }, db] = await Promise.all([
    marketplace({ withoutAgent: true, signerConfigToml: CHAOS_TOML }),
    clusterDb(),
  ]);
  // The marketplace's own signer (SQLite) served its start-up only; the replicas take its place and port.
  await m.signer.stop();
  const ports = [
    Number(new URL(m.signerUrl).port),
    ...(await Promise.all(Array.from({ length: REPLICAS - 1 }, () => freePort()))),
  ];
  replicas = await Promise.all(ports.map((port, i) => replica(m, `signer-${i}`, port, db.location)));
  // One after another: each is funded from the same faucet account.
  for (const [i, r] of replicas.entries()) agents.push(await agent(m, `node-${i + 1}`, r.url));
  const chain = marketChain(m);
  const admin = walletFromKey(m.roles.admin.privateKey, 'devnet');
  await chain.confirm(await chain.call(admin, INFERENCE_ESCROW, 'set-max-blocks', [Cl.uint(MAX_BLOCKS)]));
}, 240_000);

afterAll(async () => {
  for (const a of agents) await a.stop();
  for (const r of replicas) await r.service?.stop();
  await db?.close();
  await m?.stop();
}, 60_000);

/** How long after a kill of the leader another replica took the lead, and the next settlement landed (ms). */
type Failover = { lead: number; settled: number };

/**
 * Kills replicas while the tasks flow, each after a random pause. The leader is killed while a
 * completed task waits for its settlement, so that the next settlement measures the failover
 * (the new leader must take the lock and settle it), not a lull in the work.
 */
async function chaos(t0: number): Promise<Failover[]> {
  const failovers: Promise<Failover>[] = [];
  for (const what of KILLS) {
    await sleep(500 + Math.random() * 2500);
    const victim = what === 'leader' ? await leader() : replicas[Math.floor(Math.random() * replicas.length)]!;
    const waiting = what === 'leader' && (await db.untilUnsettled(30_000));
    const killedAt = Date.now();
    await victim.kill();
    const at = ((killedAt - t0) / 1000).toFixed(1);
    process.stdout.write(`chaos: ${at} s SIGKILL ${victim.name}${what === 'leader' ? ' (leader)' : ''}\n`);
    if (waiting)
      failovers.push(
        (async () => {
          let lead = Number.POSITIVE_INFINITY;
          for (let i = 0; i < 300 && lead === Number.POSITIVE_INFINITY; i++) {
            const since = await db.leaderSince();
            if (since !== null && since > killedAt) lead = since - killedAt;
            else await sleep(100);
          }
          const settled = (await db.settledAfter(killedAt, FAILOVER_BOUND_MS * 2)) ?? Number.POSITIVE_INFINITY;
          return { lead, settled };
        })(),
      );
    await sleep(200 + Math.random() * 2000);
    await victim.start();
  }
  return Promise.all(failovers);
}

/** A copy of the example input with its first value moved by `i` / 1000 (another hash). */
function variant(file: string, i: number): string {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { inputs: { data: number[] }[] };
  doc.inputs[0]!.data[0]! += i / 1000;
  const out = `${file}.${i}.json`;
  writeFileSync(out, JSON.stringify(doc));
  return out;
}

/** The replica that holds the leader lock now (waits while none does, after a kill). */
async function leader(): Promise<Replica> {
  for (let i = 0; i < 200; i++) {
    const pid = await db.leaderPid();
    const found = replicas.find((r) => r.service && r.service.child.pid === pid);
    if (found) return found;
    await sleep(100);
  }
  throw new Error('no replica took the leader lock within 20 s');
}

describe('chaos: three replicas on one PostgreSQL', () => {
  it(`${TASKS} tasks, replicas SIGKILLed at random moments (the leader ${KILLS.filter((k) => k === 'leader').length} times): each task paid once or refunded, another replica leads within ${LEAD_BOUND_MS / 1000} s and settles within ${FAILOVER_BOUND_MS / 1000} s`, async () => {
    const keys = devAccountKeys();
    const wallets = ['wallet_1', 'wallet_2', 'wallet_3', 'wallet_4', 'wallet_5', 'wallet_6'].map((n) => keys.get(n)!);
    // Each submitter uploads an input of its own (the same bytes sent to two replicas at the same moment
    // met a duplicate-key 500 on PostgreSQL: reported, not covered here).
    const inputs = [0, 1, 2].map((i) => variant(input, i));
    const t0 = Date.now();
    // Three submitters, one per replica, two wallets each: its input goes up to that replica, its tasks to the chain.
    const submitted = Promise.all(
      [0, 1, 2].map((i) =>
        submitTasks(
          { devnetUrl: m.devnetUrl, signerUrl: replicas[i % replicas.length]!.url },
          {
            model: DEMO_MODEL,
            walletKeys: wallets.slice(2 * i, 2 * i + 2),
            count: Math.floor(TASKS / 3) + (i < TASKS % 3 ? 1 : 0),
            inputFile: inputs[i]!,
            binary: true,
            maxBlocks: BigInt(MAX_BLOCKS),
          },
        ),
      ),
    );
    await db.untilTasks(1);
    const failovers = await chaos(t0);
    const ids = (await submitted).flat();
    const submittedIn = Date.now() - t0;
    const counts = await waitSettled(replicas[0]!.url, ids, 180_000);
    const final = Date.now() - t0;
    // A task the signer gave up on (its lease lapsed max_attempts times while its node's replica was
    // down) is refunded once its deadline passes: its requester reclaims it, as `market reclaim` does.
    await reclaimPending(m, ids, wallets);
    const fate = await outcome(m.devnetUrl, ids);
    process.stdout.write(
      `chaos: ${ids.length} tasks submitted in ${(submittedIn / 1000).toFixed(1)} s, final at the signer in ${(final / 1000).toFixed(1)} s (${JSON.stringify(Object.fromEntries(counts))}), checked on chain at ${((Date.now() - t0) / 1000).toFixed(1)} s: ${fate.paidOnce.length} paid once, ${fate.refunded.length} refunded, ${fate.twice.length} paid or refunded twice, ${fate.lost.length} lost; after each kill of the leader, the lead taken / the next settlement landed: ${failovers.map((f) => `${(f.lead / 1000).toFixed(2)} s / ${(f.settled / 1000).toFixed(2)} s`).join(', ')} (bounds ${LEAD_BOUND_MS / 1000} s / ${FAILOVER_BOUND_MS / 1000} s)\n`,
    );
    for (const id of fate.lost.slice(0, 5))
      process.stdout.write(
        `lost ${id}: ${JSON.stringify(await new SignerClient(replicas[0]!.url).status(String(id)))}\n`,
      );
    expect(ids).toHaveLength(TASKS);
    expect(fate.twice).toEqual([]);
    expect(fate.lost).toEqual([]);
    expect(failovers.length).toBeGreaterThanOrEqual(2);
    for (const f of failovers) {
      expect(f.lead).toBeLessThanOrEqual(LEAD_BOUND_MS);
      expect(f.settled).toBeLessThanOrEqual(FAILOVER_BOUND_MS);
    }
  }, 400_000);
});
