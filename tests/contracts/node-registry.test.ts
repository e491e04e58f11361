/**
 * The node registry section of inference-escrow: a node operator bonds a stake under its key,
 * tops it up, announces an unbond and takes its stake back after the delay; a slashed key keeps
 * what is left to withdraw and never bonds again.
 */
import { describe, it, expect } from 'vitest';
import { Cl } from '@stacks/transactions';
import {
  escrowErrors as E,
  bondNodeArgs,
  nodeKeyArgs,
  decodeRedundantResults,
} from '../../protocol/contracts/index.js';
import {
  escrowId,
  deployer,
  wallets,
  nodes,
  faucet,
  deployModel,
  submitOk,
  getTask,
  getNode,
  stx,
  hash,
  signedItem,
  complete,
  settle,
  bondNodes,
  totals,
  expectConserved,
  mineUntilNextCallAt,
  config,
  STAKE,
} from './helpers.js';

const [owner, alice] = wallets;
const [n0, n1, n2] = nodes;
const call = (fn: string, args: Parameters<typeof simnet.callPublicFn>[2], sender: string) =>
  simnet.callPublicFn(escrowId, fn, args, sender);
const bond = (key: string, amount: bigint, sender: string) => call('bond-node', bondNodeArgs(key, amount), sender);
const unbond = (key: string, sender: string) => call('unbond-node', nodeKeyArgs(key), sender);
const withdraw = (key: string, sender: string) => call('withdraw-stake', nodeKeyArgs(key), sender);
const minStake = () => config()['min-stake'] as bigint;
const printed = (r: { events: { event: string; data: { value?: unknown } }[] }) =>
  r.events.filter((e) => e.event === 'print_event').map((e) => e.data.value);

describe('bond-node', () => {
  it("bonds only from the key's own address (so results are paid to whoever staked), with at least the minimum stake", () => {
    simnet.transferSTX(100_000_000n, n0.address, faucet);
    const min = minStake();
    // alice cannot bond n0's key: its results would be paid to n0's address, its stake at risk for n0
    expect(bond(n0.publicKey, min, alice).result).toBeErr(Cl.uint(E.ERR_NOT_KEY_OWNER));
    expect(bond(n0.publicKey, min, n1.address).result).toBeErr(Cl.uint(E.ERR_NOT_KEY_OWNER));
    expect(bond(n0.publicKey, 0n, n0.address).result).toBeErr(Cl.uint(E.ERR_STAKE_TOO_LOW));
    expect(bond(n0.publicKey, min - 1n, n0.address).result).toBeErr(Cl.uint(E.ERR_STAKE_TOO_LOW));
    expect(call('bond-node', [Cl.bufferFromHex(n0.publicKey.slice(0, 64)), Cl.uint(min)], n0.address).result).toBeErr(
      Cl.uint(E.ERR_INVALID_KEY),
    );
    expect(bond(n0.publicKey, stx(n0.address) + 1n, n0.address).result).toBeErr(Cl.uint(E.ERR_INSUFFICIENT_FUNDS));
    expect(getNode(n0)).toBeNull();

    const before = stx(n0.address);
    const r = bond(n0.publicKey, min, n0.address);
    expect(r.result).toBeOk(Cl.uint(min));
    expect(stx(n0.address)).toBe(before - min);
    expect(getNode(n0)).toEqual({ operator: n0.address, stake: min, status: 'active', withdrawAt: 0n });
    expect(printed(r)[0]).toBeTuple({
      event: Cl.stringAscii('node-bonded'),
      'node-pubkey': Cl.bufferFromHex(n0.publicKey),
      operator: Cl.principal(n0.address),
      amount: Cl.uint(min),
      stake: Cl.uint(min),
    });
    expect(totals()).toMatchObject({ bonded: min, stakeLocked: min, withdrawn: 0n, slashed: 0n });
    expectConserved();
  });

  it('tops up an active bond by any amount; the minimum applies to a new bond', () => {
    bondNodes([n0]);
    simnet.transferSTX(10n, n0.address, faucet);
    const r = bond(n0.publicKey, 1n, n0.address);
    expect(r.result).toBeOk(Cl.uint(STAKE + 1n));
    expect(printed(r)[0]).toBeTuple(expect.objectContaining({ amount: Cl.uint(1), stake: Cl.uint(STAKE + 1n) }));
    expect(getNode(n0)).toMatchObject({ stake: STAKE + 1n, status: 'active' });
    expect(expectConserved()).toMatchObject({ bonded: STAKE + 1n, stakeLocked: STAKE + 1n });
    // the minimum is the admin's: a raised minimum binds new bonds, not the top-up of a bonded key
    expect(call('set-min-stake', [Cl.uint(STAKE * 10n)], deployer).result).toBeOk(Cl.bool(true));
    expect(bond(n0.publicKey, 1n, n0.address).result).toBeOk(Cl.uint(STAKE + 2n));
    simnet.transferSTX(STAKE, n1.address, faucet);
    expect(bond(n1.publicKey, STAKE, n1.address).result).toBeErr(Cl.uint(E.ERR_STAKE_TOO_LOW));
  });
});

describe('unbond-node and withdraw-stake', () => {
  it('lowering max-blocks keeps a stake locked past the deadline of every task submitted under the old limit', () => {
    bondNodes([n0]);
    const task = submitOk(alice, { modelOutput: deployModel(owner), maxBlocks: 900 });
    const deadline = getTask(task)!.deadline;
    // the admin shortens the limit: a node that unbonds now must not escape a slash for that task
    expect(call('set-max-blocks', [Cl.uint(20)], deployer).result).toBeOk(Cl.bool(true));
    const withdrawAt = BigInt(
      (unbond(n0.publicKey, n0.address).result as unknown as { value: { value: bigint } }).value.value,
    );
    expect(withdrawAt).toBeGreaterThan(deadline);
    expect(withdrawAt).toBeGreaterThan(BigInt(simnet.stacksBlockHeight) + 21n);
    mineUntilNextCallAt(deadline);
    expect(withdraw(n0.publicKey, n0.address).result).toBeErr(Cl.uint(E.ERR_WITHDRAW_TOO_EARLY));
  });

  it('keeps the stake locked (and the key paid) for max-blocks + 1 blocks after the unbond, then pays it back and forgets the key', () => {
    expect(call('set-max-blocks', [Cl.uint(20)], deployer).result).toBeOk(Cl.bool(true));
    bondNodes([n0]);
    expect(unbond(n1.publicKey, n1.address).result).toBeErr(Cl.uint(E.ERR_NODE_NOT_FOUND));
    expect(withdraw(n1.publicKey, n1.address).result).toBeErr(Cl.uint(E.ERR_NODE_NOT_FOUND));
    expect(unbond(n0.publicKey, alice).result).toBeErr(Cl.uint(E.ERR_NOT_KEY_OWNER));
    expect(withdraw(n0.publicKey, n0.address).result).toBeErr(Cl.uint(E.ERR_NODE_ACTIVE));

    // a task submitted now can have its deadline up to 20 blocks away
    const out = deployModel(owner);
    const task = submitOk(alice, { modelOutput: out, maxBlocks: 20 });
    const r = unbond(n0.publicKey, n0.address);
    const withdrawAt = BigInt(simnet.stacksBlockHeight) + 21n;
    expect(r.result).toBeOk(Cl.uint(withdrawAt));
    expect(withdrawAt).toBeGreaterThan(getTask(task)!.deadline);
    expect(printed(r)[0]).toBeTuple({
      event: Cl.stringAscii('node-unbonding'),
      'node-pubkey': Cl.bufferFromHex(n0.publicKey),
      operator: Cl.principal(n0.address),
      'withdraw-at': Cl.uint(withdrawAt),
    });
    expect(getNode(n0)).toEqual({ operator: n0.address, stake: STAKE, status: 'unbonding', withdrawAt });
    expect(unbond(n0.publicKey, n0.address).result).toBeErr(Cl.uint(E.ERR_NODE_UNBONDING));
    expect(bond(n0.publicKey, 1n, n0.address).result).toBeErr(Cl.uint(E.ERR_NODE_UNBONDING));

    // results it already computed are still paid while it unbonds
    expect(complete([signedItem(task, getTask(task)!.inputHash, n0)]).result).toBeOk(Cl.list([Cl.ok(Cl.uint(850))]));

    expect(withdraw(n0.publicKey, alice).result).toBeErr(Cl.uint(E.ERR_NOT_KEY_OWNER));
    mineUntilNextCallAt(withdrawAt - 1n);
    expect(withdraw(n0.publicKey, n0.address).result).toBeErr(Cl.uint(E.ERR_WITHDRAW_TOO_EARLY));
    const before = stx(n0.address);
    const w = withdraw(n0.publicKey, n0.address);
    expect(simnet.stacksBlockHeight, 'the first block it may withdraw in').toBe(Number(withdrawAt));
    expect(w.result).toBeOk(Cl.uint(STAKE));
    expect(stx(n0.address)).toBe(before + STAKE);
    expect(printed(w)[0]).toBeTuple({
      event: Cl.stringAscii('stake-withdrawn'),
      'node-pubkey': Cl.bufferFromHex(n0.publicKey),
      operator: Cl.principal(n0.address),
      amount: Cl.uint(STAKE),
    });
    expect(getNode(n0)).toBeNull();
    expect(expectConserved()).toMatchObject({ bonded: STAKE, stakeLocked: 0n, withdrawn: STAKE, slashed: 0n });

    // a withdrawn key is not paid any more, and may bond again from scratch
    const later = submitOk(alice, { modelOutput: out, maxBlocks: 20, inputHash: hash('later') });
    expect(complete([signedItem(later, hash('later'), n0)]).result).toBeOk(
      Cl.list([Cl.error(Cl.uint(E.ERR_NODE_NOT_BONDED))]),
    );
    bondNodes([n0]);
    expect(getNode(n0)).toMatchObject({ stake: STAKE, status: 'active', withdrawAt: 0n });
  });
});

describe('a slashed key', () => {
  it('keeps what the slash left, withdraws it after the delay, and can never bond again', () => {
    bondNodes([n0, n1, n2]);
    const out = deployModel(owner, 'resnet', 100n);
    // fee 100,000 at a 5% sampling rate: the slash takes 2 STX of the 5 STX stake
    const fee = 100_000n;
    const id = submitOk(alice, { modelOutput: out, fee, security: 3, inputHash: hash('in') });
    const votes = [
      signedItem(id, hash('in'), n0, hash('right')),
      signedItem(id, hash('in'), n1, hash('right')),
      signedItem(id, hash('in'), n2, hash('wrong')),
    ];
    const r = settle([{ taskId: id, results: votes }]);
    const slash = (fee * 10_000n) / 500n;
    expect(decodeRedundantResults(r.result)).toEqual([{ ok: true, votes: 2, slashed: slash }]);
    const withdrawAt = BigInt(simnet.stacksBlockHeight) + 1001n;
    expect(getNode(n2)).toEqual({ operator: n2.address, stake: STAKE - slash, status: 'slashed', withdrawAt });

    simnet.transferSTX(STAKE, n2.address, faucet);
    expect(bond(n2.publicKey, STAKE, n2.address).result).toBeErr(Cl.uint(E.ERR_NODE_SLASHED));
    expect(unbond(n2.publicKey, n2.address).result).toBeErr(Cl.uint(E.ERR_NODE_SLASHED));
    mineUntilNextCallAt(withdrawAt - 1n);
    expect(withdraw(n2.publicKey, n2.address).result).toBeErr(Cl.uint(E.ERR_WITHDRAW_TOO_EARLY));
    expect(simnet.stacksBlockHeight + 1).toBe(Number(withdrawAt));
    const before = stx(n2.address);
    expect(withdraw(n2.publicKey, n2.address).result).toBeOk(Cl.uint(STAKE - slash));
    expect(stx(n2.address)).toBe(before + STAKE - slash);
    // the key stays on record as slashed, with nothing left, so it stays out for good
    expect(getNode(n2)).toMatchObject({ stake: 0n, status: 'slashed' });
    expect(bond(n2.publicKey, STAKE, n2.address).result).toBeErr(Cl.uint(E.ERR_NODE_SLASHED));
    expect(expectConserved()).toMatchObject({
      bonded: 3n * STAKE,
      stakeLocked: 2n * STAKE,
      withdrawn: STAKE - slash,
      slashed: slash,
    });
  });
});
