/**
 * The on-chain attacks of issue 12, as an attacker would try them against the escrow:
 * 1. the signer pays a node key it made up (or a slashed one) for outputs nobody checked;
 * 2. the admin changes shares and treasury under a submitted task and takes its whole fee;
 * 4. a valid result signature is malleated (high s, other recovery bytes) into "new" ones.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import { Cl } from '@stacks/transactions';
import {
  escrowErrors as E,
  decodeCompleteResults,
  decodeTaskCompleted,
  decodeTaskSubmitted,
} from '../../protocol/contracts/index.js';
import { SECP256K1_HALF_N } from '../../protocol/sip018/index.js';
import {
  escrowId,
  deployer,
  wallets,
  nodes,
  nodeKey,
  deployModel,
  submit,
  submitOk,
  getTask,
  getNode,
  stx,
  hash,
  signedItem,
  complete,
  settle,
  settled,
  bondNodes,
  feesHeld,
  expectConserved,
  totals,
} from './helpers.js';

const [owner, alice, , , , , , attacker] = wallets;
const [n0, n1, n2] = nodes;
const admin = (fn: string, args: Parameters<typeof simnet.callPublicFn>[2]) =>
  simnet.callPublicFn(escrowId, fn, args, deployer).result;
const results = (r: ReturnType<typeof complete>) => decodeCompleteResults(r.result);

let model: bigint;
beforeEach(() => {
  bondNodes();
  model = deployModel(owner, 'resnet', 100n);
});
function task(security: 1 | 3 | 5 = 1, fee = 1000n) {
  const inputHash = hash(`input-${Math.random()}`);
  return { id: submitOk(alice, { modelOutput: model, fee, security, inputHash }), inputHash };
}

describe('attack 1: paying a node key nobody bonded', () => {
  it('a key the signer made up is not paid: ERR_NODE_NOT_BONDED per item, the escrow keeps the fee', () => {
    const madeUp = nodeKey('made up by the signer');
    const [a, b, c] = [task(), task(), task()];
    const feesBefore = feesHeld();
    // valid SIP-018 signatures over real task results, by a key with no stake: refused item by item, the honest item still paid
    const r = complete([
      signedItem(a.id, a.inputHash, madeUp),
      signedItem(b.id, b.inputHash, n0),
      signedItem(c.id, c.inputHash, madeUp),
    ]);
    expect(results(r)).toEqual([
      { ok: false, code: E.ERR_NODE_NOT_BONDED },
      { ok: true, payout: 850n },
      { ok: false, code: E.ERR_NODE_NOT_BONDED },
    ]);
    expect(stx(madeUp.address)).toBe(0n);
    expect(feesHeld()).toBe(feesBefore - 1000n);
    expect([getTask(a.id)?.status, getTask(c.id)?.status]).toEqual(['pending', 'pending']);
    expectConserved();
  });

  it('nor can made-up keys outvote bonded ones, or agree among themselves', () => {
    const fakes = [1, 2, 3].map((i) => nodeKey(`fake-${i}`));
    const t = task(3);
    const vote = (k: (typeof nodes)[number], out = 'right') => {
      const { outputHash, nodePublicKey, signature } = signedItem(t.id, t.inputHash, k, hash(out));
      return { outputHash, nodePublicKey, signature };
    };
    expect(settled(settle([{ taskId: t.id, results: fakes.map((k) => vote(k)) }]))).toEqual([
      { ok: false, code: E.ERR_NODE_NOT_BONDED },
    ]);
    expect(
      settled(
        settle([{ taskId: t.id, results: [vote(n0, 'honest'), vote(fakes[0], 'forged'), vote(fakes[1], 'forged')] }]),
      ),
    ).toEqual([{ ok: false, code: E.ERR_NODE_NOT_BONDED }]);
    expect(getNode(n0)?.status).toBe('active');
    expect(getTask(t.id)?.status).toBe('pending');
  });

  it('a slashed key is not paid again, by complete-tasks or settle-redundant', () => {
    const disputed = task(3);
    const vote = (k: (typeof nodes)[number], out: string) => {
      const { outputHash, nodePublicKey, signature } = signedItem(disputed.id, disputed.inputHash, k, hash(out));
      return { outputHash, nodePublicKey, signature };
    };
    expect(
      settled(
        settle([{ taskId: disputed.id, results: [vote(n0, 'right'), vote(n1, 'right'), vote(n2, 'made up')] }]),
      )[0],
    ).toMatchObject({ ok: true, votes: 2 });
    expect(getNode(n2)?.status).toBe('slashed');
    const later = task();
    const before = stx(n2.address);
    expect(results(complete([signedItem(later.id, later.inputHash, n2)]))).toEqual([
      { ok: false, code: E.ERR_NODE_NOT_BONDED },
    ]);
    expect(stx(n2.address)).toBe(before);
    expect(getTask(later.id)?.status).toBe('pending');
  });
});

describe('attack 2: the admin changes the fee terms under a submitted task', () => {
  it('settling pays the shares, treasury and slash rate recorded at submission; later tasks get the new terms', () => {
    const before = task();
    const disputed = task(3);
    // the attack: all of every fee to the treasury, the treasury to the attacker, and slashes as small as they go
    expect(admin('set-shares', [Cl.uint(0), Cl.uint(10_000)])).toBeOk(Cl.bool(true));
    expect(admin('set-treasury', [Cl.principal(attacker)])).toBeOk(Cl.bool(true));
    expect(admin('set-sample-bps', [Cl.uint(10_000)])).toBeOk(Cl.bool(true));
    expect(getTask(before.id)).toMatchObject({ ownerBps: 1000, treasuryBps: 500, treasury: deployer, sampleBps: 500 });

    const balances = () => [stx(n0.address), stx(owner), stx(deployer), stx(attacker)];
    const b0 = balances();
    const r = complete([signedItem(before.id, before.inputHash, n0)]);
    expect(results(r)).toEqual([{ ok: true, payout: 850n }]);
    expect(balances().map((v, i) => v - b0[i])).toEqual([850n, 100n, 50n, 0n]);
    expect(decodeTaskCompleted(r.events.find((e) => e.event === 'print_event')!.data.value!)).toMatchObject({
      treasury: deployer,
      treasuryPayout: 50n,
      ownerPayout: 100n,
    });

    // the slash of a task submitted at 5% sampling stays fee / 5%, not fee / 100%
    const vote = (k: (typeof nodes)[number], out: string) => {
      const { outputHash, nodePublicKey, signature } = signedItem(disputed.id, disputed.inputHash, k, hash(out));
      return { outputHash, nodePublicKey, signature };
    };
    const b1 = balances();
    expect(
      settled(settle([{ taskId: disputed.id, results: [vote(n0, 'right'), vote(n1, 'right'), vote(n2, 'wrong')] }])),
    ).toEqual([{ ok: true, votes: 2, slashed: 20_000n }]);
    expect(balances().map((v, i) => v - b1[i])).toEqual([425n + 5000n, 100n, 50n, 0n]);

    // a task submitted after the change carries the new terms, visible to its requester in task-submitted
    const s = submit(alice, { modelOutput: model, fee: 1000n, inputHash: hash('after') });
    const after = decodeTaskSubmitted(s.events.find((e) => e.event === 'print_event')!.data.value!);
    expect(after).toMatchObject({ ownerBps: 0, treasuryBps: 10_000, treasury: attacker, sampleBps: 10_000 });
    const b2 = balances();
    expect(results(complete([signedItem(after.taskId, hash('after'), n0)]))).toEqual([{ ok: true, payout: 0n }]);
    expect(balances().map((v, i) => v - b2[i])).toEqual([0n, 0n, 0n, 1000n]);
    expectConserved();
  });
});

describe('attack 4 on chain: malleated result signatures', () => {
  const N = 2n * SECP256K1_HALF_N + 1n;
  /** r ‖ (n - s) ‖ the other recovery byte: the high-s twin, valid under the same key. */
  const highS = (sig: string) =>
    sig.slice(0, 64) +
    (N - BigInt(`0x${sig.slice(64, 128)}`)).toString(16).padStart(64, '0') +
    (parseInt(sig.slice(128), 16) ^ 1).toString(16).padStart(2, '0');
  const withRecovery = (sig: string, v: number) => sig.slice(0, 128) + v.toString(16).padStart(2, '0');

  it("secp256k1-verify accepts the high-s twin and every recovery byte, so the contract's canonical check is what refuses them", () => {
    const t = task();
    const item = signedItem(t.id, t.inputHash, n0);
    const digest = simnet.callReadOnlyFn(
      escrowId,
      'task-result-hash',
      [Cl.uint(t.id), Cl.bufferFromHex(t.inputHash), Cl.bufferFromHex(item.outputHash)],
      deployer,
    ).result as { value: string };
    const variants = [highS(item.signature), withRecovery(item.signature, 2), withRecovery(item.signature, 3)];
    for (const sig of variants) {
      expect(simnet.execute(`(secp256k1-verify 0x${digest.value} 0x${sig} 0x${n0.publicKey})`).result).toBeBool(true);
      expect(
        simnet.callReadOnlyFn(escrowId, 'is-canonical-signature', [Cl.bufferFromHex(sig)], deployer).result,
      ).toBeBool(false);
    }
    expect(
      simnet.callReadOnlyFn(escrowId, 'is-canonical-signature', [Cl.bufferFromHex(item.signature)], deployer).result,
    ).toBeBool(true);
    const r = complete(variants.map((signature) => ({ ...item, signature })));
    expect(results(r)).toEqual(variants.map(() => ({ ok: false, code: E.ERR_NON_CANONICAL_SIGNATURE })));
    expect(getTask(t.id)?.status).toBe('pending');
    // the node's own signature still settles
    expect(results(complete([item]))).toEqual([{ ok: true, payout: 850n }]);
  });

  it('the other canonical recovery byte (same r and s) verifies too, but cannot settle a task twice', () => {
    const t = task();
    const item = signedItem(t.id, t.inputHash, n0);
    const twin = withRecovery(item.signature, parseInt(item.signature.slice(128), 16) ^ 1);
    expect(results(complete([item, { ...item, signature: twin }]))).toEqual([
      { ok: true, payout: 850n },
      { ok: false, code: E.ERR_TASK_NOT_PENDING },
    ]);
  });

  it('a high-s vote makes settle-redundant refuse the whole task: no payout, no slash', () => {
    const t = task(3);
    const vote = (k: (typeof nodes)[number], out = 'right') => {
      const { outputHash, nodePublicKey, signature } = signedItem(t.id, t.inputHash, k, hash(out));
      return { outputHash, nodePublicKey, signature };
    };
    const locked = totals().stakeLocked;
    const malleated = { ...vote(n0), signature: highS(vote(n0).signature) };
    expect(settled(settle([{ taskId: t.id, results: [malleated, vote(n1), vote(n2, 'wrong')] }]))).toEqual([
      { ok: false, code: E.ERR_NON_CANONICAL_SIGNATURE },
    ]);
    expect(getNode(n2)?.status).toBe('active');
    expect(totals().stakeLocked).toBe(locked);
  });
});
