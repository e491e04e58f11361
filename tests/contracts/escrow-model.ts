/**
 * A model of inference-escrow for property tests: what the chain should hold (tasks with the
 * fee terms they were submitted with, node bonds, running totals, the admin's settings), the
 * arithmetic of every payout, and the invariants checked against simnet after each step. The
 * fast-check commands that drive it are in escrow-commands.ts. Shared by the suite in `npm test`
 * and the long run of `npm run fuzz` (FUZZ_RUNS).
 */
import { expect } from 'vitest';
import { tx } from '@stacks/clarinet-sdk';
import { Cl } from '@stacks/transactions';
import { bondNodeArgs } from '../../protocol/contracts/index.js';
import {
  escrowId,
  deployer,
  wallets,
  nodes,
  faucet,
  deployModel,
  getTask,
  getNode,
  totals,
  type Totals,
} from './helpers.js';

export type Status = 'pending' | 'paid' | 'refunded';
/** The fee terms a task is settled with: copied from the admin's settings at submission. */
export interface Terms {
  ownerBps: bigint;
  treasuryBps: bigint;
  treasury: string;
  sampleBps: bigint;
}
export interface ModelTask {
  id: bigint;
  requester: string;
  fee: bigint;
  deadline: bigint;
  inputHash: string;
  security: number;
  terms: Terms;
  status: Status;
}
export interface ModelNode {
  stake: bigint;
  status: 'active' | 'unbonding' | 'slashed';
  withdrawAt: bigint;
}

export const BPS = 10_000n;
/** Requesters, the model owner, and someone who is neither admin nor signer nor node. */
export const requesters = wallets.slice(1, 5);
export const modelOwner = wallets[0];
export const stranger = wallets[6];
/** Max-blocks for the model runs: short, so that unbonding delays pass within a sequence. */
export const MODEL_MAX_BLOCKS = 12n;
/** What each node address is funded with: enough for every bond a sequence can make. */
const NODE_FUNDS = 200_000_000n;

/** What the model believes the chain holds. */
export class World {
  tasks: ModelTask[] = [];
  models: { outputId: bigint; price: bigint; live: boolean }[] = [];
  /** Bonds by index in `nodes`; absent: never bonded, or withdrawn unslashed. */
  bonds = new Map<number, ModelNode>();
  config = {
    ownerBps: 1000n,
    treasuryBps: 500n,
    treasury: deployer,
    sampleBps: 500n,
    minStake: 1_000_000n,
    minBlocks: 5n,
    maxBlocks: MODEL_MAX_BLOCKS,
    deadlineHorizon: 0n,
  };
  sums = { deposited: 0n, paid: 0n, refunded: 0n, bonded: 0n, withdrawn: 0n, slashed: 0n };
  paid = new Set<bigint>();
  refunded = new Set<bigint>();
  totalStx = 0n;
  steps = 0;

  /** The terms a task submitted now gets. */
  terms(): Terms {
    const { ownerBps, treasuryBps, treasury, sampleBps } = this.config;
    return { ownerBps, treasuryBps, treasury, sampleBps };
  }
  /** A key is paid only while bonded (active or unbonding) and never slashed. */
  payable(node: number): boolean {
    const b = this.bonds.get(node);
    return b !== undefined && b.status !== 'slashed';
  }
  task(id: bigint): ModelTask | undefined {
    return id >= 1n ? this.tasks[Number(id) - 1] : undefined;
  }
}

/** Nodes 0-3 start bonded with this stake; 4 may bond later; 5 never does (a key somebody made up). */
export const START_STAKE = 2_000_000n;
const START_BONDED = [0, 1, 2, 3];

/** Fresh chain for one sequence: two live models (cheap and dear), one spent output, funded node addresses, four of them bonded, max-blocks 12. */
export async function freshWorld(): Promise<World> {
  await simnet.initSession(process.cwd(), globalThis.options.clarinet.manifestPath, null);
  const w = new World();
  w.models.push({ outputId: deployModel(modelOwner, 'cheap', 10n), price: 10n, live: true });
  w.models.push({ outputId: deployModel(modelOwner, 'dear', 500n), price: 500n, live: true });
  const old = deployModel(modelOwner, 'old', 1n);
  simnet.callPublicFn(`${deployer}.model-registry`, 'retire', [Cl.uint(old)], modelOwner);
  w.models.push({ outputId: old, price: 1n, live: false });
  const setup = simnet.mineBlock([
    tx.callPublicFn(escrowId, 'set-max-blocks', [Cl.uint(MODEL_MAX_BLOCKS)], deployer),
    ...nodes.map((n) => tx.transferSTX(Number(NODE_FUNDS), n.address, faucet)),
    ...START_BONDED.map((i) =>
      tx.callPublicFn(escrowId, 'bond-node', bondNodeArgs(nodes[i].publicKey, START_STAKE), nodes[i].address),
    ),
  ]);
  for (const r of setup) expect(r.result.type, 'set-up of the model run').toBe('ok');
  for (const i of START_BONDED) w.bonds.set(i, { stake: START_STAKE, status: 'active', withdrawAt: 0n });
  w.sums.bonded = START_STAKE * BigInt(START_BONDED.length);
  w.totalStx = allStx();
  return w;
}

function allStx(): bigint {
  let sum = 0n;
  for (const v of simnet.getAssetsMap().get('STX')?.values() ?? []) sum += v;
  return sum;
}

/** Every principal a call can pay or charge. */
const tracked = [...new Set([deployer, ...wallets, ...nodes.map((n) => n.address), escrowId])];
const label = (who: string) =>
  who === escrowId
    ? 'escrow'
    : who === deployer
      ? 'deployer'
      : wallets.includes(who)
        ? `wallet_${wallets.indexOf(who) + 1}`
        : `node ${nodes.findIndex((n) => n.address === who)}`;

/** STX balances of the tracked principals, read once. */
export function balances(): Map<string, bigint> {
  const stx = simnet.getAssetsMap().get('STX');
  return new Map(tracked.map((who) => [who, stx?.get(who) ?? 0n]));
}

/** Expected balance changes of one call, added up per principal. */
export class Deltas {
  readonly map = new Map<string, bigint>();
  add(who: string, amount: bigint): this {
    this.map.set(who, (this.map.get(who) ?? 0n) + amount);
    return this;
  }
  /** Checks every tracked balance moved by exactly what was predicted (others by nothing). */
  check(before: Map<string, bigint>, what: string): void {
    const after = balances();
    for (const who of tracked)
      expect(after.get(who)! - before.get(who)!, `${what}: balance of ${label(who)}`).toBe(this.map.get(who) ?? 0n);
  }
}

/** A fee split by a task's own terms: owner and treasury cuts round down, the node share is the rest. */
export function split(t: ModelTask) {
  const owner = (t.fee * t.terms.ownerBps) / BPS;
  const treasury = (t.fee * t.terms.treasuryBps) / BPS;
  return { owner, treasury, node: t.fee - owner - treasury };
}

/**
 * Checks the global invariants, for `touched` tasks their status and fee terms, and for
 * `touchedNodes` their bonds, against the chain (each read costs ~4 ms in simnet, so a step reads
 * only what it may have changed; a sequence ends with a check of everything): fees (deposited = paid + refunded + escrowed), stakes (bonded = locked + withdrawn +
 * slashed), the escrow's balance = pending fees + locked stakes, every node's bond, and that no
 * micro-STX was made or lost.
 */
export function checkInvariants(
  w: World,
  touched: bigint[] = w.tasks.map((t) => t.id),
  touchedNodes: number[] = nodes.map((_, i) => i),
): void {
  const escrowed = w.tasks.filter((t) => t.status === 'pending').reduce((s, t) => s + t.fee, 0n);
  const locked = [...w.bonds.values()].reduce((s, b) => s + b.stake, 0n);
  const expected: Totals = {
    deposited: w.sums.deposited,
    paid: w.sums.paid,
    refunded: w.sums.refunded,
    escrowed,
    bonded: w.sums.bonded,
    stakeLocked: locked,
    withdrawn: w.sums.withdrawn,
    slashed: w.sums.slashed,
  };
  expect(totals(), 'get-totals').toEqual(expected);
  expect(expected.deposited, 'fees: deposited = paid + refunded + escrowed').toBe(
    expected.paid + expected.refunded + escrowed,
  );
  expect(expected.bonded, 'stakes: bonded = locked + withdrawn + slashed').toBe(
    locked + expected.withdrawn + expected.slashed,
  );
  expect(balances().get(escrowId), 'escrow balance = pending fees + locked stakes').toBe(escrowed + locked);
  expect(allStx(), 'no micro-STX made or lost').toBe(w.totalStx);
  for (const id of w.paid) expect(w.refunded.has(id), `task ${id} both paid and refunded`).toBe(false);
  for (const id of touched) {
    const t = w.task(id)!;
    const chain = getTask(id);
    expect(chain?.status, `task ${id} status`).toBe(t.status);
    // the terms recorded at submission, whatever the admin changed since
    expect(
      {
        ownerBps: BigInt(chain!.ownerBps),
        treasuryBps: BigInt(chain!.treasuryBps),
        treasury: chain!.treasury,
        sampleBps: BigInt(chain!.sampleBps),
      },
      `task ${id} terms`,
    ).toEqual(t.terms);
  }
  for (const i of new Set(touchedNodes))
    expect(getNode(nodes[i]), `bond of node ${i}`).toEqual(
      w.bonds.has(i) ? { operator: nodes[i].address, ...w.bonds.get(i) } : null,
    );
}
