/**
 * fast-check commands over the escrow model (escrow-model.ts): each one runs a call in simnet,
 * predicts its result and every balance it moves from the model alone, and checks the
 * invariants. Tasks, results and settlements (complete-tasks, settle-redundant)
 * mix with node bonds, unbonds and withdrawals, and with the admin changing shares, treasury,
 * sampling rate, stake minimum and block limits under open tasks.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { Cl, getAddressFromPublicKey } from '@stacks/transactions';
import {
  escrowErrors as E,
  decodeCompleteResults,
  decodeRedundantResults,
  decodeTaskCompleted,
  decodeTaskSubmitted,
  bondNodeArgs,
  nodeKeyArgs,
  type CompleteTaskItem,
  type CompleteResult,
  type RedundantResult,
} from '../../protocol/contracts/index.js';
import { signTaskResult, verifyTaskResult, SECP256K1_HALF_N } from '../../protocol/sip018/index.js';
import { escrowId, deployer, wallets, nodes, complete, settle, reclaim, hash, chainId, okUint } from './helpers.js';
import {
  type World,
  BPS,
  requesters,
  modelOwner,
  stranger,
  balances,
  Deltas,
  split,
  checkInvariants,
} from './escrow-model.js';

/** The height the next call runs at: simnet mines each call in a new block. */
const nextHeight = () => BigInt(simnet.stacksBlockHeight + 1);
const N = 2n * SECP256K1_HALF_N + 1n;
/** The high-s twin of a signature: valid under the same key, refused as non-canonical. */
const highS = (sig: string) =>
  sig.slice(0, 64) +
  (N - BigInt(`0x${sig.slice(64, 128)}`)).toString(16).padStart(64, '0') +
  (parseInt(sig.slice(128), 16) ^ 1).toString(16).padStart(2, '0');
/** Canonical in form (low s, recovery byte 00), by no key over anything. */
const FORGED = `${'11'.repeat(64)}00`;
const prints = (r: { events: { event: string; data: { value?: unknown } }[] }) =>
  r.events
    .filter((e) => e.event === 'print_event')
    .map((e) => e.data.value as Parameters<typeof decodeTaskCompleted>[0]);
const eventName = (v: unknown) => (v as { value: Record<string, { value: string }> }).value.event.value;

/** The task `ref` places back from the newest (0: the newest), or undefined past the oldest (its id is then unknown). */
const recent = (w: World, ref: number) => w.tasks[w.tasks.length - 1 - ref];
/** Mostly one of the newest tasks (their deadlines are open), sometimes any or none. */
const refArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.nat(3) },
  { weight: 1, arbitrary: fc.nat(40) },
);
/** Commands about tasks run once there is one (before that, every item would only be ERR_TASK_NOT_FOUND). */
const hasTasks = (w: Readonly<World>) => w.tasks.length > 0;

/** Checks that no node key that was unbonded or slashed before the call got anything from it. */
function expectUnpayableUnpaid(payableBefore: boolean[], before: Map<string, bigint>, what: string): void {
  const after = balances();
  nodes.forEach((n, i) => {
    if (!payableBefore[i])
      expect(
        after.get(n.address)! - before.get(n.address)!,
        `${what}: node ${i} has no bond (or was slashed) and was paid`,
      ).toBe(0n);
  });
}

class SubmitCmd implements fc.Command<World, object> {
  constructor(
    readonly who: number,
    readonly modelIdx: number,
    readonly fee: bigint,
    readonly maxBlocks: number,
    readonly privacy: number,
    readonly security: number,
  ) {}
  check = () => true;
  run(w: World): void {
    const m = w.models[this.modelIdx];
    const requester = requesters[this.who];
    const height = nextHeight();
    const inputHash = hash(`in-${w.steps++}`);
    const before = balances();
    const args = [this.fee, this.maxBlocks, this.privacy, 0, this.security].map((v) => Cl.uint(v));
    const r = simnet.callPublicFn(
      escrowId,
      'submit-task',
      [Cl.uint(m.outputId), Cl.bufferFromHex(inputHash), ...args],
      requester,
    );
    const c = w.config;
    const blocks = BigInt(this.maxBlocks);
    const expected = !m.live
      ? E.ERR_MODEL_NOT_LIVE
      : this.fee === 0n
        ? E.ERR_ZERO_FEE
        : ![1, 3, 5].includes(this.security)
          ? E.ERR_INVALID_SECURITY
          : this.fee < m.price * BigInt(this.security)
            ? E.ERR_FEE_BELOW_PRICE
            : blocks === 0n || blocks > c.maxBlocks
              ? E.ERR_INVALID_MAX_BLOCKS
              : blocks < c.minBlocks
                ? E.ERR_MAX_BLOCKS_TOO_LOW
                : this.privacy > 2
                  ? E.ERR_INVALID_PRIVACY
                  : 0;
    if (expected) {
      expect(r.result).toBeErr(Cl.uint(expected));
      new Deltas().check(before, 'refused submit');
      checkInvariants(w, [], []);
      return;
    }
    const id = okUint(r.result, 'submit-task');
    expect(id).toBe(BigInt(w.tasks.length + 1));
    const t = {
      id,
      requester,
      fee: this.fee,
      deadline: height + blocks,
      inputHash,
      security: this.security,
      terms: w.terms(),
      status: 'pending' as const,
    };
    const ev = decodeTaskSubmitted(prints(r)[0]);
    expect(
      {
        ownerBps: BigInt(ev.ownerBps),
        treasuryBps: BigInt(ev.treasuryBps),
        treasury: ev.treasury,
        sampleBps: BigInt(ev.sampleBps),
      },
      'terms printed at submission',
    ).toEqual(t.terms);
    w.tasks.push(t);
    w.sums.deposited += this.fee;
    new Deltas().add(requester, -this.fee).add(escrowId, this.fee).check(before, 'submit');
    checkInvariants(w, [id], []);
  }
  toString = () =>
    `submit(wallet ${this.who}, model ${this.modelIdx}, fee ${this.fee}, blocks ${this.maxBlocks}, privacy ${this.privacy}, security ${this.security})`;
}

/** How an item is signed: 0 honest; 1 by another key; 2 output changed after signing; 3 over another input; 4 forged; 5 high-s twin. */
type Tamper = 0 | 1 | 2 | 3 | 4 | 5;
interface ItemSpec {
  ref: number;
  node: number;
  tamper: Tamper;
}

class CompleteCmd implements fc.Command<World, object> {
  constructor(
    readonly specs: ItemSpec[],
    readonly bySigner: boolean,
  ) {}
  check = hasTasks;
  run(w: World): void {
    const chain = chainId();
    const items: CompleteTaskItem[] = this.specs.map((s, i) => {
      const task = recent(w, s.ref);
      const taskId = task?.id ?? BigInt(w.tasks.length + 1 + i);
      const inputHash = task?.inputHash ?? hash('unknown');
      const outputHash = hash(`out-${taskId}-${s.node}`);
      const signer = s.tamper === 1 ? nodes[(s.node + 1) % nodes.length] : nodes[s.node];
      const signed = { escrow: escrowId, taskId, inputHash: s.tamper === 3 ? hash('other') : inputHash, outputHash };
      const signature = s.tamper === 4 ? FORGED : signTaskResult(signed, chain, signer.privateKey);
      return {
        taskId,
        outputHash: s.tamper === 2 ? hash('changed') : outputHash,
        nodePublicKey: nodes[s.node].publicKey,
        signature: s.tamper === 5 ? highS(signature) : signature,
      };
    });
    const height = nextHeight();
    const before = balances();
    const payableBefore = nodes.map((_, i) => w.payable(i));
    const r = complete(items, this.bySigner ? deployer : stranger);
    if (!this.bySigner) {
      expect(r.result).toBeErr(Cl.uint(E.ERR_NOT_SIGNER));
      new Deltas().check(before, 'complete by a stranger');
      checkInvariants(w, [], []);
      return;
    }
    const deltas = new Deltas();
    const expected: CompleteResult[] = items.map((it, i) => {
      const s = this.specs[i];
      const t = w.task(BigInt(it.taskId));
      const code = !t
        ? E.ERR_TASK_NOT_FOUND
        : t.status !== 'pending'
          ? E.ERR_TASK_NOT_PENDING
          : height > t.deadline
            ? E.ERR_DEADLINE_PASSED
            : t.security !== 1
              ? E.ERR_NEEDS_REDUNDANCY
              : s.tamper === 5
                ? E.ERR_NON_CANONICAL_SIGNATURE
                : s.tamper !== 0
                  ? E.ERR_INVALID_SIGNATURE
                  : !w.payable(s.node)
                    ? E.ERR_NODE_NOT_BONDED
                    : 0;
      if (code || !t) return { ok: false, code };
      const cut = split(t);
      t.status = 'paid';
      w.sums.paid += t.fee;
      deltas
        .add(nodes[s.node].address, cut.node)
        .add(modelOwner, cut.owner)
        .add(t.terms.treasury, cut.treasury)
        .add(escrowId, -t.fee);
      return { ok: true, payout: cut.node };
    });
    expect(decodeCompleteResults(r.result)).toEqual(expected);
    deltas.check(before, 'complete');
    expectUnpayableUnpaid(payableBefore, before, 'complete');
    // one task-completed event per paid item, in batch order, paid by the task's own terms
    const paidItems = items.filter((_, i) => expected[i].ok);
    const events = prints(r);
    expect(events).toHaveLength(paidItems.length);
    events.forEach((e, i) => {
      const done = decodeTaskCompleted(e);
      const sent = paidItems[i];
      expect([done.taskId, done.outputHash, done.nodePublicKey]).toEqual([
        sent.taskId,
        sent.outputHash,
        sent.nodePublicKey,
      ]);
      const task = w.task(done.taskId)!;
      // no payout without a valid node signature, checked independently of the contract
      expect(
        verifyTaskResult(
          { escrow: escrowId, taskId: done.taskId, inputHash: task.inputHash, outputHash: done.outputHash },
          chain,
          sent.signature,
          sent.nodePublicKey,
        ),
      ).toBe(true);
      expect(done.node).toBe(getAddressFromPublicKey(done.nodePublicKey, 'testnet'));
      expect([done.treasury, done.ownerPayout, done.treasuryPayout]).toEqual([
        task.terms.treasury,
        split(task).owner,
        split(task).treasury,
      ]);
      expect(w.paid.has(done.taskId), `task ${done.taskId} paid twice`).toBe(false);
      w.paid.add(done.taskId);
    });
    checkInvariants(
      w,
      items.map((it) => BigInt(it.taskId)).filter((id) => id <= BigInt(w.tasks.length)),
      [],
    );
  }
  toString = () => `complete(${this.bySigner ? 'signer' : 'stranger'}, ${JSON.stringify(this.specs)})`;
}

/** One result of a redundant task: which node, which output (0 the right one, 1 the one all cheaters sign, 2 its own), and 1 high-s / 2 forged. */
interface Vote {
  node: number;
  out: 0 | 1 | 2;
  tamper: 0 | 1 | 2;
}
interface SettleSpec {
  ref: number;
  votes: Vote[];
}

class SettleCmd implements fc.Command<World, object> {
  constructor(
    readonly specs: SettleSpec[],
    readonly bySigner: boolean,
  ) {}
  check = hasTasks;
  run(w: World): void {
    const chain = chainId();
    const tasks = this.specs.map((s, i) => {
      const task = recent(w, s.ref);
      const taskId = task?.id ?? BigInt(w.tasks.length + 1 + i);
      const inputHash = task?.inputHash ?? hash('unknown');
      const results = s.votes.map((v) => {
        const outputHash = hash(
          v.out === 0 ? `right-${taskId}` : v.out === 1 ? `wrong-${taskId}` : `own-${taskId}-${v.node}`,
        );
        const signature = signTaskResult(
          { escrow: escrowId, taskId, inputHash, outputHash },
          chain,
          nodes[v.node].privateKey,
        );
        return {
          outputHash,
          nodePublicKey: nodes[v.node].publicKey,
          signature: v.tamper === 1 ? highS(signature) : v.tamper === 2 ? FORGED : signature,
        };
      });
      return { taskId, results };
    });
    const height = nextHeight();
    const before = balances();
    const payableBefore = nodes.map((_, i) => w.payable(i));
    const r = settle(tasks, this.bySigner ? deployer : stranger);
    if (!this.bySigner) {
      expect(r.result).toBeErr(Cl.uint(E.ERR_NOT_SIGNER));
      new Deltas().check(before, 'settle by a stranger');
      checkInvariants(w, [], []);
      return;
    }
    const deltas = new Deltas();
    const majorityNodes = new Set<number>();
    const slashedEvents: { taskId: bigint; node: number; amount: bigint }[] = [];
    const expected: RedundantResult[] = tasks.map(({ taskId, results }, i) => {
      const votes = this.specs[i].votes;
      const t = w.task(taskId);
      if (!t) return { ok: false, code: E.ERR_TASK_NOT_FOUND };
      if (t.status !== 'pending') return { ok: false, code: E.ERR_TASK_NOT_PENDING };
      if (height > t.deadline) return { ok: false, code: E.ERR_DEADLINE_PASSED };
      if (votes.length < (t.security === 1 ? 2 : t.security)) return { ok: false, code: E.ERR_TOO_FEW_RESULTS };
      // each result in turn: a key not seen before, a canonical signature, a valid one, a bonded key
      const seen = new Set<number>();
      for (const v of votes) {
        const code = seen.has(v.node)
          ? E.ERR_DUPLICATE_NODE
          : v.tamper === 1
            ? E.ERR_NON_CANONICAL_SIGNATURE
            : v.tamper === 2
              ? E.ERR_INVALID_SIGNATURE
              : !w.payable(v.node)
                ? E.ERR_NODE_NOT_BONDED
                : 0;
        if (code) return { ok: false, code };
        seen.add(v.node);
      }
      const count = new Map<string, number>();
      for (const res of results) count.set(res.outputHash, (count.get(res.outputHash) ?? 0) + 1);
      const winner = [...count].find(([, n]) => 2 * n > results.length);
      if (!winner) return { ok: false, code: E.ERR_NO_MAJORITY };
      const [majority, n] = winner;
      const k = BigInt(n);
      const cut = split(t);
      const perNode = cut.node / k;
      const amount = (t.fee * BPS) / t.terms.sampleBps;
      let slashed = 0n;
      results.forEach((res, j) => {
        const node = votes[j].node;
        if (res.outputHash === majority) return void majorityNodes.add(node);
        const bond = w.bonds.get(node)!;
        const taken = bond.stake < amount ? bond.stake : amount;
        w.bonds.set(node, { stake: bond.stake - taken, status: 'slashed', withdrawAt: withdrawHeight(w, height) });
        slashed += taken;
        slashedEvents.push({ taskId, node, amount: taken });
      });
      const bounty = slashed / 2n / k;
      results.forEach(
        (res, j) => res.outputHash === majority && deltas.add(nodes[votes[j].node].address, perNode + bounty),
      );
      deltas
        .add(modelOwner, cut.owner)
        .add(t.terms.treasury, t.fee - cut.owner - k * perNode)
        .add(t.requester, slashed - k * bounty)
        .add(escrowId, -t.fee - slashed);
      t.status = 'paid';
      w.sums.paid += t.fee;
      w.sums.slashed += slashed;
      expect(w.paid.has(taskId), `task ${taskId} paid twice`).toBe(false);
      w.paid.add(taskId);
      return { ok: true, votes: n, slashed };
    });
    expect(decodeRedundantResults(r.result)).toEqual(expected);
    deltas.check(before, 'settle-redundant');
    expectUnpayableUnpaid(payableBefore, before, 'settle-redundant');
    // a level-k task pays the nodes of its majority and no other node
    const after = balances();
    nodes.forEach((node, i) => {
      if (!majorityNodes.has(i))
        expect(after.get(node.address)! - before.get(node.address)!, `node ${i} is in no majority and was paid`).toBe(
          0n,
        );
    });
    const slashEvents = prints(r).filter((v) => eventName(v) === 'node-slashed');
    expect(slashEvents).toHaveLength(slashedEvents.length);
    expect(prints(r).filter((v) => eventName(v) === 'task-settled-redundant')).toHaveLength(
      expected.filter((x) => x.ok).length,
    );
    checkInvariants(
      w,
      tasks.map((t) => t.taskId).filter((id) => id <= BigInt(w.tasks.length)),
      this.specs.flatMap((s) => s.votes.map((v) => v.node)),
    );
  }
  toString = () => `settle-redundant(${this.bySigner ? 'signer' : 'stranger'}, ${JSON.stringify(this.specs)})`;
}

class BondCmd implements fc.Command<World, object> {
  constructor(
    readonly node: number,
    readonly amountKind: number,
    readonly own: boolean,
  ) {}
  check = () => true;
  run(w: World): void {
    const key = nodes[this.node];
    const min = w.config.minStake;
    const amount = [0n, min - 1n, min, 2n * min + 123n, 1000n][this.amountKind];
    const before = balances();
    const r = simnet.callPublicFn(
      escrowId,
      'bond-node',
      bondNodeArgs(key.publicKey, amount),
      this.own ? key.address : stranger,
    );
    const bond = w.bonds.get(this.node);
    const expected = !this.own
      ? E.ERR_NOT_KEY_OWNER
      : amount === 0n
        ? E.ERR_STAKE_TOO_LOW
        : bond?.status === 'slashed'
          ? E.ERR_NODE_SLASHED
          : bond?.status === 'unbonding'
            ? E.ERR_NODE_UNBONDING
            : !bond && amount < min
              ? E.ERR_STAKE_TOO_LOW
              : 0;
    if (expected) {
      expect(r.result).toBeErr(Cl.uint(expected));
      new Deltas().check(before, 'refused bond');
      checkInvariants(w, [], []);
      return;
    }
    const stake = (bond?.stake ?? 0n) + amount;
    expect(r.result).toBeOk(Cl.uint(stake));
    w.bonds.set(this.node, { stake, status: 'active', withdrawAt: 0n });
    w.sums.bonded += amount;
    new Deltas().add(key.address, -amount).add(escrowId, amount).check(before, 'bond');
    checkInvariants(w, [], [this.node]);
  }
  toString = () => `bond(node ${this.node}, amount kind ${this.amountKind}, ${this.own ? 'own address' : 'stranger'})`;
}

class UnbondCmd implements fc.Command<World, object> {
  constructor(
    readonly node: number,
    readonly own: boolean,
    readonly withdraw: boolean,
  ) {}
  check = () => true;
  run(w: World): void {
    const key = nodes[this.node];
    const height = nextHeight();
    const before = balances();
    const r = simnet.callPublicFn(
      escrowId,
      this.withdraw ? 'withdraw-stake' : 'unbond-node',
      nodeKeyArgs(key.publicKey),
      this.own ? key.address : stranger,
    );
    const bond = w.bonds.get(this.node);
    const expected = !bond
      ? E.ERR_NODE_NOT_FOUND
      : !this.own
        ? E.ERR_NOT_KEY_OWNER
        : !this.withdraw && bond.status === 'slashed'
          ? E.ERR_NODE_SLASHED
          : !this.withdraw && bond.status === 'unbonding'
            ? E.ERR_NODE_UNBONDING
            : this.withdraw && bond.status === 'active'
              ? E.ERR_NODE_ACTIVE
              : this.withdraw && height < bond.withdrawAt
                ? E.ERR_WITHDRAW_TOO_EARLY
                : 0;
    if (expected || !bond) {
      expect(r.result).toBeErr(Cl.uint(expected));
      new Deltas().check(before, `refused ${this.withdraw ? 'withdraw' : 'unbond'}`);
      checkInvariants(w, [], []);
      return;
    }
    const deltas = new Deltas();
    if (!this.withdraw) {
      const withdrawAt = withdrawHeight(w, height);
      expect(r.result).toBeOk(Cl.uint(withdrawAt));
      w.bonds.set(this.node, { ...bond, status: 'unbonding', withdrawAt });
    } else {
      expect(r.result).toBeOk(Cl.uint(bond.stake));
      deltas.add(key.address, bond.stake).add(escrowId, -bond.stake);
      w.sums.withdrawn += bond.stake;
      // a slashed key stays on record with nothing left, so it never bonds again
      if (bond.status === 'slashed') w.bonds.set(this.node, { ...bond, stake: 0n });
      else w.bonds.delete(this.node);
    }
    deltas.check(before, this.withdraw ? 'withdraw' : 'unbond');
    checkInvariants(w, [], [this.node]);
  }
  toString = () =>
    `${this.withdraw ? 'withdraw' : 'unbond'}(node ${this.node}, ${this.own ? 'own address' : 'stranger'})`;
}

const max = (a: bigint, b: bigint) => (a > b ? a : b);

/** When a stake locked at `height` may be withdrawn: past every deadline a task submitted so far can have. */
function withdrawHeight(w: World, height: bigint): bigint {
  return max(height + w.config.maxBlocks, w.config.deadlineHorizon) + 1n;
}

type AdminKind =
  | 'set-shares'
  | 'set-treasury'
  | 'set-sample-bps'
  | 'set-min-stake'
  | 'set-max-blocks'
  | 'set-min-blocks';
const TREASURIES = [deployer, wallets[5], wallets[7], wallets[1]];

class AdminCmd implements fc.Command<World, object> {
  constructor(
    readonly kind: AdminKind,
    readonly a: number,
    readonly b: number,
    readonly byAdmin: boolean,
  ) {}
  check = () => true;
  run(w: World): void {
    const c = w.config;
    const [a, b] = [BigInt(this.a), BigInt(this.b)];
    const height = nextHeight();
    const args =
      this.kind === 'set-shares'
        ? [Cl.uint(a), Cl.uint(b)]
        : this.kind === 'set-treasury'
          ? [Cl.principal(TREASURIES[this.a % TREASURIES.length])]
          : [Cl.uint(a)];
    const r = simnet.callPublicFn(escrowId, this.kind, args, this.byAdmin ? deployer : stranger);
    const invalid = {
      'set-shares': a + b > BPS ? E.ERR_INVALID_SHARES : 0,
      'set-treasury': 0,
      'set-sample-bps': a === 0n || a > BPS ? E.ERR_INVALID_SAMPLE_RATE : 0,
      'set-min-stake': a === 0n ? E.ERR_STAKE_TOO_LOW : 0,
      'set-max-blocks': a < c.minBlocks ? E.ERR_INVALID_MAX_BLOCKS : 0,
      'set-min-blocks': a === 0n || a > c.maxBlocks ? E.ERR_INVALID_MAX_BLOCKS : 0,
    }[this.kind];
    const expected = !this.byAdmin ? E.ERR_NOT_ADMIN : invalid;
    if (expected) expect(r.result).toBeErr(Cl.uint(expected));
    else {
      expect(r.result).toBeOk(Cl.bool(true));
      if (this.kind === 'set-shares') Object.assign(c, { ownerBps: a, treasuryBps: b });
      if (this.kind === 'set-treasury') c.treasury = TREASURIES[this.a % TREASURIES.length];
      if (this.kind === 'set-sample-bps') c.sampleBps = a;
      if (this.kind === 'set-min-stake') c.minStake = a;
      if (this.kind === 'set-max-blocks') {
        // tasks already submitted may have deadlines up to the old limit away: stakes stay locked past them
        if (w.tasks.length > 0) c.deadlineHorizon = max(c.deadlineHorizon, height + c.maxBlocks);
        c.maxBlocks = a;
      }
      if (this.kind === 'set-min-blocks') c.minBlocks = a;
    }
    // whatever the admin did, every open task keeps the terms it was submitted with (the end of the sequence checks them all)
    checkInvariants(
      w,
      w.tasks.filter((t) => t.status === 'pending').map((t) => t.id),
      [],
    );
  }
  toString = () => `${this.kind}(${this.a}, ${this.b}, by ${this.byAdmin ? 'admin' : 'stranger'})`;
}

class ReclaimCmd implements fc.Command<World, object> {
  constructor(
    readonly ref: number,
    readonly caller: number,
  ) {}
  check = hasTasks;
  run(w: World): void {
    const t = recent(w, this.ref);
    const id = t?.id ?? BigInt(w.tasks.length + 1);
    const height = nextHeight();
    const before = balances();
    const r = reclaim(id, wallets[this.caller]);
    const deltas = new Deltas();
    if (!t) expect(r.result).toBeErr(Cl.uint(E.ERR_TASK_NOT_FOUND));
    else if (t.status !== 'pending') expect(r.result).toBeErr(Cl.uint(E.ERR_TASK_NOT_PENDING));
    else if (height <= t.deadline) expect(r.result).toBeErr(Cl.uint(E.ERR_DEADLINE_NOT_REACHED));
    else {
      expect(r.result).toBeOk(Cl.uint(t.fee));
      // the requester gets the fee back, whoever calls, only after the deadline
      deltas.add(t.requester, t.fee).add(escrowId, -t.fee);
      expect(w.refunded.has(id), `task ${id} refunded twice`).toBe(false);
      w.refunded.add(id);
      w.sums.refunded += t.fee;
      t.status = 'refunded';
    }
    deltas.check(before, 'reclaim');
    checkInvariants(w, t ? [id] : [], []);
  }
  toString = () => `reclaim(ref ${this.ref}, by wallet ${this.caller})`;
}

class MineCmd implements fc.Command<World, object> {
  constructor(readonly blocks: number) {}
  check = () => true;
  run(w: World): void {
    simnet.mineEmptyBlocks(this.blocks);
    checkInvariants(w, [], []);
  }
  toString = () => `mine(${this.blocks})`;
}

const NODE_INDEXES = nodes.map((_, i) => i);
/** Mostly a node bonded at the start (0-3), sometimes 4 (bonds later, maybe) or 5 (never bonds). */
const nodeArb = fc.oneof({ weight: 3, arbitrary: fc.nat(3) }, { weight: 1, arbitrary: fc.nat(nodes.length - 1) });
const voteArb = fc.record({
  out: fc.constantFrom<0 | 1 | 2>(0, 0, 0, 0, 1, 1, 2),
  tamper: fc.constantFrom<0 | 1 | 2>(...Array<0>(38).fill(0), 1, 2),
});
/** Distinct nodes, mostly among those bonded at the start, most of the time (a duplicate makes the whole task refused); any nodes sometimes. */
const votersArb = fc.oneof(
  { weight: 6, arbitrary: fc.shuffledSubarray([0, 1, 2, 3], { minLength: 2 }) },
  { weight: 3, arbitrary: fc.shuffledSubarray(NODE_INDEXES, { minLength: 1, maxLength: 5 }) },
  { weight: 1, arbitrary: fc.array(fc.nat(nodes.length - 1), { maxLength: 5 }) },
);
const settleSpecArb = fc
  .record({ ref: refArb, voters: votersArb, votes: fc.array(voteArb, { minLength: 5, maxLength: 5 }) })
  .map(({ ref, voters, votes }) => ({ ref, votes: voters.map((node, i) => ({ node, ...votes[i] })) }));

/** The command mix: mostly valid calls, with every kind of bad input, and the admin moving the terms under open tasks. */
export const commandArb = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.nat(3),
        fc.constantFrom(0, 0, 0, 0, 0, 1, 1, 1, 1, 2),
        fc.oneof(
          { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 3000n }) },
          { weight: 4, arbitrary: fc.bigInt({ min: 2500n, max: 200_000n }) },
        ),
        fc.oneof({ weight: 7, arbitrary: fc.integer({ min: 5, max: 12 }) }, { weight: 1, arbitrary: fc.nat(14) }),
        fc.constantFrom(0, 0, 0, 0, 0, 0, 1, 1, 2, 3),
        fc.constantFrom(1, 1, 1, 1, 1, 3, 3, 3, 5, 5, 2),
      )
      .map(([a, m, f, b, p, s]) => new SubmitCmd(a, m, f, b, p, s)),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.array(
          fc.record({
            ref: refArb,
            node: nodeArb,
            tamper: fc.constantFrom<Tamper>(...Array<0>(10).fill(0), 1, 2, 3, 4, 5),
          }),
          { maxLength: 6 },
        ),
        fc.nat(9).map((n) => n !== 0),
      )
      .map(([specs, s]) => new CompleteCmd(specs, s)),
  },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.array(settleSpecArb, { minLength: 1, maxLength: 2 }),
        fc.nat(9).map((n) => n !== 0),
      )
      .map(([specs, s]) => new SettleCmd(specs, s)),
  },
  // node 5 is never bonded: its results stand for those of a key somebody made up
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.nat(4),
        fc.nat(4),
        fc.nat(9).map((n) => n !== 0),
      )
      .map(([n, k, own]) => new BondCmd(n, k, own)),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        nodeArb,
        fc.nat(9).map((n) => n !== 0),
        fc.boolean(),
      )
      .map(([n, own, wd]) => new UnbondCmd(n, own, wd)),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom<AdminKind>(
          'set-shares',
          'set-shares',
          'set-shares',
          'set-treasury',
          'set-treasury',
          'set-sample-bps',
          'set-sample-bps',
          'set-min-stake',
          'set-max-blocks',
          'set-min-blocks',
        ),
        fc.constantFrom(0, 1, 3, 6, 12, 25, 500, 1000, 2500, 10_000, 10_001, 500_000, 1_000_000, 3_000_000),
        fc.constantFrom(0, 500, 2500, 9000, 10_000),
        fc.nat(4).map((n) => n !== 0),
      )
      // block limits stay small, so that deadlines and unbonding delays pass within a sequence
      .map(([k, a, b, admin]) => new AdminCmd(k, k.endsWith('-blocks') ? a % 31 : a, b, admin)),
  },
  { weight: 2, arbitrary: fc.tuple(refArb, fc.nat(7)).map(([ref, c]) => new ReclaimCmd(ref, c)) },
  // past deadlines (max-blocks 12) and unbonding delays (13) now and then
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        { weight: 3, arbitrary: fc.integer({ min: 1, max: 6 }) },
        { weight: 1, arbitrary: fc.integer({ min: 10, max: 14 }) },
      )
      .map((n) => new MineCmd(n)),
  },
);
