/**
 * Chaos: three `signer run` replicas on one PostgreSQL database, a node agent on each (each node
 * talks to one replica only), 1,000 on-chain tasks submitted through all three, and replicas
 * SIGKILLed at random moments (the leader three times, another one once) and restarted. In the
 * end the chain says every task was paid exactly once or refunded, none is lost, none paid twice,
 * and after each kill of the leader a settlement landed within FAILOVER_BOUND_MS.
 *
 * The tasks are cheap on purpose (the bundled classifier, one small binary input shared by all,
 * settlements of up to 200 tasks): the figure is the 1,000 tasks the issue asks for, and the run
 * stays near a minute and a half.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cl } from '@stacks/transactions';
import { INFERENCE_ESCROW } from '../../protocol/contracts/index.js';
import { DEMO_MODEL, devAccountKeys, type Marketplace } from '../../scripts/lib/marketplace.js';
import { freePort, type Service } from '../../scripts/lib/services.js';
import { DEV_ESCROW, marketChain, settlementEvents, submitTasks, waitSettled } from '../../scripts/lib/workload.js';
import { walletFromKey } from '../../market/index.js';
import { FAST_SIGNER_TOML, marketplace } from '../e2e/helpers.js';
import { agent, replica, sleep, type Replica } from './chaos-fixture.js';
import { clusterDb, type ClusterDb } from './chaos-db.js';

const TASKS = 1000;
const REPLICAS = 3;
/** A new leader's first settlement lands within this long after the old one was killed. */
const FAILOVER_BOUND_MS = 15_000;
/** Submit-task moves the devnet one block per transaction: deadlines far enough that none expires. */
const MAX_BLOCKS = 20_000;
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

/** Kills replicas while the tasks flow; returns, for each kill of the leader, how long until the next settlement. */
async function chaos(): Promise<number[]> {
  const failovers: Promise<number | null>[] = [];
  for (const what of KILLS) {
    await sleep(500 + Math.random() * 2500);
    const victim = what === 'leader' ? await leader() : replicas[Math.floor(Math.random() * replicas.length)]!;
    const killedAt = Date.now();
    await victim.kill();
    process.stdout.write(`chaos: SIGKILL ${victim.name}${what === 'leader' ? ' (leader)' : ''}\n`);
    if (what === 'leader') failovers.push(db.settledAfter(killedAt, FAILOVER_BOUND_MS * 2));
    await sleep(200 + Math.random() * 2000);
    await victim.start();
  }
  return (await Promise.all(failovers)).map((ms) => ms ?? Number.POSITIVE_INFINITY);
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
  it(`${TASKS} tasks, replicas SIGKILLed at random moments (the leader ${KILLS.filter((k) => k === 'leader').length} times): each task paid once or refunded, a new leader settles within ${FAILOVER_BOUND_MS / 1000} s`, async () => {
    const keys = devAccountKeys();
    const wallets = ['wallet_1', 'wallet_2', 'wallet_3', 'wallet_4', 'wallet_5', 'wallet_6'].map((n) => keys.get(n)!);
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
            inputFile: input,
            binary: true,
            maxBlocks: BigInt(MAX_BLOCKS),
          },
        ),
      ),
    );
    await db.untilTasks(1);
    const failovers = await chaos();
    const ids = (await submitted).flat();
    const submittedIn = Date.now() - t0;
    const counts = await waitSettled(replicas[0]!.url, ids, 180_000);
    const elapsed = Date.now() - t0;

    // From the chain: a task-completed event for each paid task, exactly one; the rest refunded.
    const events = (await settlementEvents(m.devnetUrl, DEV_ESCROW)).map((e) => e.taskId);
    const paidEvents = new Map<bigint, number>();
    for (const id of events) paidEvents.set(id, (paidEvents.get(id) ?? 0) + 1);
    const chain = marketChain(m);
    const lost: bigint[] = [];
    const twice: bigint[] = [];
    let refunded = 0;
    for (let i = 0; i < ids.length; i += 25) {
      const batch = ids.slice(i, i + 25);
      const tasks = await Promise.all(batch.map((id) => chain.task(id)));
      for (const [k, task] of tasks.entries()) {
        const id = batch[k]!;
        const n = paidEvents.get(id) ?? 0;
        if (n > 1) twice.push(id);
        if (task?.status === 'refunded' && n === 0) refunded++;
        else if (task?.status !== 'paid' || n !== 1) lost.push(id);
      }
    }
    process.stdout.write(
      `chaos: ${ids.length} tasks submitted in ${(submittedIn / 1000).toFixed(1)} s, all final in ${(elapsed / 1000).toFixed(1)} s (${JSON.stringify(Object.fromEntries(counts))}), ${ids.length - refunded - lost.length} paid once, ${refunded} refunded; settlement after each leader kill: ${failovers.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(', ')} (bound ${FAILOVER_BOUND_MS / 1000} s)\n`,
    );
    expect(ids).toHaveLength(TASKS);
    expect(twice).toEqual([]);
    expect(lost).toEqual([]);
    expect(failovers.length).toBeGreaterThanOrEqual(2);
    for (const ms of failovers) expect(ms).toBeLessThanOrEqual(FAILOVER_BOUND_MS);
  }, 400_000);
});
