/**
 * fast-check commands over the accounts model (accounts-model.ts): deposits, authorizations the
 * account signs off chain, settlements with honest and dishonest items, withdrawals, claims,
 * voucher and receipt challenges, bond top-ups and mined blocks. Each predicts its outcome and
 * every balance it moves from the model alone, then checks the invariants.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { Cl } from '@stacks/transactions';
import { accountsErrors as E, amountArgs, type SettleItem, type Credit } from '../../protocol/contracts/index.js';
import { merkleRoot, merkleProof } from '../../protocol/accounts/index.js';
import { stx } from './helpers.js';
import {
  settler,
  stranger,
  payees,
  call,
  deposit,
  requestWithdrawal,
  withdraw,
  claim,
  authorize,
  highS,
  settle,
  signVoucher,
  challengeVoucher,
  receipt,
  challengeReceipt,
  nextHeight,
} from './accounts-helpers.js';
import {
  type World,
  accountKeys,
  allPayees,
  DISPUTE_WINDOW,
  checkInvariants,
  leafOf,
  type ModelLeaf,
} from './accounts-model.js';

const BPS = 10_000n;
type Cmd = fc.Command<World, object>;
const errOf = (code: number) => Cl.uint(code);

class DepositCmd implements Cmd {
  constructor(
    readonly user: number,
    readonly amount: bigint,
  ) {}
  check = () => true;
  run(w: World): void {
    const k = accountKeys[this.user];
    const r = deposit(k, this.amount);
    if (this.amount === 0n) expect(r.result).toBeErr(errOf(E.ERR_ZERO_AMOUNT));
    else {
      const a = w.account(k);
      w.accounts.set(k.address, { ...a, balance: a.balance + this.amount });
      w.sums.deposited += this.amount;
      expect(r.result).toBeOk(Cl.uint(a.balance + this.amount));
    }
    checkInvariants(w);
  }
  toString = () => `deposit(${this.user}, ${this.amount})`;
}

/** The account signs a new cumulative authorization `extra` above its latest cap (off chain only). */
class SignCmd implements Cmd {
  constructor(
    readonly user: number,
    readonly extra: bigint,
  ) {}
  check = () => true;
  run(w: World): void {
    const k = accountKeys[this.user];
    const prev = w.latest(k);
    const cap = (prev?.cap ?? 0n) + this.extra;
    const nonce = (prev?.nonce ?? 0n) + 1n;
    const { signature } = authorize(k, cap, nonce);
    w.signed.set(k.address, [...(w.signed.get(k.address) ?? []), { cap, nonce, signature, signedAt: nextHeight() }]);
  }
  toString = () => `sign(${this.user}, +${this.extra})`;
}

/** One item of a settlement: which authorization (latest, an older one, forged by another key, high-s), and where between settled spend and cap. */
interface ItemSpec {
  user: number;
  which: 0 | 1 | 2 | 3;
  pct: number;
  over: boolean;
}

class SettleCmd implements Cmd {
  constructor(
    readonly specs: ItemSpec[],
    readonly creditsOff: -1n | 0n | 1n,
    readonly bySettler: boolean,
    readonly badLeaves: boolean,
  ) {}
  check = (w: Readonly<World>) => accountKeys.some((k) => w.signed.has(k.address));
  run(w: World): void {
    // predict item by item on a copy, as the contract folds over them
    const next = new Map(accountKeys.map((k) => [k.address, w.account(k)]));
    let code = !this.bySettler ? E.ERR_NOT_SETTLER : w.bond < 1_000_000n ? E.ERR_BOND_TOO_LOW : 0;
    let charged = 0n;
    const items: SettleItem[] = [];
    const leaves: ModelLeaf[] = [];
    for (const s of this.specs) {
      const k = accountKeys[s.user];
      const list = w.signed.get(k.address) ?? [];
      const auth = s.which === 1 ? list[Math.floor(list.length / 2)] : list.at(-1);
      if (!auth) continue;
      const a = next.get(k.address)!;
      const base = a.spent < auth.cap ? a.spent : auth.cap;
      const spend = s.over ? auth.cap + 1n : base + ((auth.cap - base) * BigInt(s.pct)) / 100n;
      const item = authorize(k, auth.cap, auth.nonce, spend, s.which === 2 ? stranger : k);
      items.push(s.which === 3 ? { ...item, signature: highS(item.signature) } : item);
      if (code) continue;
      code =
        s.which === 3
          ? E.ERR_NON_CANONICAL_SIGNATURE
          : s.which === 2
            ? E.ERR_INVALID_SIGNATURE
            : auth.nonce < a.nonce
              ? E.ERR_NONCE_TOO_LOW
              : spend < a.spent
                ? E.ERR_SPEND_BELOW_SETTLED
                : spend > auth.cap
                  ? E.ERR_SPEND_ABOVE_CAP
                  : spend - a.spent > a.balance
                    ? E.ERR_BALANCE_TOO_LOW
                    : 0;
      if (code) continue;
      const delta = spend - a.spent;
      charged += delta;
      next.set(k.address, { ...a, balance: a.balance - delta, spent: spend, nonce: auth.nonce });
      if (delta > 0n) leaves.push(leafOf(receipt(k, w.steps++, delta), false));
    }
    if (this.badLeaves) {
      leaves.push(leafOf(receipt(accountKeys[0], w.steps++, 700n, { signer: stranger }), true));
      leaves.push(leafOf(receipt(accountKeys[1], w.steps++, 900n, { maxFee: 899n }), true));
    }
    const total = charged + this.creditsOff > 0n ? charged + this.creditsOff : 0n;
    const credits: Credit[] =
      total === 0n && charged === 0n && this.creditsOff <= 0n
        ? []
        : [
            { payee: payees[0], amount: total - total / 4n },
            { payee: payees[1], amount: total / 4n },
          ];
    if (!code && total !== charged) code = E.ERR_CREDITS_MISMATCH;
    const hashes = leaves.map((l) => l.hash);
    const before = stx(settler.address);
    const r = settle(items, credits, {
      root: merkleRoot(hashes),
      tasks: leaves.length,
      sender: this.bySettler ? settler.address : stranger.address,
    });
    if (code) {
      expect(r.result, 'settlement refused whole').toBeErr(errOf(code));
    } else {
      const id = BigInt(w.periods.length + 1);
      expect(r.result).toBeOk(Cl.tuple({ period: Cl.uint(id), charged: Cl.uint(charged) }));
      for (const [who, a] of next) if (w.accounts.has(who) || a.spent > 0n || a.nonce > 0n) w.accounts.set(who, a);
      for (const c of credits) {
        const p = w.payee(c.payee);
        w.payees.set(c.payee, {
          ...p,
          credited: p.credited + BigInt(c.amount),
          claimable: p.claimable + BigInt(c.amount),
        });
      }
      w.sums.charged += charged;
      w.sums.credited += charged;
      w.periods.push({ id, settledAt: BigInt(simnet.stacksBlockHeight), leaves, hashes });
    }
    expect(stx(settler.address), 'a settlement moves no STX').toBe(before);
    checkInvariants(w);
  }
  toString = () =>
    `settle(${JSON.stringify(this.specs)}, credits ${this.creditsOff}, ${this.bySettler ? 'settler' : 'stranger'}${this.badLeaves ? ', bad leaves' : ''})`;
}

class RequestWithdrawalCmd implements Cmd {
  constructor(
    readonly user: number,
    readonly pct: number,
  ) {}
  check = () => true;
  run(w: World): void {
    const k = accountKeys[this.user];
    const a = w.account(k);
    const amount = (a.balance * BigInt(this.pct)) / 100n;
    const at = nextHeight() + DISPUTE_WINDOW;
    const r = requestWithdrawal(k, amount);
    if (amount === 0n) expect(r.result).toBeErr(errOf(E.ERR_ZERO_AMOUNT));
    else {
      expect(r.result).toBeOk(Cl.uint(at));
      w.accounts.set(k.address, { ...a, withdrawAmount: amount, withdrawAt: at });
      const latest = w.latest(k);
      w.covered.set(k.address, latest && latest.nonce >= a.nonce && latest.cap - a.spent <= a.balance ? latest : null);
    }
    checkInvariants(w);
  }
  toString = () => `request-withdrawal(${this.user}, ${this.pct}%)`;
}

/** The honest signer settles, inside the window, the authorization an account signed before asking to withdraw: it must succeed. */
class SettleBeforeWithdrawalCmd implements Cmd {
  constructor(readonly user: number) {}
  check = (w: Readonly<World>) => {
    const k = accountKeys[this.user];
    const a = w.account(k);
    const c = w.covered.get(k.address);
    return (
      !!c &&
      a.withdrawAt > 0n &&
      nextHeight() < a.withdrawAt &&
      c.nonce >= a.nonce &&
      c.cap >= a.spent &&
      w.bond >= 1_000_000n
    );
  };
  run(w: World): void {
    const k = accountKeys[this.user];
    const a = w.account(k);
    const c = w.covered.get(k.address)!;
    const delta = c.cap - a.spent;
    const r = settle(
      [
        {
          account: k.address,
          cumulative: c.cap,
          nonce: c.nonce,
          receiptsRoot: '00'.repeat(32),
          signature: c.signature,
          spend: c.cap,
        },
      ],
      delta ? [{ payee: payees[2], amount: delta }] : [],
    );
    expect(r.result, 'an authorization signed before the withdrawal request settles within the window').toBeOk(
      Cl.tuple({ period: Cl.uint(w.periods.length + 1), charged: Cl.uint(delta) }),
    );
    w.accounts.set(k.address, { ...a, balance: a.balance - delta, spent: c.cap, nonce: c.nonce });
    const p = w.payee(payees[2]);
    if (delta) w.payees.set(payees[2], { ...p, credited: p.credited + delta, claimable: p.claimable + delta });
    w.sums.charged += delta;
    w.sums.credited += delta;
    w.periods.push({
      id: BigInt(w.periods.length + 1),
      settledAt: BigInt(simnet.stacksBlockHeight),
      leaves: [],
      hashes: [],
    });
    checkInvariants(w);
  }
  toString = () => `settle-before-withdrawal(${this.user})`;
}

class WithdrawCmd implements Cmd {
  constructor(readonly user: number) {}
  check = () => true;
  run(w: World): void {
    const k = accountKeys[this.user];
    const a = w.account(k);
    const height = nextHeight();
    const before = stx(k.address);
    const r = withdraw(k);
    if (a.withdrawAt === 0n) expect(r.result).toBeErr(errOf(E.ERR_NO_WITHDRAWAL));
    else if (height < a.withdrawAt)
      expect(r.result, 'no withdrawal before its window has passed').toBeErr(errOf(E.ERR_WITHDRAW_TOO_EARLY));
    else {
      const amount = a.withdrawAmount < a.balance ? a.withdrawAmount : a.balance;
      expect(r.result).toBeOk(Cl.uint(amount));
      expect(stx(k.address) - before).toBe(amount);
      w.accounts.set(k.address, { ...a, balance: a.balance - amount, withdrawAmount: 0n, withdrawAt: 0n });
      w.sums.withdrawn += amount;
      w.covered.delete(k.address);
    }
    checkInvariants(w);
  }
  toString = () => `withdraw(${this.user})`;
}

class ClaimCmd implements Cmd {
  constructor(readonly who: number) {}
  check = () => true;
  run(w: World): void {
    const who = allPayees[this.who];
    const p = w.payee(who);
    const before = stx(who);
    const r = claim(who);
    if (p.claimable === 0n) expect(r.result).toBeErr(errOf(E.ERR_NOTHING_TO_CLAIM));
    else {
      expect(r.result).toBeOk(Cl.uint(p.claimable));
      expect(stx(who) - before).toBe(p.claimable);
      w.payees.set(who, { ...p, claimable: 0n, claimed: p.claimed + p.claimable });
      w.sums.claimed += p.claimable;
    }
    checkInvariants(w);
  }
  toString = () => `claim(${this.who})`;
}

/** The settler signs a voucher of the payee's credited total + `extra`, settle-by `age` blocks before the challenge (0: not yet passed). */
class VoucherCmd implements Cmd {
  constructor(
    readonly who: number,
    readonly extra: bigint,
    readonly age: bigint,
  ) {}
  check = () => true;
  run(w: World): void {
    const who = allPayees[this.who];
    const p = w.payee(who);
    const cumulative = p.credited + this.extra > 0n ? p.credited + this.extra : 0n;
    const height = nextHeight();
    const settleBy = height - this.age;
    const r = challengeVoucher(who, cumulative, settleBy, signVoucher(who, cumulative, settleBy));
    if (this.age === 0n) expect(r.result).toBeErr(errOf(E.ERR_CHALLENGE_TOO_EARLY));
    else if (this.age > DISPUTE_WINDOW) expect(r.result).toBeErr(errOf(E.ERR_CHALLENGE_TOO_LATE));
    else if (cumulative <= p.credited) expect(r.result).toBeErr(errOf(E.ERR_NOTHING_OWED));
    else {
      const shortfall = cumulative - p.credited;
      const paid = w.takeFromBond(shortfall + (shortfall * w.penaltyBps) / BPS);
      const credit = shortfall < paid ? shortfall : paid;
      // a proven voucher is paid in full unless the bond ran out
      expect(r.result, 'a proven voucher challenge is paid (bond permitting)').toBeOk(
        Cl.tuple({ shortfall: Cl.uint(shortfall), paid: Cl.uint(paid) }),
      );
      w.payees.set(who, {
        credited: p.credited + credit,
        penalties: p.penalties + paid - credit,
        claimable: p.claimable + paid,
        claimed: p.claimed,
      });
      w.sums.credited += credit;
      w.sums.penalties += paid - credit;
    }
    checkInvariants(w);
  }
  toString = () => `voucher(${this.who}, +${this.extra}, age ${this.age})`;
}

class ReceiptCmd implements Cmd {
  constructor(
    readonly ref: number,
    readonly leaf: number,
  ) {}
  check = (w: Readonly<World>) => w.periods.some((p) => p.leaves.length > 0);
  run(w: World): void {
    const withLeaves = w.periods.filter((p) => p.leaves.length > 0);
    const period = withLeaves[withLeaves.length - 1 - (this.ref % withLeaves.length)];
    const i = this.leaf % period.leaves.length;
    const l = period.leaves[i];
    const height = nextHeight();
    const r = challengeReceipt(period.id, l.leaf, merkleProof(period.hashes, i));
    if (height > period.settledAt + DISPUTE_WINDOW) expect(r.result).toBeErr(errOf(E.ERR_CHALLENGE_TOO_LATE));
    else if (w.challenged.has(l.hash)) expect(r.result).toBeErr(errOf(E.ERR_ALREADY_CHALLENGED));
    else if (!l.proven) expect(r.result).toBeErr(errOf(E.ERR_CHALLENGE_NOT_PROVEN));
    else {
      const fee = l.leaf.fee;
      const paid = w.takeFromBond(fee + (fee * w.penaltyBps) / BPS);
      expect(r.result, 'a proven receipt challenge is paid (bond permitting)').toBeOk(Cl.uint(paid));
      const who = l.leaf.request.account;
      const p = w.payee(who);
      w.payees.set(who, { ...p, penalties: p.penalties + paid, claimable: p.claimable + paid });
      w.sums.penalties += paid;
      w.challenged.add(l.hash);
    }
    checkInvariants(w);
  }
  toString = () => `challenge-receipt(period -${this.ref}, leaf ${this.leaf})`;
}

class PostBondCmd implements Cmd {
  constructor(readonly amount: bigint) {}
  check = () => true;
  run(w: World): void {
    expect(call('post-bond', amountArgs(this.amount), settler.address).result).toBeOk(Cl.uint(w.bond + this.amount));
    w.bond += this.amount;
    w.sums.bondPosted += this.amount;
    checkInvariants(w);
  }
  toString = () => `post-bond(${this.amount})`;
}

class MineCmd implements Cmd {
  constructor(readonly blocks: number) {}
  check = () => true;
  run(): void {
    simnet.mineEmptyBlocks(this.blocks);
  }
  toString = () => `mine(${this.blocks})`;
}

const user = fc.nat(accountKeys.length - 1);
const itemArb = fc
  .record({
    user,
    which: fc.constantFrom<ItemSpec['which']>(0, 0, 0, 0, 1, 2, 3),
    pct: fc.nat(100),
    over: fc.boolean(),
  })
  .map((s) => ({ ...s, over: s.over && s.pct > 90 }));

export const commandArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(user, fc.bigInt(0n, 3_000_000n)).map(([u, a]) => new DepositCmd(u, a)) },
  { weight: 4, arbitrary: fc.tuple(user, fc.bigInt(0n, 1_500_000n)).map(([u, x]) => new SignCmd(u, x)) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.array(itemArb, { minLength: 1, maxLength: 4 }),
        fc.constantFrom<-1n | 0n | 1n>(0n, 0n, 0n, 0n, -1n, 1n),
        fc.constantFrom(true, true, true, true, false),
        fc.boolean(),
      )
      .map(([items, off, bySettler, bad]) => new SettleCmd(items, off, bySettler, bad)),
  },
  { weight: 2, arbitrary: fc.tuple(user, fc.nat(100)).map(([u, p]) => new RequestWithdrawalCmd(u, p)) },
  { weight: 2, arbitrary: user.map((u) => new SettleBeforeWithdrawalCmd(u)) },
  { weight: 2, arbitrary: user.map((u) => new WithdrawCmd(u)) },
  { weight: 2, arbitrary: fc.nat(allPayees.length - 1).map((i) => new ClaimCmd(i)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.nat(allPayees.length - 1), fc.bigInt(-1000n, 2_000_000n), fc.bigInt(0n, DISPUTE_WINDOW + 2n))
      .map(([i, x, a]) => new VoucherCmd(i, x, a)),
  },
  { weight: 3, arbitrary: fc.tuple(fc.nat(3), fc.nat(10)).map(([p, l]) => new ReceiptCmd(p, l)) },
  { weight: 1, arbitrary: fc.bigInt(1n, 2_000_000n).map((a) => new PostBondCmd(a)) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 5 }).map((n) => new MineCmd(n)) },
);
