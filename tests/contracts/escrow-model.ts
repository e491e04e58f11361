/**
 * A model of inference-escrow for property tests: fast-check commands (submit, complete,
 * reclaim, mine) that run against simnet, predict every result from the model, and check the
 * escrow's invariants after each step. Shared by the 200-sequence suite in `npm test` and the
 * long run of `npm run fuzz` (FUZZ_RUNS).
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { Cl, getAddressFromPublicKey } from '@stacks/transactions';
import { escrowErrors as E, decodeCompleteResults, decodeTaskCompleted, type CompleteTaskItem, type CompleteResult } from '../../protocol/contracts/index.js';
import { signTaskResult, verifyTaskResult } from '../../protocol/sip018/index.js';
import { escrowId, deployer, wallets, nodes, deployModel, submit, complete, completePacked, reclaim, getTask, stx, hash, chainId, okUint } from './helpers.js';

type Status = 'pending' | 'paid' | 'refunded';
interface ModelTask { id: bigint; requester: string; fee: bigint; deadline: bigint; inputHash: string; status: Status }

/** What the model believes the chain holds. */
export class World {
  tasks: ModelTask[] = [];
  models: { outputId: bigint; price: bigint; live: boolean }[] = [];
  paid = new Set<bigint>();
  refunded = new Set<bigint>();
  totalStx = 0n;
  steps = 0;
}

const requesters = wallets.slice(1, 5);
const OWNER_BPS = 1000n;
const TREASURY_BPS = 500n;

/** Fresh chain for one sequence: two live models (cheap and dear) and one spent output. */
export async function freshWorld(): Promise<World> {
  await simnet.initSession(process.cwd(), globalThis.options.clarinet.manifestPath, null);
  const w = new World();
  w.models.push({ outputId: deployModel(wallets[0], 'cheap', 10n), price: 10n, live: true });
  w.models.push({ outputId: deployModel(wallets[0], 'dear', 500n), price: 500n, live: true });
  const old = deployModel(wallets[0], 'old', 1n);
  simnet.callPublicFn(`${deployer}.model-registry`, 'retire', [Cl.uint(old)], wallets[0]);
  w.models.push({ outputId: old, price: 1n, live: false });
  w.totalStx = allStx();
  return w;
}

function allStx(): bigint {
  let sum = 0n;
  for (const v of simnet.getAssetsMap().get('STX')?.values() ?? []) sum += v;
  return sum;
}

/** The height the next call runs at: simnet mines each call in a new block. */
const nextHeight = () => BigInt(simnet.stacksBlockHeight + 1);

/** Checks the global invariants and (for `touched`) per-task state against the chain. */
export function checkInvariants(w: World, touched: bigint[] = w.tasks.map((t) => t.id)): void {
  const escrowed = w.tasks.filter((t) => t.status === 'pending').reduce((s, t) => s + t.fee, 0n);
  expect(stx(escrowId), 'escrow balance = sum of pending fees').toBe(escrowed);
  const totals = simnet.callReadOnlyFn(escrowId, 'get-totals', [], deployer).result;
  const deposited = w.tasks.reduce((s, t) => s + t.fee, 0n);
  const paid = w.tasks.filter((t) => t.status === 'paid').reduce((s, t) => s + t.fee, 0n);
  expect(totals).toBeTuple({ deposited: Cl.uint(deposited), paid: Cl.uint(paid), refunded: Cl.uint(deposited - paid - escrowed), escrowed: Cl.uint(escrowed) });
  expect(allStx(), 'no micro-STX made or lost').toBe(w.totalStx);
  for (const id of w.paid) expect(w.refunded.has(id), `task ${id} both paid and refunded`).toBe(false);
  for (const id of touched) expect(getTask(id)?.status).toBe(w.tasks[Number(id) - 1].status);
}

class SubmitCmd implements fc.Command<World, object> {
  constructor(readonly who: number, readonly modelIdx: number, readonly fee: bigint, readonly maxBlocks: number, readonly privacy: number) {}
  check = () => true;
  run(w: World): void {
    const m = w.models[this.modelIdx];
    const requester = requesters[this.who];
    const height = nextHeight();
    const inputHash = hash(`in-${w.steps++}`);
    const r = submit(requester, { modelOutput: m.outputId, fee: this.fee, maxBlocks: this.maxBlocks, privacy: this.privacy, inputHash });
    const expected = !m.live ? E.ERR_MODEL_NOT_LIVE
      : this.fee === 0n ? E.ERR_ZERO_FEE
      : this.fee < m.price ? E.ERR_FEE_BELOW_PRICE
      : this.maxBlocks === 0 ? E.ERR_INVALID_MAX_BLOCKS
      : this.privacy > 2 ? E.ERR_INVALID_PRIVACY
      : 0;
    if (expected) {
      expect(r.result).toBeErr(Cl.uint(expected));
      return checkInvariants(w, []);
    }
    const id = okUint(r.result, 'submit-task');
    expect(id).toBe(BigInt(w.tasks.length + 1));
    w.tasks.push({ id, requester, fee: this.fee, deadline: height + BigInt(this.maxBlocks), inputHash, status: 'pending' });
    checkInvariants(w, [id]);
  }
  toString = () => `submit(wallet ${this.who}, model ${this.modelIdx}, fee ${this.fee}, blocks ${this.maxBlocks}, privacy ${this.privacy})`;
}

/** How an item is built: 0 honest; 1 signed by another key; 2 output changed after signing; 3 signed over another input; 4 random bytes. */
type Tamper = 0 | 1 | 2 | 3 | 4;
interface ItemSpec { ref: number; node: number; tamper: Tamper }

class CompleteCmd implements fc.Command<World, object> {
  constructor(readonly specs: ItemSpec[], readonly bySigner: boolean, readonly packed: boolean) {}
  check = () => true;
  run(w: World): void {
    const chain = chainId();
    const items: CompleteTaskItem[] = this.specs.map((s, i) => {
      const task = w.tasks[s.ref % (w.tasks.length + 1)];
      const taskId = task?.id ?? BigInt(w.tasks.length + 1 + i);
      const inputHash = task?.inputHash ?? hash('unknown');
      const outputHash = hash(`out-${taskId}-${s.node}`);
      const node = nodes[s.node];
      const signer = s.tamper === 1 ? nodes[(s.node + 1) % nodes.length] : node;
      const signed = { escrow: escrowId, taskId, inputHash: s.tamper === 3 ? hash('other') : inputHash, outputHash };
      const signature = s.tamper === 4 ? 'ab'.repeat(65) : signTaskResult(signed, chain, signer.privateKey);
      return { taskId, outputHash: s.tamper === 2 ? hash('changed') : outputHash, nodePublicKey: node.publicKey, signature };
    });
    const height = nextHeight();
    const r = (this.packed ? completePacked : complete)(items, this.bySigner ? deployer : wallets[6]);
    if (!this.bySigner) {
      expect(r.result).toBeErr(Cl.uint(E.ERR_NOT_SIGNER));
      return checkInvariants(w, []);
    }
    const expected: CompleteResult[] = items.map((it, i) => {
      const t = w.tasks[Number(it.taskId) - 1];
      if (!t) return { ok: false, code: E.ERR_TASK_NOT_FOUND };
      if (t.status !== 'pending') return { ok: false, code: E.ERR_TASK_NOT_PENDING };
      if (height > t.deadline) return { ok: false, code: E.ERR_DEADLINE_PASSED };
      if (this.specs[i].tamper !== 0) return { ok: false, code: E.ERR_INVALID_SIGNATURE };
      t.status = 'paid';
      return { ok: true, payout: t.fee - (t.fee * OWNER_BPS) / 10_000n - (t.fee * TREASURY_BPS) / 10_000n };
    });
    expect(decodeCompleteResults(r.result)).toEqual(expected);
    // one task-completed event per paid item, in batch order
    const paidItems = items.filter((_, i) => expected[i].ok);
    const events = r.events.filter((ev) => ev.event === 'print_event');
    expect(events).toHaveLength(paidItems.length);
    events.forEach((e, i) => {
      const done = decodeTaskCompleted(e.data.value!);
      const sent = paidItems[i];
      expect([done.taskId, done.outputHash, done.nodePublicKey]).toEqual([sent.taskId, sent.outputHash, sent.nodePublicKey]);
      // no payout without a valid node signature, checked independently of the contract
      const task = w.tasks[Number(done.taskId) - 1];
      expect(verifyTaskResult({ escrow: escrowId, taskId: done.taskId, inputHash: task.inputHash, outputHash: done.outputHash }, chain, sent.signature, sent.nodePublicKey)).toBe(true);
      expect(done.node).toBe(getAddressFromPublicKey(done.nodePublicKey, 'testnet'));
      expect(w.paid.has(done.taskId), `task ${done.taskId} paid twice`).toBe(false);
      w.paid.add(done.taskId);
    });
    checkInvariants(w, items.map((it) => BigInt(it.taskId)).filter((id) => id <= BigInt(w.tasks.length)));
  }
  toString = () => `complete${this.packed ? '-packed' : ''}(${this.bySigner ? 'signer' : 'stranger'}, ${JSON.stringify(this.specs)})`;
}

class ReclaimCmd implements fc.Command<World, object> {
  constructor(readonly ref: number, readonly caller: number) {}
  check = () => true;
  run(w: World): void {
    const t = w.tasks[this.ref % (w.tasks.length + 1)];
    const id = t?.id ?? BigInt(w.tasks.length + 1);
    const height = nextHeight();
    const before = t ? stx(t.requester) : 0n;
    const r = reclaim(id, wallets[this.caller]);
    if (!t) expect(r.result).toBeErr(Cl.uint(E.ERR_TASK_NOT_FOUND));
    else if (t.status !== 'pending') expect(r.result).toBeErr(Cl.uint(E.ERR_TASK_NOT_PENDING));
    else if (height <= t.deadline) expect(r.result).toBeErr(Cl.uint(E.ERR_DEADLINE_NOT_REACHED));
    else {
      expect(r.result).toBeOk(Cl.uint(t.fee));
      expect(height > t.deadline, 'refund only after the deadline').toBe(true);
      expect(stx(t.requester) - before, 'the requester gets the fee back, whoever calls').toBe(t.fee);
      expect(w.refunded.has(id), `task ${id} refunded twice`).toBe(false);
      w.refunded.add(id);
      t.status = 'refunded';
    }
    checkInvariants(w, t ? [id] : []);
  }
  toString = () => `reclaim(ref ${this.ref}, by wallet ${this.caller})`;
}

class MineCmd implements fc.Command<World, object> {
  constructor(readonly blocks: number) {}
  check = () => true;
  run(w: World): void {
    simnet.mineEmptyBlocks(this.blocks);
    checkInvariants(w, []);
  }
  toString = () => `mine(${this.blocks})`;
}

/** The command mix: mostly valid submits and honest completions (tuple or packed items), with every kind of bad input. */
export const commandArb = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.nat(3), fc.nat(2), fc.bigInt({ min: 0n, max: 3000n }), fc.nat(8), fc.nat(3)).map(([a, m, f, b, p]) => new SubmitCmd(a, m, f, b, p)) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.array(fc.record({ ref: fc.nat(40), node: fc.nat(nodes.length - 1), tamper: fc.constantFrom<Tamper>(0, 0, 0, 1, 2, 3, 4) }), { maxLength: 6 }), fc.nat(9).map((n) => n !== 0), fc.boolean())
      .map(([specs, s, packed]) => new CompleteCmd(specs, s, packed)),
  },
  { weight: 2, arbitrary: fc.tuple(fc.nat(40), fc.nat(7)).map(([ref, c]) => new ReclaimCmd(ref, c)) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 5 }).map((n) => new MineCmd(n)) },
);
