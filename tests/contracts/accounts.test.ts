/**
 * accounts.clar, deposits and settlements: an account deposits, the settler charges it by its
 * latest signed cumulative authorization and credits the payees the same total, all or nothing;
 * a withdrawal waits the dispute window and pays what settlements left.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import { Cl } from '@stacks/transactions';
import { accountsErrors as E, amountArgs } from '../../protocol/contracts/index.js';
import { EMPTY_ROOT } from '../../protocol/accounts/index.js';
import { deployer, stx, hash, mineUntilNextCallAt } from './helpers.js';
import {
  accountsId,
  users,
  settler,
  stranger,
  payees,
  BOND,
  call,
  setUp,
  deposit,
  requestWithdrawal,
  withdraw,
  authorize,
  highS,
  settle,
  split,
  getAccount,
  getPayee,
  getPeriod,
  getConfig,
  getSigner,
  expectHeld,
  printed,
  nextHeight,
} from './accounts-helpers.js';

const [alice, bob] = users;
beforeEach(() => setUp());

describe('deposit and withdrawal', () => {
  it('deposits add to the balance; a withdrawal waits dispute-window blocks, then pays the amount asked', () => {
    expect(deposit(alice, 0n).result).toBeErr(Cl.uint(E.ERR_ZERO_AMOUNT));
    expect(deposit(alice, stx(alice.address) + 1n).result).toBeErr(Cl.uint(E.ERR_INSUFFICIENT_FUNDS));
    expect(getAccount(alice)).toBeNull();
    expect(deposit(alice, 1_000_000n).result).toBeOk(Cl.uint(1_000_000n));
    const r = deposit(alice, 500_000n);
    expect(r.result).toBeOk(Cl.uint(1_500_000n));
    expect(printed(r)[0]).toBeTuple({
      event: Cl.stringAscii('account-deposit'),
      account: Cl.principal(alice.address),
      amount: Cl.uint(500_000n),
      balance: Cl.uint(1_500_000n),
    });
    expect(getAccount(alice)).toEqual({
      balance: 1_500_000n,
      spent: 0n,
      nonce: 0n,
      withdrawAmount: 0n,
      withdrawAt: 0n,
    });
    expectHeld();

    expect(withdraw(alice).result).toBeErr(Cl.uint(E.ERR_NO_WITHDRAWAL));
    expect(requestWithdrawal(alice, 0n).result).toBeErr(Cl.uint(E.ERR_ZERO_AMOUNT));
    expect(requestWithdrawal(alice, 1_500_001n).result).toBeErr(Cl.uint(E.ERR_AMOUNT_ABOVE_BALANCE));
    const window = getConfig().disputeWindow;
    const at = nextHeight() + window;
    expect(requestWithdrawal(alice, 1_000_000n).result).toBeOk(Cl.uint(at));
    expect(getAccount(alice)).toMatchObject({ withdrawAmount: 1_000_000n, withdrawAt: at });
    mineUntilNextCallAt(at - 1n);
    expect(withdraw(alice).result, 'one block short of the window').toBeErr(Cl.uint(E.ERR_WITHDRAW_TOO_EARLY));
    const before = stx(alice.address);
    const w = withdraw(alice);
    expect(simnet.stacksBlockHeight, 'the first block it may withdraw in').toBe(Number(at));
    expect(w.result).toBeOk(Cl.uint(1_000_000n));
    expect(stx(alice.address)).toBe(before + 1_000_000n);
    expect(getAccount(alice)).toEqual({ balance: 500_000n, spent: 0n, nonce: 0n, withdrawAmount: 0n, withdrawAt: 0n });
    expect(withdraw(alice).result).toBeErr(Cl.uint(E.ERR_NO_WITHDRAWAL));
    expect(expectHeld()).toMatchObject({ deposited: 1_500_000n, withdrawn: 1_000_000n });
  });

  it('an authorization signed before the withdrawal request is settled inside the window; the withdrawal then pays only what is left', () => {
    deposit(alice, 1_000_000n);
    const auth = authorize(alice, 400_000n, 1n);
    const at = nextHeight() + getConfig().disputeWindow;
    expect(requestWithdrawal(alice, 1_000_000n).result).toBeOk(Cl.uint(at));
    expect(settle([auth], split(400_000n)).result).toBeOk(Cl.tuple({ period: Cl.uint(1), charged: Cl.uint(400_000n) }));
    simnet.mineEmptyBlocks(Number(at - nextHeight()));
    const before = stx(alice.address);
    expect(withdraw(alice).result).toBeOk(Cl.uint(600_000n));
    expect(stx(alice.address)).toBe(before + 600_000n);
    expect(getAccount(alice)).toMatchObject({ balance: 0n, spent: 400_000n });
    expectHeld();
  });
});

describe('settle-accounts', () => {
  beforeEach(() => {
    deposit(alice, 1_000_000n);
    deposit(bob, 2_000_000n);
  });

  it('charges each account the spend since its last settlement and credits the payees the same total', () => {
    const before = stx(accountsId);
    const r = settle([authorize(alice, 300_000n, 1n), authorize(bob, 500_000n, 7n, 200_000n)], split(500_000n), {
      root: hash('root-1'),
      tasks: 42,
    });
    expect(r.result).toBeOk(Cl.tuple({ period: Cl.uint(1), charged: Cl.uint(500_000n) }));
    expect(printed(r)[0]).toBeTuple({
      event: Cl.stringAscii('accounts-settled'),
      period: Cl.uint(1),
      root: Cl.bufferFromHex(hash('root-1')),
      tasks: Cl.uint(42),
      charged: Cl.uint(500_000n),
      accounts: Cl.uint(2),
      payees: Cl.uint(3),
    });
    // nothing leaves the contract: the payees claim later
    expect(stx(accountsId)).toBe(before);
    expect(getAccount(alice)).toMatchObject({ balance: 700_000n, spent: 300_000n, nonce: 1n });
    expect(getAccount(bob)).toMatchObject({ balance: 1_800_000n, spent: 200_000n, nonce: 7n });
    expect(getPayee(payees[0])).toEqual({ credited: 425_000n, penalties: 0n, claimable: 425_000n, claimed: 0n });
    expect(getPeriod(1n)).toEqual({
      root: hash('root-1'),
      tasks: 42n,
      settledAt: BigInt(simnet.stacksBlockHeight),
      charged: 500_000n,
    });
    expect(getConfig().lastPeriod).toBe(1n);

    // bob's same authorization again (equal nonce), up to its cap: charged only the difference
    const next = settle(
      [authorize(bob, 500_000n, 7n, 500_000n), authorize(alice, 900_000n, 2n, 300_000n)],
      split(300_000n),
    );
    expect(next.result).toBeOk(Cl.tuple({ period: Cl.uint(2), charged: Cl.uint(300_000n) }));
    expect(getAccount(bob)).toMatchObject({ balance: 1_500_000n, spent: 500_000n });
    expect(getAccount(alice)).toMatchObject({ balance: 700_000n, spent: 300_000n, nonce: 2n });
    expect(getPayee(payees[1])).toMatchObject({ credited: 80_000n });
    expect(expectHeld()).toMatchObject({ charged: 800_000n, credited: 800_000n });
  });

  it('is all or nothing: one bad item among good ones refuses the call and changes nothing', () => {
    expect(settle([authorize(alice, 300_000n, 5n)], split(300_000n)).result).toBeOk(
      Cl.tuple({ period: Cl.uint(1), charged: Cl.uint(300_000n) }),
    );
    const good = authorize(bob, 100_000n, 1n);
    const cases: [string, ReturnType<typeof authorize>, number][] = [
      ['signed by another key', authorize(alice, 600_000n, 6n, 600_000n, stranger), E.ERR_INVALID_SIGNATURE],
      [
        'signed by another account',
        { ...authorize(bob, 600_000n, 6n), account: alice.address },
        E.ERR_INVALID_SIGNATURE,
      ],
      [
        'non-canonical (high-s) signature',
        (() => {
          const a = authorize(alice, 600_000n, 6n);
          return { ...a, signature: highS(a.signature) };
        })(),
        E.ERR_NON_CANONICAL_SIGNATURE,
      ],
      ['nonce below the settled one', authorize(alice, 600_000n, 4n), E.ERR_NONCE_TOO_LOW],
      ['spend below the settled spend', authorize(alice, 600_000n, 6n, 299_999n), E.ERR_SPEND_BELOW_SETTLED],
      ['spend above the signed cap', authorize(alice, 600_000n, 6n, 600_001n), E.ERR_SPEND_ABOVE_CAP],
      [
        'spend since the last settlement above the balance',
        authorize(alice, 2_000_000n, 6n, 1_000_001n),
        E.ERR_BALANCE_TOO_LOW,
      ],
    ];
    for (const [what, bad, code] of cases) {
      const charged = 100_000n + BigInt(bad.spend) - 300_000n;
      const r = settle([good, bad], split(charged > 0n ? charged : 100_000n));
      expect(r.result, what).toBeErr(Cl.uint(code));
    }
    // the first item alone would have been good: it was not charged
    expect(getAccount(bob)).toMatchObject({ balance: 2_000_000n, spent: 0n, nonce: 0n });
    expect(getAccount(alice)).toMatchObject({ balance: 700_000n, spent: 300_000n, nonce: 5n });
    expect(getConfig().lastPeriod).toBe(1n);

    // credits must add up to the charge exactly, neither more nor less
    expect(settle([good], split(100_001n)).result).toBeErr(Cl.uint(E.ERR_CREDITS_MISMATCH));
    expect(settle([good], split(99_999n)).result).toBeErr(Cl.uint(E.ERR_CREDITS_MISMATCH));
    expect(settle([good], []).result).toBeErr(Cl.uint(E.ERR_CREDITS_MISMATCH));
    expect(getPayee(payees[0])).toMatchObject({ credited: 255_000n });
    expect(settle([good], split(100_000n)).result).toBeOk(Cl.tuple({ period: Cl.uint(2), charged: Cl.uint(100_000n) }));
    expectHeld();
  });

  it('only the settler settles, and only with at least min-signer-bond posted', () => {
    const auth = authorize(alice, 100_000n, 1n);
    expect(settle([auth], split(100_000n), { sender: stranger.address }).result).toBeErr(Cl.uint(E.ERR_NOT_SETTLER));
    expect(settle([auth], split(100_000n), { sender: deployer }).result).toBeErr(Cl.uint(E.ERR_NOT_SETTLER));
    expect(call('set-min-signer-bond', amountArgs(BOND + 1n), deployer).result).toBeOk(Cl.bool(true));
    expect(settle([auth], split(100_000n)).result).toBeErr(Cl.uint(E.ERR_BOND_TOO_LOW));
    expect(call('post-bond', amountArgs(1n), settler.address).result).toBeOk(Cl.uint(BOND + 1n));
    expect(settle([auth], split(100_000n)).result).toBeOk(Cl.tuple({ period: Cl.uint(1), charged: Cl.uint(100_000n) }));
    expect(getSigner()).toMatchObject({ settler: settler.address, key: settler.publicKey, bond: BOND + 1n });
  });

  it('an empty settlement publishes a root and charges nothing', () => {
    expect(settle([], [], { root: EMPTY_ROOT, tasks: 0 }).result).toBeOk(
      Cl.tuple({ period: Cl.uint(1), charged: Cl.uint(0) }),
    );
    expect(getPeriod(1n)).toMatchObject({ root: EMPTY_ROOT, tasks: 0n, charged: 0n });
  });
});
