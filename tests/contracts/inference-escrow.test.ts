import { describe, it, expect } from 'vitest';
import { Cl } from '@stacks/transactions';
import {
  escrowErrors as E,
  registryErrors,
  decodeTaskSubmitted,
  upgradeModelArgs,
  transferModelArgs,
  reclaimArgs,
} from '../../protocol/contracts/index.js';
import {
  escrowId,
  registryId,
  deployer,
  wallets,
  nodes,
  deployModel,
  submit,
  submitOk,
  reclaim,
  getTask,
  stx,
  hash,
  signedItem,
  complete,
  okUint,
  bondNodes,
  mineUntilNextCallAt,
} from './helpers.js';

const [owner, alice, bob, carol] = wallets;
const err = (code: number) => Cl.uint(code);
const admin = (fn: string, args: Parameters<typeof simnet.callPublicFn>[2], sender = deployer) =>
  simnet.callPublicFn(escrowId, fn, args, sender);
const config = () => simnet.callReadOnlyFn(escrowId, 'get-config', [], deployer).result;

describe('submit-task', () => {
  it('moves the fee into escrow, sets the deadline and prints everything the signer needs', () => {
    const out = deployModel(owner, 'resnet', 100n);
    const before = stx(alice);
    const r = submit(alice, {
      modelOutput: out,
      inputHash: hash('in'),
      fee: 250n,
      maxBlocks: 7,
      privacy: 1,
      priority: 3,
    });
    expect(r.result).toBeOk(Cl.uint(1));
    const height = BigInt(simnet.stacksBlockHeight); // each call is mined in a new block at this height
    expect(stx(alice)).toBe(before - 250n);
    expect(stx(escrowId)).toBe(250n);
    const printed = r.events.find((e) => e.event === 'print_event')!.data.value!;
    expect(decodeTaskSubmitted(printed)).toEqual({
      taskId: 1n,
      requester: alice,
      modelOutput: out,
      model: 'resnet',
      artifactHash: hash('resnet'),
      owner,
      inputHash: hash('in'),
      fee: 250n,
      deadline: height + 7n,
      privacy: 1,
      priority: 3,
      // the fee terms this task keeps whatever the admin changes later
      security: 1,
      precision: 5,
      ownerBps: 1000,
      treasuryBps: 500,
      treasury: deployer,
      sampleBps: 500,
    });
    expect(getTask(1n)).toMatchObject({
      requester: alice,
      status: 'pending',
      fee: 250n,
      deadline: height + 7n,
      node: null,
      outputHash: null,
    });
    expect(submitOk(bob, { modelOutput: out })).toBe(2n);
  });

  it('refuses each invalid request with its own error', () => {
    const out = deployModel(owner, 'resnet', 100n);
    expect(submit(alice, { modelOutput: 9 }).result).toBeErr(err(E.ERR_MODEL_NOT_FOUND));
    expect(submit(alice, { modelOutput: out, fee: 0n }).result).toBeErr(err(E.ERR_ZERO_FEE));
    expect(submit(alice, { modelOutput: out, fee: 99n }).result).toBeErr(err(E.ERR_FEE_BELOW_PRICE));
    expect(submit(alice, { modelOutput: out, fee: 100n }).result).toBeOk(Cl.uint(1));
    expect(submit(alice, { modelOutput: out, maxBlocks: 0 }).result).toBeErr(err(E.ERR_INVALID_MAX_BLOCKS));
    // the minimum (5 at deploy) leaves the signer time to settle before a refund is possible
    expect(submit(alice, { modelOutput: out, maxBlocks: 4 }).result).toBeErr(err(E.ERR_MAX_BLOCKS_TOO_LOW));
    expect(submit(alice, { modelOutput: out, maxBlocks: 5 }).result).toBeOk(Cl.uint(2));
    expect(submit(alice, { modelOutput: out, maxBlocks: 1001 }).result).toBeErr(err(E.ERR_INVALID_MAX_BLOCKS));
    expect(submit(alice, { modelOutput: out, maxBlocks: 1000 }).result).toBeOk(Cl.uint(3));
    expect(submit(alice, { modelOutput: out, privacy: 3 }).result).toBeErr(err(E.ERR_INVALID_PRIVACY));
    expect(submit(alice, { modelOutput: out, priority: 256 }).result).toBeErr(err(E.ERR_INVALID_PRIORITY));
    const raw = (inputHash: string, security: number) =>
      simnet.callPublicFn(
        escrowId,
        'submit-task',
        [
          Cl.uint(out),
          Cl.bufferFromHex(inputHash),
          Cl.uint(500),
          Cl.uint(5),
          Cl.uint(0),
          Cl.uint(0),
          Cl.uint(security),
        ],
        alice,
      );
    expect(raw('abcd', 1).result).toBeErr(err(E.ERR_INVALID_HASH));
    for (const security of [0, 2, 4, 6]) expect(raw(hash('in'), security).result).toBeErr(err(E.ERR_INVALID_SECURITY));
    // a level-k task pays k nodes: its fee covers k runs
    expect(submit(alice, { modelOutput: out, fee: 299n, security: 3 }).result).toBeErr(err(E.ERR_FEE_BELOW_PRICE));
    expect(submit(alice, { modelOutput: out, fee: 300n, security: 3 }).result).toBeOk(Cl.uint(4));
    expect(submit(alice, { modelOutput: out, fee: 499n, security: 5 }).result).toBeErr(err(E.ERR_FEE_BELOW_PRICE));
    expect(submit(alice, { modelOutput: out, fee: 500n, security: 5 }).result).toBeOk(Cl.uint(5));
    expect(submit(alice, { modelOutput: out, fee: stx(alice) + 1n }).result).toBeErr(err(E.ERR_INSUFFICIENT_FUNDS));
    simnet.callPublicFn(
      registryId,
      'upgrade',
      upgradeModelArgs({ outputId: out, artifactHash: hash('v2'), format: 'onnx', price: 1n, uri: '' }),
      owner,
    );
    expect(submit(alice, { modelOutput: out }).result).toBeErr(err(E.ERR_MODEL_NOT_LIVE));
    expect(registryErrors.ERR_OUTPUT_SPENT).not.toBe(E.ERR_MODEL_NOT_LIVE);
  });

  it('refuses a model owned by the escrow contract itself, which could never be paid', () => {
    const out = deployModel(owner, 'gift');
    const r = simnet.callPublicFn(registryId, 'transfer', transferModelArgs(out, escrowId), owner);
    expect(submit(alice, { modelOutput: okUint(r.result, 'transfer') }).result).toBeErr(err(E.ERR_ESCROW_AS_PAYEE));
  });
});

describe('reclaim', () => {
  it('refunds the requester after the deadline, whoever calls, exactly once', () => {
    const out = deployModel(owner);
    const id = submitOk(alice, { modelOutput: out, fee: 500n, maxBlocks: 5 });
    const deadline = getTask(id)!.deadline;
    // each call is mined in the next block: this one runs at height = deadline, still inside the window
    mineUntilNextCallAt(deadline);
    expect(reclaim(id, bob).result).toBeErr(err(E.ERR_DEADLINE_NOT_REACHED));
    expect(simnet.stacksBlockHeight).toBe(Number(deadline));
    const before = stx(alice);
    const r = reclaim(id, bob);
    expect(r.result).toBeOk(Cl.uint(500));
    expect(stx(alice)).toBe(before + 500n);
    expect(stx(escrowId)).toBe(0n);
    expect(getTask(id)?.status).toBe('refunded');
    expect(r.events.find((e) => e.event === 'print_event')!.data.value).toBeTuple({
      event: Cl.stringAscii('task-reclaimed'),
      'task-id': Cl.uint(id),
      requester: Cl.principal(alice),
      fee: Cl.uint(500),
    });
    expect(reclaim(id, alice).result).toBeErr(err(E.ERR_TASK_NOT_PENDING));
    expect(reclaim(42n, alice).result).toBeErr(err(E.ERR_TASK_NOT_FOUND));
  });

  it('cannot refund a paid task, and a refunded task cannot be paid', () => {
    bondNodes([nodes[0]]);
    const out = deployModel(owner);
    const paid = submitOk(alice, { modelOutput: out, maxBlocks: 6 });
    const refunded = submitOk(alice, { modelOutput: out, maxBlocks: 5 });
    expect(complete([signedItem(paid, getTask(paid)!.inputHash, nodes[0])]).result).toBeOk(
      Cl.list([Cl.ok(Cl.uint(850))]),
    );
    simnet.mineEmptyBlocks(6);
    expect(reclaim(paid, alice).result).toBeErr(err(E.ERR_TASK_NOT_PENDING));
    expect(reclaim(refunded, alice).result).toBeOk(Cl.uint(1000));
    expect(complete([signedItem(refunded, getTask(refunded)!.inputHash, nodes[0])]).result).toBeOk(
      Cl.list([Cl.error(err(E.ERR_TASK_NOT_PENDING))]),
    );
  });
});

describe('administration', () => {
  it('starts with the deployer as admin, signer and treasury, 10% owner and 5% treasury shares, 5% sampling, a 1 STX minimum stake', () => {
    expect(config()).toBeTuple({
      admin: Cl.principal(deployer),
      'pending-admin': Cl.none(),
      treasury: Cl.principal(deployer),
      'owner-bps': Cl.uint(1000),
      'treasury-bps': Cl.uint(500),
      'max-blocks': Cl.uint(1000),
      'min-blocks': Cl.uint(5),
      'sample-bps': Cl.uint(500),
      'min-stake': Cl.uint(1_000_000),
      'deadline-horizon': Cl.uint(0),
      'last-task-id': Cl.uint(0),
    });
    expect(simnet.callReadOnlyFn(escrowId, 'is-signer', [Cl.principal(deployer)], alice).result).toBeBool(true);
  });

  it('lets only the admin change settings, within bounds', () => {
    expect(admin('set-signer', [Cl.principal(carol), Cl.bool(true)], alice).result).toBeErr(err(E.ERR_NOT_ADMIN));
    expect(admin('set-shares', [Cl.uint(1), Cl.uint(1)], alice).result).toBeErr(err(E.ERR_NOT_ADMIN));
    expect(admin('set-treasury', [Cl.principal(alice)], alice).result).toBeErr(err(E.ERR_NOT_ADMIN));
    expect(admin('set-max-blocks', [Cl.uint(5)], alice).result).toBeErr(err(E.ERR_NOT_ADMIN));
    expect(admin('propose-admin', [Cl.principal(alice)], alice).result).toBeErr(err(E.ERR_NOT_ADMIN));
    expect(admin('set-min-blocks', [Cl.uint(6)], alice).result).toBeErr(err(E.ERR_NOT_ADMIN));
    expect(admin('set-sample-bps', [Cl.uint(1000)], alice).result).toBeErr(err(E.ERR_NOT_ADMIN));
    expect(admin('set-min-stake', [Cl.uint(1)], alice).result).toBeErr(err(E.ERR_NOT_ADMIN));
    expect(admin('set-sample-bps', [Cl.uint(0)]).result).toBeErr(err(E.ERR_INVALID_SAMPLE_RATE));
    expect(admin('set-sample-bps', [Cl.uint(10_001)]).result).toBeErr(err(E.ERR_INVALID_SAMPLE_RATE));
    expect(admin('set-sample-bps', [Cl.uint(10_000)]).result).toBeOk(Cl.bool(true));
    expect(admin('set-min-stake', [Cl.uint(0)]).result).toBeErr(err(E.ERR_STAKE_TOO_LOW));
    expect(admin('set-min-stake', [Cl.uint(7)]).result).toBeOk(Cl.bool(true));
    // min-blocks stays within 1..max-blocks, and max-blocks never drops below min-blocks
    expect(admin('set-min-blocks', [Cl.uint(0)]).result).toBeErr(err(E.ERR_INVALID_MAX_BLOCKS));
    expect(admin('set-min-blocks', [Cl.uint(1001)]).result).toBeErr(err(E.ERR_INVALID_MAX_BLOCKS));
    expect(admin('set-min-blocks', [Cl.uint(2)]).result).toBeOk(Cl.bool(true));
    expect(admin('set-max-blocks', [Cl.uint(1)]).result).toBeErr(err(E.ERR_INVALID_MAX_BLOCKS));
    expect(admin('set-shares', [Cl.uint(6000), Cl.uint(4001)]).result).toBeErr(err(E.ERR_INVALID_SHARES));
    expect(admin('set-shares', [Cl.uint(6000), Cl.uint(4000)]).result).toBeOk(Cl.bool(true));
    expect(admin('set-max-blocks', [Cl.uint(0)]).result).toBeErr(err(E.ERR_INVALID_MAX_BLOCKS));
    expect(admin('set-max-blocks', [Cl.uint(5)]).result).toBeOk(Cl.bool(true));
    expect(admin('set-treasury', [Cl.principal(escrowId)]).result).toBeErr(err(E.ERR_ESCROW_AS_PAYEE));
    expect(admin('set-treasury', [Cl.principal(carol)]).result).toBeOk(Cl.bool(true));
    expect(config()).toBeTuple(
      expect.objectContaining({
        treasury: Cl.principal(carol),
        'owner-bps': Cl.uint(6000),
        'treasury-bps': Cl.uint(4000),
        'max-blocks': Cl.uint(5),
        'min-blocks': Cl.uint(2),
        'sample-bps': Cl.uint(10_000),
        'min-stake': Cl.uint(7),
      }),
    );
    const out = deployModel(owner);
    expect(submit(alice, { modelOutput: out, maxBlocks: 6 }).result).toBeErr(err(E.ERR_INVALID_MAX_BLOCKS));
    expect(submit(alice, { modelOutput: out, maxBlocks: 1 }).result).toBeErr(err(E.ERR_MAX_BLOCKS_TOO_LOW));
    expect(submit(alice, { modelOutput: out, maxBlocks: 2 }).result).toBeOk(Cl.uint(1));
  });

  it('authorizes and de-authorizes signers', () => {
    bondNodes([nodes[0]]);
    const out = deployModel(owner);
    const id = submitOk(alice, { modelOutput: out });
    const item = signedItem(id, getTask(id)!.inputHash, nodes[0]);
    expect(complete([item], carol).result).toBeErr(err(E.ERR_NOT_SIGNER));
    expect(admin('set-signer', [Cl.principal(carol), Cl.bool(true)]).result).toBeOk(Cl.bool(true));
    admin('set-signer', [Cl.principal(deployer), Cl.bool(false)]);
    expect(complete([item], deployer).result).toBeErr(err(E.ERR_NOT_SIGNER));
    expect(complete([item], carol).result).toBeOk(Cl.list([Cl.ok(Cl.uint(850))]));
  });

  it('hands over admin in two steps, and only to the proposed account', () => {
    expect(admin('propose-admin', [Cl.principal(alice)]).result).toBeOk(Cl.bool(true));
    expect(admin('accept-admin', [], bob).result).toBeErr(err(E.ERR_NOT_PENDING_ADMIN));
    expect(admin('set-max-blocks', [Cl.uint(9)], alice).result).toBeErr(err(E.ERR_NOT_ADMIN));
    expect(admin('accept-admin', [], alice).result).toBeOk(Cl.bool(true));
    expect(admin('set-max-blocks', [Cl.uint(9)], alice).result).toBeOk(Cl.bool(true));
    expect(admin('set-max-blocks', [Cl.uint(9)], deployer).result).toBeErr(err(E.ERR_NOT_ADMIN));
    expect(admin('accept-admin', [], alice).result).toBeErr(err(E.ERR_NOT_PENDING_ADMIN));
    expect(config()).toBeTuple(expect.objectContaining({ admin: Cl.principal(alice), 'pending-admin': Cl.none() }));
  });
});

it('reclaim takes its id through the shared argument builder', () => {
  expect(reclaimArgs(3n)).toStrictEqual([Cl.uint(3)]);
});
