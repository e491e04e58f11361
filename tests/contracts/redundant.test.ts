/**
 * settle-redundant: a task several nodes ran (level 3 or 5, or a spot-checked level-1 task) is
 * paid to the nodes that signed the majority's output; every other node is slashed by
 * fee * 10000 / sample-bps (at most its stake), half of that to the majority, the rest to the
 * requester. Balances are checked to the micro-STX.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import { Cl } from '@stacks/transactions';
import { escrowErrors as E, nodeKeyArgs, type RedundantTask } from '../../protocol/contracts/index.js';
import {
  escrowId,
  deployer,
  wallets,
  nodes,
  nodeKey,
  deployModel,
  submitOk,
  getTask,
  getNode,
  stx,
  hash,
  signedItem,
  complete,
  settle,
  settled,
  reclaim,
  bondNodes,
  totals,
  expectConserved,
  mineUntilNextCallAt,
  okUint,
  STAKE,
  type NodeKey,
} from './helpers.js';

const [owner, alice] = wallets;
const treasury = deployer;
const [n0, n1, n2, n3, n4, n5] = nodes;
const admin = (fn: string, args: Parameters<typeof simnet.callPublicFn>[2]) =>
  simnet.callPublicFn(escrowId, fn, args, deployer).result;

beforeEach(() => bondNodes());

let model: bigint;
beforeEach(() => void (model = deployModel(owner, 'resnet', 100n)));

/** A pending task by alice; returns its id and input hash. */
function task(security: 1 | 3 | 5, fee: bigint, maxBlocks = 10) {
  const inputHash = hash(`input-${Math.random()}`);
  return { id: submitOk(alice, { modelOutput: model, fee, security, maxBlocks, inputHash }), inputHash };
}
type Task = ReturnType<typeof task>;

/** `node`'s signed result for a task, with the output hash of `output`. */
function vote(t: Task, node: NodeKey, output = 'right'): RedundantTask['results'][number] {
  const { outputHash, nodePublicKey, signature } = signedItem(t.id, t.inputHash, node, hash(output));
  return { outputHash, nodePublicKey, signature };
}

/** Balances of the principals a settlement may pay. */
function balances(): Record<string, bigint> {
  const who = {
    owner,
    alice,
    treasury,
    escrow: escrowId,
    ...Object.fromEntries(nodes.map((n, i) => [`n${i}`, n.address])),
  };
  return Object.fromEntries(Object.entries(who).map(([k, a]) => [k, stx(a)]));
}
function deltas(before: Record<string, bigint>): Record<string, bigint> {
  const now = balances();
  return Object.fromEntries(
    Object.entries(now)
      .map(([k, v]) => [k, v - before[k]])
      .filter(([, d]) => d !== 0n),
  );
}
const printed = (r: ReturnType<typeof settle>) =>
  r.events.filter((e) => e.event === 'print_event').map((e) => e.data.value!);
const slashOf = (fee: bigint, sampleBps = 500n) => (fee * 10_000n) / sampleBps;

describe('settle-redundant: agreement', () => {
  it('level 3, three agreeing results: each node gets a third of the node share, the dust goes to the treasury', () => {
    const a = task(3, 3000n);
    const b = task(3, 1000n);
    const before = balances();
    const r = settle([
      { taskId: a.id, results: [vote(a, n0), vote(a, n1), vote(a, n2)] },
      { taskId: b.id, results: [vote(b, n3), vote(b, n4), vote(b, n0)] },
    ]);
    expect(settled(r)).toEqual([
      { ok: true, votes: 3, slashed: 0n },
      { ok: true, votes: 3, slashed: 0n },
    ]);
    // a: owner 300, treasury 150, nodes 2550 / 3 = 850 each; b: owner 100, nodes 850 / 3 = 283 each, treasury 50 + 1 of dust
    expect(deltas(before)).toEqual({
      owner: 400n,
      treasury: 201n,
      n0: 850n + 283n,
      n1: 850n,
      n2: 850n,
      n3: 283n,
      n4: 283n,
      escrow: -4000n,
    });
    expect(getTask(a.id)).toMatchObject({ status: 'paid', node: n0.address, outputHash: hash('right') });
    expect(printed(r)[1]).toBeTuple({
      event: Cl.stringAscii('task-settled-redundant'),
      'task-id': Cl.uint(b.id),
      'output-hash': Cl.bufferFromHex(hash('right')),
      votes: Cl.uint(3),
      voters: Cl.uint(3),
      fee: Cl.uint(1000),
      'node-payout': Cl.uint(283),
      owner: Cl.principal(owner),
      'owner-payout': Cl.uint(100),
      treasury: Cl.principal(treasury),
      'treasury-payout': Cl.uint(51),
      slashed: Cl.uint(0),
      'node-bounty': Cl.uint(0),
      requester: Cl.principal(alice),
      'requester-compensation': Cl.uint(0),
    });
    expect(printed(r)).toHaveLength(2);
    expect(expectConserved()).toMatchObject({ paid: 4000n, escrowed: 0n, slashed: 0n });
    expect(settled(settle([{ taskId: a.id, results: [vote(a, n0), vote(a, n1), vote(a, n2)] }]))).toEqual([
      { ok: false, code: E.ERR_TASK_NOT_PENDING },
    ]);
  });

  it('a spot-checked level-1 task with two agreeing results pays both nodes half the node share', () => {
    const t = task(1, 1000n);
    const before = balances();
    expect(settled(settle([{ taskId: t.id, results: [vote(t, n0), vote(t, n1)] }]))).toEqual([
      { ok: true, votes: 2, slashed: 0n },
    ]);
    expect(deltas(before)).toEqual({ owner: 100n, treasury: 50n, n0: 425n, n1: 425n, escrow: -1000n });
    expectConserved();
  });

  it('takes more results than the level asks (up to 5), and more than half of them must agree', () => {
    const t = task(3, 1000n);
    expect(
      settled(settle([{ taskId: t.id, results: [vote(t, n0), vote(t, n1), vote(t, n2), vote(t, n3, 'odd')] }])),
    ).toEqual([{ ok: true, votes: 3, slashed: slashOf(1000n) }]);
    expect(getNode(n3)?.status).toBe('slashed');
  });
});

describe('settle-redundant: disagreement', () => {
  it('2 against 1: pays the two, slashes the one by fee * 10000 / sample-bps, half to the two nodes and the rest to the requester', () => {
    const t = task(3, 1000n);
    const before = balances();
    const lockedBefore = totals().stakeLocked;
    // the minority first: the order of results does not matter
    const r = settle([{ taskId: t.id, results: [vote(t, n2, 'wrong'), vote(t, n0), vote(t, n1)] }]);
    const slash = slashOf(1000n); // 20,000 at the 5% sampling rate
    expect(settled(r)).toEqual([{ ok: true, votes: 2, slashed: slash }]);
    // nodes: 850 / 2 = 425 each plus a bounty of 20,000 / 2 / 2 = 5,000; requester: the other 10,000
    expect(deltas(before)).toEqual({
      owner: 100n,
      treasury: 50n,
      n0: 5425n,
      n1: 5425n,
      alice: 10_000n,
      escrow: -1000n - slash,
    });
    expect(getNode(n2)).toMatchObject({ stake: STAKE - slash, status: 'slashed' });
    expect(getNode(n0)).toMatchObject({ stake: STAKE, status: 'active' });
    expect(getTask(t.id)).toMatchObject({ status: 'paid', node: n0.address, outputHash: hash('right') });
    const [slashed, done] = printed(r);
    expect(slashed).toBeTuple({
      event: Cl.stringAscii('node-slashed'),
      'task-id': Cl.uint(t.id),
      'node-pubkey': Cl.bufferFromHex(n2.publicKey),
      operator: Cl.principal(n2.address),
      'output-hash': Cl.bufferFromHex(hash('wrong')),
      amount: Cl.uint(slash),
    });
    expect(done).toBeTuple(
      expect.objectContaining({
        votes: Cl.uint(2),
        voters: Cl.uint(3),
        slashed: Cl.uint(slash),
        'node-bounty': Cl.uint(5000),
        'requester-compensation': Cl.uint(10_000),
      }),
    );
    expect(expectConserved()).toMatchObject({ slashed: slash, stakeLocked: lockedBefore - slash, paid: 1000n });
  });

  it('level 5, 3 against 2: both minority keys slashed; the bounty is split evenly and its remainder goes to the requester', () => {
    const t = task(5, 5000n);
    const before = balances();
    const r = settle([
      { taskId: t.id, results: [vote(t, n0), vote(t, n1, 'x'), vote(t, n2), vote(t, n3, 'y'), vote(t, n4)] },
    ]);
    const slash = slashOf(5000n); // 100,000 each
    expect(settled(r)).toEqual([{ ok: true, votes: 3, slashed: 2n * slash }]);
    // node share 4250 / 3 = 1416 (dust 2 to the treasury); bounty 100,000 / 3 = 33,333 each; requester 200,000 - 99,999
    expect(deltas(before)).toEqual({
      owner: 500n,
      treasury: 252n,
      n0: 1416n + 33_333n,
      n2: 1416n + 33_333n,
      n4: 1416n + 33_333n,
      alice: 100_001n,
      escrow: -5000n - 2n * slash,
    });
    expect([getNode(n1)?.status, getNode(n3)?.status]).toEqual(['slashed', 'slashed']);
    expectConserved();
  });

  it('a slash takes at most the stake', () => {
    const fee = 1_000_000n; // fee / 5% = 20 STX, above the 5 STX stake
    const t = task(3, fee);
    const before = balances();
    expect(settled(settle([{ taskId: t.id, results: [vote(t, n0), vote(t, n1), vote(t, n2, 'wrong')] }]))).toEqual([
      { ok: true, votes: 2, slashed: STAKE },
    ]);
    expect(getNode(n2)).toMatchObject({ stake: 0n, status: 'slashed' });
    const nodeShare = (fee * 8500n) / 10_000n / 2n;
    expect(deltas(before)).toEqual({
      owner: 100_000n,
      treasury: 50_000n,
      n0: nodeShare + STAKE / 4n,
      n1: nodeShare + STAKE / 4n,
      alice: STAKE / 2n,
      escrow: -fee - STAKE,
    });
    expectConserved();
  });

  it('a level-1 task whose spot check disagreed settles 2 against 1 once a third node ran it', () => {
    const t = task(1, 1000n);
    expect(settled(settle([{ taskId: t.id, results: [vote(t, n0), vote(t, n1, 'wrong')] }]))).toEqual([
      { ok: false, code: E.ERR_NO_MAJORITY },
    ]);
    expect(settled(settle([{ taskId: t.id, results: [vote(t, n0), vote(t, n1, 'wrong'), vote(t, n2)] }]))).toEqual([
      { ok: true, votes: 2, slashed: slashOf(1000n) },
    ]);
    expect(getNode(n1)?.status).toBe('slashed');
  });

  it('a key slashed by one task of a batch is refused in the next task of the same batch', () => {
    const a = task(3, 1000n);
    const b = task(3, 1000n);
    const r = settle([
      { taskId: a.id, results: [vote(a, n0), vote(a, n1), vote(a, n2, 'wrong')] },
      { taskId: b.id, results: [vote(b, n2), vote(b, n3), vote(b, n4)] },
    ]);
    expect(settled(r)).toEqual([
      { ok: true, votes: 2, slashed: slashOf(1000n) },
      { ok: false, code: E.ERR_NODE_NOT_BONDED },
    ]);
    expect(getTask(b.id)?.status).toBe('pending');
    expectConserved();
  });
});

describe('settle-redundant: refusals change nothing', () => {
  it('no output signed by more than half of the results: ERR_NO_MAJORITY, no payout, no slash', () => {
    const three = task(3, 1000n);
    const four = task(3, 1000n);
    const before = balances();
    const totalsBefore = totals();
    const r = settle([
      { taskId: three.id, results: [vote(three, n0, 'a'), vote(three, n1, 'b'), vote(three, n2, 'c')] },
      {
        taskId: four.id,
        results: [vote(four, n0, 'a'), vote(four, n1, 'a'), vote(four, n2, 'b'), vote(four, n3, 'b')],
      },
    ]);
    expect(settled(r)).toEqual([
      { ok: false, code: E.ERR_NO_MAJORITY },
      { ok: false, code: E.ERR_NO_MAJORITY },
    ]);
    expect(deltas(before)).toEqual({});
    expect(totals()).toEqual(totalsBefore);
    expect(nodes.slice(0, 4).map((n) => getNode(n)?.status)).toEqual(['active', 'active', 'active', 'active']);
    expect([getTask(three.id)?.status, getTask(four.id)?.status]).toEqual(['pending', 'pending']);
    expect(r.events).toEqual([]);
  });

  it('refuses a task with a duplicate key, too few results, a bad or unbonded signature, and settles the rest of the batch', () => {
    const dup = task(3, 1000n);
    const few = task(3, 1000n);
    const single = task(1, 1000n);
    const forged = task(3, 1000n);
    const stranger = task(3, 1000n);
    const malleated = task(3, 1000n);
    const good = task(3, 1000n);
    const madeUp = nodeKey('made-up');
    const recovery2 = (v: ReturnType<typeof vote>) => ({ ...v, signature: `${v.signature.slice(0, 128)}02` });
    const before = balances();
    const r = settle([
      // the duplicate comes after a minority vote: n2 must not be slashed by a refused task
      { taskId: dup.id, results: [vote(dup, n0), vote(dup, n1), vote(dup, n2, 'wrong'), vote(dup, n0)] },
      { taskId: few.id, results: [vote(few, n0), vote(few, n1)] },
      { taskId: single.id, results: [vote(single, n0)] },
      {
        taskId: forged.id,
        results: [vote(forged, n0), vote(forged, n1), { ...vote(forged, n2), outputHash: hash('right-but-unsigned') }],
      },
      { taskId: stranger.id, results: [vote(stranger, n0), vote(stranger, n1), vote(stranger, madeUp)] },
      { taskId: malleated.id, results: [vote(malleated, n0), vote(malleated, n1), recovery2(vote(malleated, n2))] },
      { taskId: 999n, results: [vote(good, n0), vote(good, n1), vote(good, n2)] },
      { taskId: good.id, results: [vote(good, n3), vote(good, n4), vote(good, n0)] },
    ]);
    expect(settled(r)).toEqual([
      { ok: false, code: E.ERR_DUPLICATE_NODE },
      { ok: false, code: E.ERR_TOO_FEW_RESULTS },
      { ok: false, code: E.ERR_TOO_FEW_RESULTS },
      { ok: false, code: E.ERR_INVALID_SIGNATURE },
      { ok: false, code: E.ERR_NODE_NOT_BONDED },
      { ok: false, code: E.ERR_NON_CANONICAL_SIGNATURE },
      { ok: false, code: E.ERR_TASK_NOT_FOUND },
      { ok: true, votes: 3, slashed: 0n },
    ]);
    expect(getNode(n2)).toMatchObject({ status: 'active', stake: STAKE });
    expect(deltas(before)).toEqual({ owner: 100n, treasury: 51n, n3: 283n, n4: 283n, n0: 283n, escrow: -1000n });
    expectConserved();
  });

  it('only an authorized signer settles, and only before the deadline', () => {
    const t = task(3, 1000n, 5);
    const results = [vote(t, n0), vote(t, n1), vote(t, n2)];
    expect(settle([{ taskId: t.id, results }], alice).result).toBeErr(Cl.uint(E.ERR_NOT_SIGNER));
    mineUntilNextCallAt(getTask(t.id)!.deadline + 1n);
    expect(settled(settle([{ taskId: t.id, results }]))).toEqual([{ ok: false, code: E.ERR_DEADLINE_PASSED }]);
    expect(reclaim(t.id, alice).result).toBeOk(Cl.uint(1000));
    expect(settled(settle([{ taskId: t.id, results }]))).toEqual([{ ok: false, code: E.ERR_TASK_NOT_PENDING }]);
  });

  it('complete-tasks refuses level-3 and level-5 tasks: one signature is not the agreement they paid for', () => {
    const three = task(3, 1000n);
    const five = task(5, 1000n);
    const r = complete([signedItem(three.id, three.inputHash, n0), signedItem(five.id, five.inputHash, n0)]);
    expect(r.result).toBeOk(
      Cl.list([Cl.error(Cl.uint(E.ERR_NEEDS_REDUNDANCY)), Cl.error(Cl.uint(E.ERR_NEEDS_REDUNDANCY))]),
    );
    expect(getTask(three.id)?.status).toBe('pending');
  });
});

describe('totals', () => {
  it('fees: deposited = paid + refunded + escrowed; stakes: bonded = locked + withdrawn + slashed; the balance holds escrowed + locked', () => {
    expect(admin('set-max-blocks', [Cl.uint(10)])).toBeOk(Cl.bool(true));
    const single = task(1, 1000n);
    const agreed = task(3, 3000n);
    const disputed = task(3, 2000n);
    const refunded = task(1, 700n, 5);
    const open = task(5, 600n);
    expect(complete([signedItem(single.id, single.inputHash, n5)]).result).toBeOk(Cl.list([Cl.ok(Cl.uint(850))]));
    expect(
      settled(
        settle([
          { taskId: agreed.id, results: [vote(agreed, n0), vote(agreed, n1), vote(agreed, n2)] },
          { taskId: disputed.id, results: [vote(disputed, n0), vote(disputed, n1), vote(disputed, n3, 'wrong')] },
        ]),
      ),
    ).toEqual([
      { ok: true, votes: 3, slashed: 0n },
      { ok: true, votes: 2, slashed: slashOf(2000n) },
    ]);
    const withdrawAt = okUint(
      simnet.callPublicFn(escrowId, 'unbond-node', nodeKeyArgs(n4.publicKey), n4.address).result,
      'unbond-node',
    );
    mineUntilNextCallAt(getTask(refunded.id)!.deadline + 1n);
    expect(reclaim(refunded.id, alice).result).toBeOk(Cl.uint(700));
    mineUntilNextCallAt(withdrawAt);
    expect(simnet.callPublicFn(escrowId, 'withdraw-stake', nodeKeyArgs(n4.publicKey), n4.address).result).toBeOk(
      Cl.uint(STAKE),
    );
    expect(expectConserved()).toEqual({
      deposited: 1000n + 3000n + 2000n + 700n + 600n,
      paid: 1000n + 3000n + 2000n,
      refunded: 700n,
      escrowed: 600n,
      bonded: 6n * STAKE,
      stakeLocked: 5n * STAKE - slashOf(2000n),
      withdrawn: STAKE,
      slashed: slashOf(2000n),
    });
    expect(getTask(open.id)?.status).toBe('pending');
  });
});
