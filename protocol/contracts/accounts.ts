/**
 * contracts/accounts.clar as TypeScript sees it: typed arguments of its public functions, its
 * error codes (read from the Clarity source), and decoders of its read-only results. The signed
 * messages themselves (authorizations, vouchers, receipt leaves) are built in protocol/accounts.
 */
import { readFileSync } from 'node:fs';
import { Cl, ClarityType, type ClarityValue, type TupleCV } from '@stacks/transactions';
import { hexBuffer } from './args.js';
import { parseErrorConstants, type ErrorTable } from './errors.js';
import { proofCV, receiptLeafCV, type ProofStep, type ReceiptLeaf } from '../accounts/index.js';

type Int = bigint | number;

/** Contract name of the prepaid accounts. */
export const ACCOUNTS = 'accounts';

/** accounts.clar's errors (u3001-u3049), e.g. `accountsErrors.ERR_SPEND_ABOVE_CAP`. */
export const accountsErrors: ErrorTable = parseErrorConstants(
  readFileSync(new URL('../../contracts/accounts.clar', import.meta.url), 'utf8'),
);

/** Most items (accounts) and most credits (payees) one `settle-accounts` call takes. */
export const MAX_SETTLE_ITEMS = 200;

function uint(value: Int, field: string): ClarityValue {
  if (typeof value === 'number' && !Number.isSafeInteger(value))
    throw new Error(`${field} must be a whole number, got ${value}`);
  if (BigInt(value) < 0n) throw new Error(`${field} must not be negative, got ${value}`);
  return Cl.uint(value);
}

/** Arguments of `deposit`, `request-withdrawal` and `post-bond`: an amount in micro-STX. */
export function amountArgs(amount: Int): ClarityValue[] {
  return [uint(amount, 'amount')];
}

/** Arguments of `set-settler`: the settler's principal and its compressed public key (whose principal it must be). */
export function setSettlerArgs(who: string, publicKey: string): ClarityValue[] {
  return [Cl.principal(who), hexBuffer(publicKey, 33, 'publicKey (compressed key)')];
}

/** One account in a settlement: its latest signed authorization and the cumulative spend to settle it at. */
export interface SettleItem {
  account: string;
  /** The authorization's cap and nonce, as signed. */
  cumulative: Int;
  nonce: Int;
  /** The authorization's receipts root, hex. */
  receiptsRoot: string;
  /** The account's RSV signature of the authorization, hex. */
  signature: string;
  /** Cumulative spend to settle at: between the settled spend and `cumulative`. */
  spend: Int;
}

/** One payee's credit in a settlement. */
export interface Credit {
  payee: string;
  amount: Int;
}

/** Arguments of `settle-accounts`. */
export interface SettleAccounts {
  /** Merkle root of the period's receipt leaves, hex (protocol/accounts `merkleRoot`). */
  root: string;
  tasks: Int;
  items: SettleItem[];
  /** Must add up to the total the items charge. */
  credits: Credit[];
}

/** Arguments of `settle-accounts`. */
export function settleAccountsArgs(s: SettleAccounts): ClarityValue[] {
  if (s.items.length > MAX_SETTLE_ITEMS)
    throw new Error(`settle-accounts takes at most ${MAX_SETTLE_ITEMS} items, got ${s.items.length}`);
  if (s.credits.length > MAX_SETTLE_ITEMS)
    throw new Error(`settle-accounts takes at most ${MAX_SETTLE_ITEMS} credits, got ${s.credits.length}`);
  return [
    hexBuffer(s.root, 32, 'root'),
    uint(s.tasks, 'tasks'),
    Cl.list(
      s.items.map((it, i) =>
        Cl.tuple({
          account: Cl.principal(it.account),
          cumulative: uint(it.cumulative, `items[${i}].cumulative`),
          nonce: uint(it.nonce, `items[${i}].nonce`),
          'receipts-root': hexBuffer(it.receiptsRoot, 32, `items[${i}].receiptsRoot`),
          signature: hexBuffer(it.signature, 65, `items[${i}].signature`),
          spend: uint(it.spend, `items[${i}].spend`),
        }),
      ),
    ),
    Cl.list(
      s.credits.map((c, i) =>
        Cl.tuple({ payee: Cl.principal(c.payee), amount: uint(c.amount, `credits[${i}].amount`) }),
      ),
    ),
  ];
}

/** A voucher as `challenge-voucher` takes it (the market is the contract itself). */
export interface VoucherClaim {
  payee: string;
  cumulative: Int;
  settleBy: Int;
}

/** Arguments of `challenge-voucher`: the voucher and the settler's RSV signature of it. */
export function challengeVoucherArgs(v: VoucherClaim, signature: string): ClarityValue[] {
  return [
    Cl.tuple({
      payee: Cl.principal(v.payee),
      cumulative: uint(v.cumulative, 'cumulative'),
      'settle-by': uint(v.settleBy, 'settleBy'),
    }),
    hexBuffer(signature, 65, 'signature'),
  ];
}

/** Arguments of `challenge-receipt`: the period, the leaf and its proof (protocol/accounts `merkleProof`). */
export function challengeReceiptArgs(period: Int, leaf: ReceiptLeaf, proof: ProofStep[]): ClarityValue[] {
  return [uint(period, 'period'), receiptLeafCV(leaf), proofCV(proof)];
}

// ---------------------------------------------------------------------------------------------
// Decoders

function fields(cv: ClarityValue, what: string): TupleCV['value'] | null {
  if (cv.type === ClarityType.OptionalNone) return null;
  const inner = cv.type === ClarityType.OptionalSome ? cv.value : cv;
  if (inner.type !== ClarityType.Tuple) throw new Error(`${what}: expected a tuple, got ${inner.type}`);
  return inner.value;
}

function need(cv: ClarityValue, what: string): TupleCV['value'] {
  const t = fields(cv, what);
  if (!t) throw new Error(`${what}: expected a tuple, got none`);
  return t;
}

function big(t: TupleCV['value'], key: string): bigint {
  const v = t[key];
  if (v?.type !== ClarityType.UInt) throw new Error(`field "${key}": expected uint, got ${v?.type}`);
  return BigInt(v.value);
}

function text(t: TupleCV['value'], key: string): string {
  const v = t[key];
  if (
    v?.type === ClarityType.Buffer ||
    v?.type === ClarityType.PrincipalStandard ||
    v?.type === ClarityType.PrincipalContract
  )
    return v.value;
  throw new Error(`field "${key}": expected a buffer or principal, got ${v?.type}`);
}

function optionalText(t: TupleCV['value'], key: string): string | null {
  const v = t[key];
  if (v?.type === ClarityType.OptionalNone) return null;
  if (v?.type !== ClarityType.OptionalSome) throw new Error(`field "${key}": expected an optional, got ${v?.type}`);
  return text({ [key]: v.value }, key);
}

/** `get-account`: balance, settled spend and nonce, pending withdrawal (withdrawAt 0: none). */
export interface AccountState {
  balance: bigint;
  spent: bigint;
  nonce: bigint;
  withdrawAmount: bigint;
  withdrawAt: bigint;
}
export function decodeAccount(cv: ClarityValue): AccountState | null {
  const t = fields(cv, 'get-account');
  return (
    t && {
      balance: big(t, 'balance'),
      spent: big(t, 'spent'),
      nonce: big(t, 'nonce'),
      withdrawAmount: big(t, 'withdraw-amount'),
      withdrawAt: big(t, 'withdraw-at'),
    }
  );
}

/** `get-payee`: claimed + claimable = credited + penalties. */
export interface PayeeState {
  credited: bigint;
  penalties: bigint;
  claimable: bigint;
  claimed: bigint;
}
export function decodePayee(cv: ClarityValue): PayeeState | null {
  const t = fields(cv, 'get-payee');
  return (
    t && {
      credited: big(t, 'credited'),
      penalties: big(t, 'penalties'),
      claimable: big(t, 'claimable'),
      claimed: big(t, 'claimed'),
    }
  );
}

/** `get-period`: a settlement's receipts root (hex), task count, height and total charged. */
export interface PeriodState {
  root: string;
  tasks: bigint;
  settledAt: bigint;
  charged: bigint;
}
export function decodePeriod(cv: ClarityValue): PeriodState | null {
  const t = fields(cv, 'get-period');
  return (
    t && { root: text(t, 'root'), tasks: big(t, 'tasks'), settledAt: big(t, 'settled-at'), charged: big(t, 'charged') }
  );
}

/** `get-signer`: the settler, its key (hex, '' before one is set), bond, unlock height (0: none requested), challenges proven. */
export interface SignerState {
  settler: string | null;
  key: string;
  bond: bigint;
  unlockAt: bigint;
  challengesProven: bigint;
}
export function decodeSigner(cv: ClarityValue): SignerState {
  const t = need(cv, 'get-signer');
  return {
    settler: optionalText(t, 'settler'),
    key: text(t, 'key'),
    bond: big(t, 'bond'),
    unlockAt: big(t, 'unlock-at'),
    challengesProven: big(t, 'challenges-proven'),
  };
}

/** `get-config` of accounts.clar. */
export interface AccountsConfig {
  admin: string;
  disputeWindow: bigint;
  settleWindow: bigint;
  minSignerBond: bigint;
  penaltyBps: bigint;
  settler: string | null;
  settlerKey: string;
  lastPeriod: bigint;
}
export function decodeAccountsConfig(cv: ClarityValue): AccountsConfig {
  const t = need(cv, 'get-config');
  return {
    admin: text(t, 'admin'),
    disputeWindow: big(t, 'dispute-window'),
    settleWindow: big(t, 'settle-window'),
    minSignerBond: big(t, 'min-signer-bond'),
    penaltyBps: big(t, 'penalty-bps'),
    settler: optionalText(t, 'settler'),
    settlerKey: text(t, 'settler-key'),
    lastPeriod: big(t, 'last-period'),
  };
}

/** `get-totals`: `held` = (deposited - withdrawn - charged) + (credited + penalties - claimed) + (bondPosted - bondPaid - bondWithdrawn). */
export interface AccountsTotals {
  deposited: bigint;
  withdrawn: bigint;
  charged: bigint;
  credited: bigint;
  penalties: bigint;
  claimed: bigint;
  bondPosted: bigint;
  bondPaid: bigint;
  bondWithdrawn: bigint;
  held: bigint;
}
export function decodeAccountsTotals(cv: ClarityValue): AccountsTotals {
  const t = need(cv, 'get-totals');
  return {
    deposited: big(t, 'deposited'),
    withdrawn: big(t, 'withdrawn'),
    charged: big(t, 'charged'),
    credited: big(t, 'credited'),
    penalties: big(t, 'penalties'),
    claimed: big(t, 'claimed'),
    bondPosted: big(t, 'bond-posted'),
    bondPaid: big(t, 'bond-paid'),
    bondWithdrawn: big(t, 'bond-withdrawn'),
    held: big(t, 'held'),
  };
}

/** The ok value of `settle-accounts`: the new period's id and the total charged. */
export function decodeSettled(cv: ClarityValue): { period: bigint; charged: bigint } {
  if (cv.type !== ClarityType.ResponseOk) throw new Error(`settle-accounts: expected (ok ...), got ${cv.type}`);
  const t = need(cv.value, 'settle-accounts');
  return { period: big(t, 'period'), charged: big(t, 'charged') };
}
