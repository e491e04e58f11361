/**
 * Shared set-up for the accounts.clar suites: account and settler keys (fresh keys funded from
 * the faucet, since an account must be the principal of the key that signs for it), signed
 * authorizations, vouchers and receipt leaves made with protocol/accounts, and one-line wrappers
 * around the contract's calls built with protocol/contracts.
 */
import { expect } from 'vitest';
import { Cl, type ClarityValue } from '@stacks/transactions';
import {
  ACCOUNTS,
  amountArgs,
  setSettlerArgs,
  settleAccountsArgs,
  challengeVoucherArgs,
  challengeReceiptArgs,
  decodeAccount,
  decodePayee,
  decodePeriod,
  decodeSigner,
  decodeAccountsConfig,
  decodeAccountsTotals,
  type SettleItem,
  type Credit,
  type AccountsTotals,
} from '../../protocol/contracts/index.js';
import {
  signAccountsMessage,
  spendAuthorizationCV,
  payeeVoucherCV,
  taskRequestCV,
  EMPTY_ROOT,
  type TaskRequest,
  type ReceiptLeaf,
  type ProofStep,
} from '../../protocol/accounts/index.js';
import { SECP256K1_HALF_N } from '../../protocol/sip018/index.js';
import { deployer, faucet, nodeKey, chainId, stx, hash, type NodeKey } from './helpers.js';

export const accountsId = `${deployer}.${ACCOUNTS}`;
/** Account holders: fresh keys, so that their principals are theirs. */
export const users: NodeKey[] = [0, 1, 2, 3].map((i) => nodeKey(`account-${i}`));
/** The settler (the market's signer) and a key that is not it. */
export const settler = nodeKey('settler');
export const stranger = nodeKey('stranger');
/** Payees: a node operator, a model owner, the treasury. */
export const payees = [
  nodeKey('payee-node').address,
  nodeKey('payee-owner').address,
  nodeKey('payee-treasury').address,
];
export const BOND = 5_000_000n;

type Args = ClarityValue[];
export const call = (fn: string, args: Args, sender: string) => simnet.callPublicFn(accountsId, fn, args, sender);
const read = (fn: string, args: Args = []) => simnet.callReadOnlyFn(accountsId, fn, args, deployer).result;

/** Funds the users (100 STX each) and the settler, names the settler and posts its bond. */
export function setUp(bond = BOND): void {
  for (const u of [...users, stranger]) simnet.transferSTX(100_000_000n, u.address, faucet);
  simnet.transferSTX(100_000_000n, settler.address, faucet);
  expect(call('set-settler', setSettlerArgs(settler.address, settler.publicKey), deployer).result).toBeOk(
    Cl.bool(true),
  );
  if (bond > 0n) expect(call('post-bond', amountArgs(bond), settler.address).result).toBeOk(Cl.uint(bond));
}

export const deposit = (u: NodeKey, amount: bigint) => call('deposit', amountArgs(amount), u.address);
export const requestWithdrawal = (u: NodeKey, amount: bigint) =>
  call('request-withdrawal', amountArgs(amount), u.address);
export const withdraw = (u: NodeKey) => call('withdraw', [], u.address);
export const claim = (who: string) => call('claim', [], who);

/** An authorization of `cumulative` at `nonce` for `user`'s account, signed by `signer` (the user unless testing a forgery). */
export function authorize(
  user: NodeKey,
  cumulative: bigint,
  nonce: bigint,
  spend = cumulative,
  signer = user,
  receiptsRoot = EMPTY_ROOT,
): SettleItem {
  const message = spendAuthorizationCV({ account: user.address, market: accountsId, cumulative, nonce, receiptsRoot });
  return {
    account: user.address,
    cumulative,
    nonce,
    receiptsRoot,
    signature: signAccountsMessage(message, chainId(), signer.privateKey),
    spend,
  };
}

/** The high-s twin of an RSV signature: valid under the same key, refused as non-canonical. */
export function highS(sig: string): string {
  const n = 2n * SECP256K1_HALF_N + 1n;
  const s = n - BigInt(`0x${sig.slice(64, 128)}`);
  return (
    sig.slice(0, 64) +
    s.toString(16).padStart(64, '0') +
    (parseInt(sig.slice(128), 16) ^ 1).toString(16).padStart(2, '0')
  );
}

export function settle(
  items: SettleItem[],
  credits: Credit[],
  opts: { root?: string; tasks?: number; sender?: string } = {},
) {
  return call(
    'settle-accounts',
    settleAccountsArgs({ root: opts.root ?? EMPTY_ROOT, tasks: opts.tasks ?? items.length, items, credits }),
    opts.sender ?? settler.address,
  );
}

/** Splits `total` among the payees: the node gets the rest after 10 % + 5 %. */
export function split(total: bigint): Credit[] {
  const owner = total / 10n;
  const treasury = total / 20n;
  return [
    { payee: payees[0], amount: total - owner - treasury },
    { payee: payees[1], amount: owner },
    { payee: payees[2], amount: treasury },
  ];
}

/** The settler's (or `signer`'s) signature of a voucher. */
export function signVoucher(payee: string, cumulative: bigint, settleBy: bigint, signer = settler): string {
  return signAccountsMessage(
    payeeVoucherCV({ payee, market: accountsId, cumulative, settleBy }),
    chainId(),
    signer.privateKey,
  );
}
export const challengeVoucher = (
  payee: string,
  cumulative: bigint,
  settleBy: bigint,
  signature: string,
  sender = stranger.address,
) => call('challenge-voucher', challengeVoucherArgs({ payee, cumulative, settleBy }, signature), sender);

/** A task request by `user`, and a receipt leaf for it signed by `signer` (the user unless testing a forgery). */
export function receipt(
  user: NodeKey,
  n: number,
  fee: bigint,
  opts: { maxFee?: bigint; signer?: NodeKey } = {},
): ReceiptLeaf {
  const request: TaskRequest = {
    account: user.address,
    market: accountsId,
    modelOutput: 1n,
    inputHash: hash(`in-${user.address}-${n}`),
    maxFee: opts.maxFee ?? fee,
    expiry: 2_000_000_000n,
    security: 1n,
    nonce: BigInt(n),
  };
  const requestSignature = signAccountsMessage(taskRequestCV(request), chainId(), (opts.signer ?? user).privateKey);
  return { request, requestSignature, node: nodeKey('payee-node').publicKey, outputHash: hash(`out-${n}`), fee };
}
export const challengeReceipt = (period: bigint, leaf: ReceiptLeaf, proof: ProofStep[], sender = stranger.address) =>
  call('challenge-receipt', challengeReceiptArgs(period, leaf, proof), sender);

export const getAccount = (who: NodeKey | string) =>
  decodeAccount(read('get-account', [Cl.principal(typeof who === 'string' ? who : who.address)]));
export const getPayee = (who: string) => decodePayee(read('get-payee', [Cl.principal(who)]));
export const getPeriod = (id: bigint) => decodePeriod(read('get-period', [Cl.uint(id)]));
export const getSigner = () => decodeSigner(read('get-signer'));
export const getConfig = () => decodeAccountsConfig(read('get-config'));
export const getTotals = () => decodeAccountsTotals(read('get-totals'));

/** The conservation law: the contract's STX balance = the totals formula = get-totals' `held`. */
export function expectHeld(): AccountsTotals {
  const t = getTotals();
  const formula =
    t.deposited -
    t.withdrawn -
    t.charged +
    (t.credited + t.penalties - t.claimed) +
    (t.bondPosted - t.bondPaid - t.bondWithdrawn);
  expect(t.held, 'held = totals formula').toBe(formula);
  expect(stx(accountsId), 'contract balance = held').toBe(t.held);
  return t;
}

/** The print events of a call, as Clarity values. */
export const printed = (r: { events: { event: string; data: { value?: unknown } }[] }) =>
  r.events.filter((e) => e.event === 'print_event').map((e) => e.data.value);
/** The height the next call runs at (simnet mines each call in a block of its own). */
export const nextHeight = () => BigInt(simnet.stacksBlockHeight + 1);
