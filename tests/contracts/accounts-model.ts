/**
 * A model of accounts.clar for property tests: what the chain should hold (accounts, payees,
 * bond, periods with their leaves), what each account's key signed off chain, and the checks run
 * against simnet after every step. The fast-check commands are in accounts-commands.ts.
 */
import { expect } from 'vitest';
import { Cl } from '@stacks/transactions';
import type { AccountState, PayeeState } from '../../protocol/contracts/index.js';
import { leafHash, type ReceiptLeaf } from '../../protocol/accounts/index.js';
import type { NodeKey } from './helpers.js';
import {
  users,
  payees,
  call,
  setUp,
  getAccount,
  getPayee,
  getSigner,
  expectHeld,
  getTotals,
} from './accounts-helpers.js';

/** Short windows, so that withdrawals and challenges open and close within a sequence. */
export const DISPUTE_WINDOW = 6n;
export const SETTLE_WINDOW = 4n;
export const START_BOND = 3_000_000n;
/** The accounts a sequence uses, and every principal that may be credited or paid a penalty. */
export const accountKeys: NodeKey[] = users.slice(0, 3);
export const allPayees: string[] = [...payees, ...accountKeys.map((k) => k.address)];

/** One spend authorization the account key signed: cap, nonce, and the height it was signed at. */
export interface Signed {
  cap: bigint;
  nonce: bigint;
  signature: string;
  signedAt: bigint;
}
/** A leaf of a settled period: `proven` when a challenge must succeed (not signed by its account, or fee above max-fee). */
export interface ModelLeaf {
  leaf: ReceiptLeaf;
  hash: string;
  proven: boolean;
}
export interface Period {
  id: bigint;
  settledAt: bigint;
  leaves: ModelLeaf[];
  hashes: string[];
}

export class World {
  accounts = new Map<string, AccountState>();
  payees = new Map<string, PayeeState>();
  /** Authorizations each account signed, oldest first. */
  signed = new Map<string, Signed[]>();
  /** The authorization an honest signer must settle for a pending withdrawal: the latest signed before the request, if its unsettled spend was within the balance then. */
  covered = new Map<string, Signed | null>();
  bond = START_BOND;
  penaltyBps = 10_000n;
  periods: Period[] = [];
  challenged = new Set<string>();
  sums = {
    deposited: 0n,
    withdrawn: 0n,
    charged: 0n,
    credited: 0n,
    penalties: 0n,
    claimed: 0n,
    bondPosted: START_BOND,
    bondPaid: 0n,
  };
  steps = 0;

  account(k: NodeKey): AccountState {
    return this.accounts.get(k.address) ?? { balance: 0n, spent: 0n, nonce: 0n, withdrawAmount: 0n, withdrawAt: 0n };
  }
  payee(who: string): PayeeState {
    return this.payees.get(who) ?? { credited: 0n, penalties: 0n, claimable: 0n, claimed: 0n };
  }
  latest(k: NodeKey): Signed | undefined {
    return this.signed.get(k.address)?.at(-1);
  }
  /** Largest cap the account ever signed. */
  maxCap(k: NodeKey): bigint {
    return (this.signed.get(k.address) ?? []).reduce((m, s) => (s.cap > m ? s.cap : m), 0n);
  }
  /** Takes up to `amount` from the bond, as the contract does; returns what was taken. */
  takeFromBond(amount: bigint): bigint {
    const paid = amount < this.bond ? amount : this.bond;
    this.bond -= paid;
    this.sums.bondPaid += paid;
    return paid;
  }
  held(): bigint {
    const s = this.sums;
    return s.deposited - s.withdrawn - s.charged + s.credited + s.penalties - s.claimed + s.bondPosted - s.bondPaid;
  }
}

/** Fresh chain for one sequence: funded accounts and settler, short windows, the settler bonded. */
export async function freshWorld(): Promise<World> {
  await simnet.initSession(process.cwd(), globalThis.options.clarinet.manifestPath, null);
  // Short windows first: they may be lowered only while no bond is posted.
  for (const [fn, v] of [
    ['set-dispute-window', DISPUTE_WINDOW],
    ['set-settle-window', SETTLE_WINDOW],
  ] as const) {
    expect(call(fn, [Cl.uint(v)], simnet.deployer).result).toBeOk(Cl.bool(true));
  }
  setUp(START_BOND);
  return new World();
}

/** Checks every account, payee, the bond and the totals against the model, and the properties that must always hold. */
export function checkInvariants(w: World): void {
  for (const k of accountKeys) {
    const chain = getAccount(k);
    expect(chain ?? w.account(k), `account ${k.address}`).toEqual(w.account(k));
    // never charged more than the largest cap it signed
    expect(
      (chain?.spent ?? 0n) <= w.maxCap(k),
      `account ${k.address} charged ${chain?.spent} above its largest signed cap ${w.maxCap(k)}`,
    ).toBe(true);
  }
  for (const who of allPayees) {
    const chain = getPayee(who);
    expect(chain ?? w.payee(who), `payee ${who}`).toEqual(w.payee(who));
    if (chain)
      expect(chain.claimed + chain.claimable, `payee ${who}: claimed + claimable = credited + penalties`).toBe(
        chain.credited + chain.penalties,
      );
  }
  expect(getSigner().bond, 'bond').toBe(w.bond);
  const t = expectHeld();
  expect(t.held, 'held as the model counts it').toBe(w.held());
  expect({ ...getTotals(), held: 0n }).toEqual({ ...w.sums, bondWithdrawn: 0n, held: 0n });
}

/** The leaf of a result the account asked for (signed by `signer`, the account unless forged). */
export function leafOf(l: ReceiptLeaf, proven: boolean): ModelLeaf {
  return { leaf: l, hash: leafHash(l), proven };
}
