/**
 * accounts.clar, what keeps the settler honest: payees claim what they were credited; a voucher
 * the settler did not honour by its settle-by, or a receipt leaf whose request the account never
 * signed (or whose fee is above its max-fee), is paid from the settler's bond within the dispute
 * window; the bond and the settler cannot leave before that window is over.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import { Cl } from '@stacks/transactions';
import { accountsErrors as E, amountArgs, setSettlerArgs } from '../../protocol/contracts/index.js';
import { leafHash, merkleRoot, merkleProof } from '../../protocol/accounts/index.js';
import { deployer, stx, mineUntilNextCallAt } from './helpers.js';
import {
  users,
  settler,
  stranger,
  payees,
  BOND,
  call,
  setUp,
  deposit,
  claim,
  authorize,
  settle,
  split,
  signVoucher,
  challengeVoucher,
  receipt,
  challengeReceipt,
  getAccount,
  getPayee,
  getSigner,
  getConfig,
  expectHeld,
  printed,
  nextHeight,
  highS,
} from './accounts-helpers.js';

const [alice, bob] = users;
const [node] = payees;

beforeEach(() => {
  setUp();
  deposit(alice, 1_000_000n);
  deposit(bob, 1_000_000n);
});

describe('claim', () => {
  it('pays a payee what it was credited, once', () => {
    expect(claim(node).result).toBeErr(Cl.uint(E.ERR_NOTHING_TO_CLAIM));
    settle([authorize(alice, 200_000n, 1n)], split(200_000n));
    const before = stx(node);
    const r = claim(node);
    expect(r.result).toBeOk(Cl.uint(170_000n));
    expect(printed(r)[0]).toBeTuple({
      event: Cl.stringAscii('payee-claim'),
      payee: Cl.principal(node),
      amount: Cl.uint(170_000n),
    });
    expect(stx(node)).toBe(before + 170_000n);
    expect(getPayee(node)).toEqual({ credited: 170_000n, penalties: 0n, claimable: 0n, claimed: 170_000n });
    expect(claim(node).result).toBeErr(Cl.uint(E.ERR_NOTHING_TO_CLAIM));
    expect(expectHeld()).toMatchObject({ claimed: 170_000n });
  });
});

describe('challenge-voucher', () => {
  it('opens after settle-by, closes dispute-window blocks later, and needs the settler key', () => {
    const settleBy = nextHeight() + 5n;
    const sig = signVoucher(node, 100_000n, settleBy);
    mineUntilNextCallAt(settleBy);
    expect(challengeVoucher(node, 100_000n, settleBy, sig).result, 'at settle-by').toBeErr(
      Cl.uint(E.ERR_CHALLENGE_TOO_EARLY),
    );
    expect(challengeVoucher(node, 100_000n, settleBy, signVoucher(node, 100_000n, settleBy, stranger)).result).toBeErr(
      Cl.uint(E.ERR_INVALID_SIGNATURE),
    );
    // the voucher signed is not the voucher shown
    expect(challengeVoucher(node, 100_001n, settleBy, sig).result).toBeErr(Cl.uint(E.ERR_INVALID_SIGNATURE));
    expect(challengeVoucher(node, 100_000n, settleBy, highS(sig)).result).toBeErr(
      Cl.uint(E.ERR_NON_CANONICAL_SIGNATURE),
    );
    mineUntilNextCallAt(settleBy + getConfig().disputeWindow + 1n);
    expect(challengeVoucher(node, 100_000n, settleBy, sig).result).toBeErr(Cl.uint(E.ERR_CHALLENGE_TOO_LATE));
    expect(getSigner()).toMatchObject({ bond: BOND, challengesProven: 0n });
  });

  it('an honoured voucher owes nothing; a short one pays the shortfall plus the penalty, once', () => {
    settle([authorize(alice, 200_000n, 1n)], split(200_000n)); // node credited 170,000
    const settleBy = BigInt(simnet.stacksBlockHeight);
    const honoured = signVoucher(node, 170_000n, settleBy);
    const short = signVoucher(node, 250_000n, settleBy);
    expect(challengeVoucher(node, 170_000n, settleBy, honoured).result).toBeErr(Cl.uint(E.ERR_NOTHING_OWED));
    const r = challengeVoucher(node, 250_000n, settleBy, short);
    // shortfall 80,000 and, at penalty-bps 10000, a penalty of 80,000
    expect(r.result).toBeOk(Cl.tuple({ shortfall: Cl.uint(80_000n), paid: Cl.uint(160_000n) }));
    expect(printed(r)[0]).toBeTuple(
      expect.objectContaining({
        event: Cl.stringAscii('voucher-challenged'),
        credited: Cl.uint(80_000n),
        penalty: Cl.uint(80_000n),
      }),
    );
    expect(getPayee(node)).toEqual({ credited: 250_000n, penalties: 80_000n, claimable: 330_000n, claimed: 0n });
    expect(getSigner()).toMatchObject({ bond: BOND - 160_000n, challengesProven: 1n });
    expect(challengeVoucher(node, 250_000n, settleBy, short).result, 'the same voucher again').toBeErr(
      Cl.uint(E.ERR_NOTHING_OWED),
    );
    const before = stx(node);
    expect(claim(node).result).toBeOk(Cl.uint(330_000n));
    expect(stx(node)).toBe(before + 330_000n);
    expect(expectHeld()).toMatchObject({ bondPaid: 160_000n, penalties: 80_000n, credited: 200_000n + 80_000n });
  });

  it('pays no more than the bond holds, shortfall first', () => {
    const settleBy = BigInt(simnet.stacksBlockHeight);
    const r = challengeVoucher(payees[1], BOND, settleBy, signVoucher(payees[1], BOND, settleBy));
    expect(r.result).toBeOk(Cl.tuple({ shortfall: Cl.uint(BOND), paid: Cl.uint(BOND) }));
    expect(getPayee(payees[1])).toEqual({ credited: BOND, penalties: 0n, claimable: BOND, claimed: 0n });
    expect(getSigner().bond).toBe(0n);
    // an exhausted bond cannot settle any more
    expect(settle([authorize(alice, 1n, 1n)], split(1n)).result).toBeErr(Cl.uint(E.ERR_BOND_TOO_LOW));
    expectHeld();
  });
});

describe('challenge-receipt', () => {
  /** A period whose root holds four leaves: alice's two honest ones, one whose request bob never signed, one above its max-fee. */
  function period() {
    const leaves = [
      receipt(alice, 1, 1000n),
      receipt(alice, 2, 2000n),
      receipt(bob, 3, 3000n, { signer: stranger }),
      receipt(bob, 4, 4000n, { maxFee: 3999n }),
    ];
    const hashes = leaves.map(leafHash);
    const charged = 6000n;
    expect(
      settle(
        [authorize(alice, 3000n, 1n, 3000n, alice, merkleRoot(hashes.slice(0, 2))), authorize(bob, 3000n, 1n)],
        split(charged),
        { root: merkleRoot(hashes), tasks: 4 },
      ).result,
    ).toBeOk(Cl.tuple({ period: Cl.uint(1), charged: Cl.uint(charged) }));
    return { leaves, proof: (i: number) => merkleProof(hashes, i) };
  }

  it('refuses a wrong proof, an unknown period and a properly signed leaf within its max-fee', () => {
    const { leaves, proof } = period();
    expect(challengeReceipt(1n, leaves[2], proof(1)).result).toBeErr(Cl.uint(E.ERR_INVALID_PROOF));
    expect(challengeReceipt(1n, { ...leaves[2], fee: 1n }, proof(2)).result, 'the leaf changed').toBeErr(
      Cl.uint(E.ERR_INVALID_PROOF),
    );
    expect(challengeReceipt(2n, leaves[2], proof(2)).result).toBeErr(Cl.uint(E.ERR_PERIOD_NOT_FOUND));
    expect(challengeReceipt(1n, leaves[0], proof(0)).result).toBeErr(Cl.uint(E.ERR_CHALLENGE_NOT_PROVEN));
    expect(challengeReceipt(1n, leaves[1], proof(1)).result).toBeErr(Cl.uint(E.ERR_CHALLENGE_NOT_PROVEN));
    expect(getSigner()).toMatchObject({ bond: BOND, challengesProven: 0n });
  });

  it('pays the account fee + penalty for a leaf signed by another key, and for a fee above max-fee; each leaf once', () => {
    const { leaves, proof } = period();
    const r = challengeReceipt(1n, leaves[2], proof(2));
    expect(r.result).toBeOk(Cl.uint(6000n));
    expect(printed(r)[0]).toBeTuple(
      expect.objectContaining({
        event: Cl.stringAscii('receipt-challenged'),
        account: Cl.principal(bob.address),
        signed: Cl.bool(false),
        paid: Cl.uint(6000n),
      }),
    );
    expect(getPayee(bob.address)).toEqual({ credited: 0n, penalties: 6000n, claimable: 6000n, claimed: 0n });
    expect(challengeReceipt(1n, leaves[2], proof(2), bob.address).result, 'twice').toBeErr(
      Cl.uint(E.ERR_ALREADY_CHALLENGED),
    );
    // signed by bob, but the fee is above the max-fee he signed
    expect(challengeReceipt(1n, leaves[3], proof(3), bob.address).result).toBeOk(Cl.uint(8000n));
    expect(getPayee(bob.address)).toMatchObject({ penalties: 14_000n, claimable: 14_000n });
    expect(getSigner()).toMatchObject({ bond: BOND - 14_000n, challengesProven: 2n });
    const before = stx(bob.address);
    expect(claim(bob.address).result).toBeOk(Cl.uint(14_000n));
    expect(stx(bob.address)).toBe(before + 14_000n);
    // a challenge does not touch the account itself
    expect(getAccount(bob)).toMatchObject({ balance: 997_000n, spent: 3000n });
    expectHeld();
  });

  it('a non-canonical request signature counts as not signed', () => {
    const leaf = receipt(alice, 9, 500n);
    const forged = { ...leaf, requestSignature: highS(leaf.requestSignature) };
    const hashes = [leafHash(forged), leafHash(receipt(alice, 10, 500n))];
    settle([], [], { root: merkleRoot(hashes), tasks: 2 });
    expect(challengeReceipt(1n, forged, merkleProof(hashes, 0)).result).toBeOk(Cl.uint(1000n));
  });

  it('closes dispute-window blocks after the settlement', () => {
    const { leaves, proof } = period();
    mineUntilNextCallAt(BigInt(simnet.stacksBlockHeight) + getConfig().disputeWindow + 1n);
    expect(challengeReceipt(1n, leaves[2], proof(2)).result).toBeErr(Cl.uint(E.ERR_CHALLENGE_TOO_LATE));
  });
});

describe('the settler and its bond', () => {
  it('set-settler: admin only, the key must be the principal, refused while the settler is bonded', () => {
    expect(call('set-settler', setSettlerArgs(stranger.address, stranger.publicKey), stranger.address).result).toBeErr(
      Cl.uint(E.ERR_NOT_ADMIN),
    );
    expect(call('set-settler', setSettlerArgs(stranger.address, settler.publicKey), deployer).result).toBeErr(
      Cl.uint(E.ERR_KEY_MISMATCH),
    );
    expect(
      call('set-settler', [Cl.principal(stranger.address), Cl.bufferFromHex(stranger.publicKey.slice(0, 64))], deployer)
        .result,
    ).toBeErr(Cl.uint(E.ERR_INVALID_KEY));
    expect(call('set-settler', setSettlerArgs(stranger.address, stranger.publicKey), deployer).result).toBeErr(
      Cl.uint(E.ERR_SETTLER_BONDED),
    );
  });

  it('the bond unlocks settle-window + dispute-window + 1 blocks after the request; then the settler can change', () => {
    expect(call('post-bond', amountArgs(0n), settler.address).result).toBeErr(Cl.uint(E.ERR_ZERO_AMOUNT));
    expect(call('post-bond', amountArgs(1n), stranger.address).result).toBeErr(Cl.uint(E.ERR_NOT_SETTLER));
    expect(call('post-bond', amountArgs(stx(settler.address) + 1n), settler.address).result).toBeErr(
      Cl.uint(E.ERR_INSUFFICIENT_FUNDS),
    );
    expect(call('withdraw-bond', [], settler.address).result).toBeErr(Cl.uint(E.ERR_NO_BOND_WITHDRAWAL));
    const { settleWindow, disputeWindow } = getConfig();
    const unlockAt = nextHeight() + settleWindow + disputeWindow + 1n;
    expect(call('request-bond-withdrawal', [], settler.address).result).toBeOk(Cl.uint(unlockAt));
    expect(getSigner().unlockAt).toBe(unlockAt);
    // still settling within the settle window: that period's challenges close before the unlock
    expect(settle([authorize(alice, 100n, 1n)], split(100n)).result).toBeOk(
      Cl.tuple({ period: Cl.uint(1), charged: Cl.uint(100n) }),
    );
    mineUntilNextCallAt(unlockAt - disputeWindow);
    expect(settle([authorize(alice, 200n, 2n)], split(100n)).result).toBeErr(Cl.uint(E.ERR_BOND_UNLOCKING));
    mineUntilNextCallAt(unlockAt - 1n);
    expect(call('withdraw-bond', [], settler.address).result).toBeErr(Cl.uint(E.ERR_BOND_LOCKED));
    expect(call('withdraw-bond', [], stranger.address).result).toBeErr(Cl.uint(E.ERR_NOT_SETTLER));
    const before = stx(settler.address);
    expect(call('withdraw-bond', [], settler.address).result).toBeOk(Cl.uint(BOND));
    expect(stx(settler.address)).toBe(before + BOND);
    expect(getSigner()).toMatchObject({ bond: 0n, unlockAt: 0n });
    expect(call('withdraw-bond', [], settler.address).result).toBeErr(Cl.uint(E.ERR_NO_BOND));
    expect(call('request-bond-withdrawal', [], settler.address).result).toBeErr(Cl.uint(E.ERR_NO_BOND));
    expect(call('set-settler', setSettlerArgs(stranger.address, stranger.publicKey), deployer).result).toBeOk(
      Cl.bool(true),
    );
    expect(getSigner()).toMatchObject({ settler: stranger.address, key: stranger.publicKey });
    expect(expectHeld()).toMatchObject({ bondPosted: BOND, bondWithdrawn: BOND });
  });

  it('posting again cancels a pending bond withdrawal', () => {
    call('request-bond-withdrawal', [], settler.address);
    expect(call('post-bond', amountArgs(1n), settler.address).result).toBeOk(Cl.uint(BOND + 1n));
    expect(getSigner().unlockAt).toBe(0n);
  });

  it('admin settings: windows above zero, penalty at most 10x, admin only', () => {
    expect(call('set-dispute-window', [Cl.uint(0)], deployer).result).toBeErr(Cl.uint(E.ERR_INVALID_CONFIG));
    expect(call('set-settle-window', [Cl.uint(0)], deployer).result).toBeErr(Cl.uint(E.ERR_INVALID_CONFIG));
    expect(call('set-penalty-bps', [Cl.uint(100_001)], deployer).result).toBeErr(Cl.uint(E.ERR_INVALID_CONFIG));
    expect(call('set-dispute-window', [Cl.uint(5)], stranger.address).result).toBeErr(Cl.uint(E.ERR_NOT_ADMIN));
    for (const [fn, v] of [
      ['set-dispute-window', 25],
      ['set-settle-window', 26],
      ['set-penalty-bps', 500],
      ['set-min-signer-bond', 7],
    ] as const) {
      expect(call(fn, [Cl.uint(v)], deployer).result).toBeOk(Cl.bool(true));
    }
    expect(getConfig()).toMatchObject({
      admin: deployer,
      disputeWindow: 25n,
      settleWindow: 26n,
      penaltyBps: 500n,
      minSignerBond: 7n,
    });
  });

  it("admin cannot cut a bonded settler's challenge windows short: windows only grow while a bond is posted", () => {
    for (const fn of ['set-dispute-window', 'set-settle-window'] as const) {
      const window = fn === 'set-dispute-window' ? getConfig().disputeWindow : getConfig().settleWindow;
      expect(call(fn, [Cl.uint(window - 1n)], deployer).result).toBeErr(Cl.uint(E.ERR_WINDOW_LOWERED));
      expect(call(fn, [Cl.uint(window + 10n)], deployer).result).toBeOk(Cl.bool(true));
    }
    expect(getConfig()).toMatchObject({ disputeWindow: 30n, settleWindow: 30n });
  });
});
