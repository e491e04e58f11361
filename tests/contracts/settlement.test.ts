import { describe, it, expect, beforeEach } from 'vitest';
import fc from 'fast-check';
import { Cl } from '@stacks/transactions';
import {
  escrowErrors as E,
  decodeCompleteResults,
  decodeTaskCompleted,
  completeTasksArgs,
  type CompleteTaskItem,
} from '../../protocol/contracts/index.js';
import { signTaskResult, CHAIN_ID } from '../../protocol/sip018/index.js';
import {
  escrowId,
  deployer,
  wallets,
  nodes,
  deployModel,
  submitOk,
  getTask,
  stx,
  hash,
  signedItem,
  complete,
  chainId,
  bondNodes,
  feesHeld,
  expectConserved,
  mineUntilNextCallAt,
} from './helpers.js';

const [owner, alice] = wallets;
const errItem = (code: number) => ({ ok: false, code });
const results = (r: ReturnType<typeof complete>) => decodeCompleteResults(r.result);
/** A signature that is canonical in form (low s, recovery byte 00) but by no key over anything. */
const FORGED = `${'11'.repeat(64)}00`;

// only bonded keys are paid: every node of these suites bonds before its first result
beforeEach(() => bondNodes());

/** A pending task by alice on a fresh model; returns its id and input hash. */
function pendingTask(fee = 1000n, maxBlocks = 10) {
  const out = deployModel(owner, `m${Math.random().toString(36).slice(2, 10)}`, 1n);
  const id = submitOk(alice, { modelOutput: out, fee, maxBlocks, inputHash: hash(`input-${Math.random()}`) });
  return { id, inputHash: getTask(id)!.inputHash };
}

describe('complete-tasks', () => {
  it('pays node, model owner and treasury, one transfer per run of a payee, and records the result', () => {
    const tasks = [pendingTask(), pendingTask(2000n), pendingTask()];
    // grouped by node, as the signer should send them
    const items = [
      signedItem(tasks[0].id, tasks[0].inputHash, nodes[0]),
      signedItem(tasks[1].id, tasks[1].inputHash, nodes[0]),
      signedItem(tasks[2].id, tasks[2].inputHash, nodes[1]),
    ];
    const before = { n0: stx(nodes[0].address), n1: stx(nodes[1].address), owner: stx(owner), treasury: stx(deployer) };
    const r = complete(items);
    expect(results(r)).toEqual([
      { ok: true, payout: 850n },
      { ok: true, payout: 1700n },
      { ok: true, payout: 850n },
    ]);
    expect(stx(nodes[0].address) - before.n0).toBe(2550n);
    expect(stx(nodes[1].address) - before.n1).toBe(850n);
    expect(stx(owner) - before.owner).toBe(400n);
    expect(stx(deployer) - before.treasury).toBe(200n);
    expect(feesHeld()).toBe(0n);
    expectConserved();
    // four payees (two nodes, the owner, the treasury): four transfers for three tasks
    expect(r.events.filter((e) => e.event === 'stx_transfer_event')).toHaveLength(4);
    const completed = r.events.filter((e) => e.event === 'print_event').map((e) => decodeTaskCompleted(e.data.value!));
    expect(completed[1]).toEqual({
      taskId: tasks[1].id,
      node: nodes[0].address,
      nodePublicKey: nodes[0].publicKey,
      outputHash: items[1].outputHash,
      fee: 2000n,
      nodePayout: 1700n,
      owner,
      ownerPayout: 200n,
      treasury: deployer,
      treasuryPayout: 100n,
    });
    expect(getTask(tasks[2].id)).toMatchObject({
      status: 'paid',
      node: nodes[1].address,
      outputHash: items[2].outputHash,
    });
  });

  it('still pays exactly when the same node appears in separate runs (one more transfer)', () => {
    const tasks = [pendingTask(), pendingTask(), pendingTask()];
    const before = stx(nodes[0].address);
    const r = complete([
      signedItem(tasks[0].id, tasks[0].inputHash, nodes[0]),
      signedItem(tasks[1].id, tasks[1].inputHash, nodes[1]),
      signedItem(tasks[2].id, tasks[2].inputHash, nodes[0]),
    ]);
    expect(results(r).every((x) => x.ok)).toBe(true);
    expect(stx(nodes[0].address) - before).toBe(1700n);
    expect(r.events.filter((e) => e.event === 'stx_transfer_event')).toHaveLength(5);
    expect(feesHeld()).toBe(0n);
  });

  it('settles good items of a batch and reports each bad one with its code', () => {
    const [a, b, c] = [pendingTask(), pendingTask(), pendingTask()];
    const bad = { ...signedItem(b.id, b.inputHash, nodes[1]), outputHash: hash('tampered') };
    const r = complete([
      signedItem(a.id, a.inputHash, nodes[0]),
      bad,
      signedItem(999n, a.inputHash, nodes[0]),
      signedItem(c.id, c.inputHash, nodes[2]),
    ]);
    expect(results(r)).toEqual([
      { ok: true, payout: 850n },
      errItem(E.ERR_INVALID_SIGNATURE),
      errItem(E.ERR_TASK_NOT_FOUND),
      { ok: true, payout: 850n },
    ]);
    expect(getTask(b.id)?.status).toBe('pending');
    expect(feesHeld()).toBe(1000n);
    expectConserved();
    expect(results(complete([]))).toEqual([]);
  });

  it('accepts a result up to its deadline and refuses it after', () => {
    const t = pendingTask(1000n, 20);
    const late = pendingTask(1000n, 5);
    // each call is mined in a new block: this one at the late task's deadline + 1
    mineUntilNextCallAt(getTask(late.id)!.deadline + 1n);
    expect(
      results(complete([signedItem(late.id, late.inputHash, nodes[0]), signedItem(t.id, t.inputHash, nodes[0])])),
    ).toEqual([errItem(E.ERR_DEADLINE_PASSED), { ok: true, payout: 850n }]);
    const edge = pendingTask(1000n, 5);
    mineUntilNextCallAt(getTask(edge.id)!.deadline);
    expect(results(complete([signedItem(edge.id, edge.inputHash, nodes[0])]))).toEqual([{ ok: true, payout: 850n }]);
    expect(getTask(edge.id)!.deadline).toBe(BigInt(simnet.stacksBlockHeight));
  });

  it('refuses a short output hash', () => {
    const t = pendingTask();
    const item = signedItem(t.id, t.inputHash, nodes[0]);
    const raw = Cl.list([
      Cl.tuple({
        'task-id': Cl.uint(t.id),
        'output-hash': Cl.bufferFromHex('ab'),
        'node-pubkey': Cl.bufferFromHex(item.nodePublicKey),
        signature: Cl.bufferFromHex(item.signature),
      }),
    ]);
    expect(simnet.callPublicFn(escrowId, 'complete-tasks', [raw], deployer).result).toBeOk(
      Cl.list([Cl.error(Cl.uint(E.ERR_INVALID_HASH))]),
    );
  });
});

describe('signatures', () => {
  function signedBy(
    key: string,
    fields: { escrow?: string; taskId?: bigint; inputHash?: string; outputHash?: string },
    chain = chainId(),
    t = pendingTask(),
  ) {
    const outputHash = hash(`out-${t.id}`);
    const signature = signTaskResult(
      { escrow: escrowId, taskId: t.id, inputHash: t.inputHash, outputHash, ...fields },
      chain,
      key,
    );
    return { t, item: { taskId: t.id, outputHash, nodePublicKey: nodes[0].publicKey, signature } as CompleteTaskItem };
  }
  const rejected = (item: CompleteTaskItem) =>
    expect(results(complete([item]))).toEqual([errItem(E.ERR_INVALID_SIGNATURE)]);

  it('accepts the node key signing this task result', () => {
    expect(results(complete([signedBy(nodes[0].privateKey, {}).item]))).toEqual([{ ok: true, payout: 850n }]);
  });

  it('rejects forged signatures and signatures by another key', () => {
    const { item } = signedBy(nodes[0].privateKey, {});
    rejected({ ...item, signature: FORGED });
    rejected({
      ...item,
      signature: item.signature.slice(0, 2) + (item.signature[2] === '0' ? '1' : '0') + item.signature.slice(3),
    });
    rejected(signedBy(nodes[1].privateKey, {}).item);
    rejected({ ...item, nodePublicKey: nodes[1].publicKey });
  });

  it('rejects a signature made for another task, input, output, contract or chain', () => {
    const other = pendingTask();
    rejected(signedBy(nodes[0].privateKey, { taskId: other.id }).item);
    rejected(signedBy(nodes[0].privateKey, { inputHash: hash('other input') }).item);
    rejected(signedBy(nodes[0].privateKey, { outputHash: hash('other output') }).item);
    rejected(signedBy(nodes[0].privateKey, { escrow: `${deployer}.inference-escrow-v2` }).item);
    rejected(signedBy(nodes[0].privateKey, {}, CHAIN_ID.mainnet).item);
  });

  it('rejects an uncompressed key: it does not fit the 33-byte argument, and its prefix is not a key', () => {
    const { item } = signedBy(nodes[0].privateKey, {});
    const uncompressed = `04${'ab'.repeat(64)}`;
    expect(() => completeTasksArgs([{ ...item, nodePublicKey: uncompressed }])).toThrow(/33 bytes/);
    const raw = (key: string) =>
      Cl.list([
        Cl.tuple({
          'task-id': Cl.uint(item.taskId),
          'output-hash': Cl.bufferFromHex(item.outputHash),
          'node-pubkey': Cl.bufferFromHex(key),
          signature: Cl.bufferFromHex(item.signature),
        }),
      ]);
    expect(() => simnet.callPublicFn(escrowId, 'complete-tasks', [raw(uncompressed)], deployer)).toThrow();
    expect(simnet.callPublicFn(escrowId, 'complete-tasks', [raw(uncompressed.slice(0, 66))], deployer).result).toBeOk(
      Cl.list([Cl.error(Cl.uint(E.ERR_INVALID_SIGNATURE))]),
    );
  });

  it('rejects a replay of a settled task, in a later batch or the same one', () => {
    const { t, item } = signedBy(nodes[0].privateKey, {});
    expect(results(complete([item, item]))).toEqual([{ ok: true, payout: 850n }, errItem(E.ERR_TASK_NOT_PENDING)]);
    expect(results(complete([item]))).toEqual([errItem(E.ERR_TASK_NOT_PENDING)]);
    expect(getTask(t.id)?.status).toBe('paid');
  });
});

describe('fee split', () => {
  it('node + owner + treasury = fee exactly, for random fees and shares', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc
          .integer({ min: 0, max: 10_000 })
          .chain((o) => fc.tuple(fc.constant(o), fc.integer({ min: 0, max: 10_000 - o }))),
        (fee, [ownerBps, treasuryBps]) => {
          simnet.callPublicFn(escrowId, 'set-shares', [Cl.uint(ownerBps), Cl.uint(treasuryBps)], deployer);
          const t = pendingTask(fee);
          const node = nodes[3].address;
          const before = [stx(node), stx(owner), stx(deployer), stx(escrowId)];
          // the task keeps the shares it was submitted with
          expect(getTask(t.id)).toMatchObject({ ownerBps, treasuryBps });
          const [res] = results(complete([signedItem(t.id, t.inputHash, nodes[3])]));
          const d = [
            stx(node) - before[0],
            stx(owner) - before[1],
            stx(deployer) - before[2],
            stx(escrowId) - before[3],
          ];
          const ownerCut = (fee * BigInt(ownerBps)) / 10_000n;
          const treasuryCut = (fee * BigInt(treasuryBps)) / 10_000n;
          expect(res).toEqual({ ok: true, payout: fee - ownerCut - treasuryCut });
          expect(d).toEqual([fee - ownerCut - treasuryCut, ownerCut, treasuryCut, -fee]);
          expect(d[0] + d[1] + d[2]).toBe(fee);
        },
      ),
      { numRuns: 60 },
    );
  });
});
