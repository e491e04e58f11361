/**
 * `market account deposit | balance | allow | request-withdrawal | withdraw | claim | challenge-voucher |
 * challenge-receipt`: the user's (and any payee's) side of prepaid accounts (contracts/accounts.clar).
 * Every transaction is checked here first against the chain's state, so a call that would abort
 * is refused with what to do instead of paying a fee to learn it.
 */
import { readFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Pc, ClarityType, publicKeyFromSignatureRsv } from '@stacks/transactions';
import { isErrorCode } from '../../protocol/index.js';
import { chainIdOf as networkChainId } from '../../protocol/index.js';
import {
  accountsMessageHash,
  fromLeafJson,
  fromVoucherJson,
  leafHash,
  payeeVoucherCV,
  payeeVoucherJson,
  principalOfKey,
  receiptLeafJson,
  rootFromProof,
  taskRequestCV,
  verifyAccountsMessage,
  type ReceiptLeaf,
} from '../../protocol/index.js';
import { amountArgs, challengeReceiptArgs, challengeVoucherArgs } from '../../protocol/index.js';
import { dataDirOf } from '../config.js';
import { envelopePath } from '../sealed.js';
import type { Context } from '../context.js';
import { PrepaidClient } from '../prepaid.js';
import { SignerRefusal } from '../signer-client.js';

/** The chain id signatures are bound to (the devnet signs like testnet). */
export function chainIdOf(ctx: Context): number {
  return networkChainId(ctx.config.network);
}

/** A prepaid client for the wallet (the account is the wallet's address). */
export function prepaidClient(ctx: Context): PrepaidClient {
  const wallet = ctx.wallet();
  const dir = dataDirOf(ctx.config);
  return new PrepaidClient({
    signerUrl: ctx.config.signer_url,
    chainId: chainIdOf(ctx),
    market: ctx.chain.accountsContract,
    privateKey: wallet.privateKey,
    stateFile: join(dir, `${wallet.address}.authorization.json`),
    sealedInput: (inputHash) => existsSync(envelopePath(dir, inputHash)),
  });
}

/** Parses a micro-STX amount argument. */
export function ustxArg(value: string | undefined, what: string): bigint {
  if (!value || !/^\d+$/.test(value) || BigInt(value) === 0n)
    throw new Error(`${what} needs an amount in µSTX, a whole number above 0 (got "${value ?? ''}")`);
  return BigInt(value);
}

function uintResult(r: { type: ClarityType; value?: unknown }): bigint | null {
  const v = r.type === ClarityType.ResponseOk ? (r.value as { type: ClarityType; value: unknown }) : null;
  return v?.type === ClarityType.UInt ? BigInt(v.value as string) : null;
}

async function send(ctx: Context, fn: string, txid: string) {
  return ctx.chain.confirm(txid, (s) =>
    ctx.out.progress(`waiting for ${fn} ${txid.slice(0, 12)}… to be mined (${s.toFixed(0)} s)`),
  );
}

/** `market account deposit <µSTX>`: moves STX from the wallet into its account. */
export async function deposit(ctx: Context, amount: bigint): Promise<void> {
  const wallet = ctx.wallet();
  const held = await ctx.chain.stxBalance(wallet.address);
  if (held < amount)
    throw new Error(
      `the wallet ${wallet.address} holds ${held} µSTX, less than ${amount} plus the transaction fee; fund it first`,
    );
  const txid = await ctx.chain.call(wallet, ctx.chain.accountsContract, 'deposit', amountArgs(amount), [
    Pc.principal(wallet.address).willSendEq(amount).ustx(),
  ]);
  const c = await send(ctx, 'deposit', txid);
  ctx.out.done();
  const balance = uintResult(c.result);
  ctx.out.result({ account: wallet.address, deposited: amount, balance, txid }, [
    `deposited ${amount} µSTX into ${wallet.address}'s account (tx ${txid}); balance ${balance} µSTX`,
    'market submit --prepaid ... now runs tasks from it without a transaction each',
  ]);
}

/** `market account balance`: the chain's account and the signer's view of what is owed but unsettled. */
export async function balance(ctx: Context): Promise<void> {
  const wallet = ctx.wallet();
  const [acct, payee, tip] = await Promise.all([
    ctx.chain.account(wallet.address),
    ctx.chain.payee(wallet.address),
    ctx.chain.tipHeight(),
  ]);
  let view: Record<string, unknown> | null = null;
  let signerNote = '';
  try {
    view = await prepaidClient(ctx).accountView();
    if (!view) signerNote = 'the signer has no record of this account yet';
  } catch (e) {
    signerNote = `signer unavailable: ${(e as Error).message}`;
  }
  const latest = (view?.latest_authorization ?? view?.authorization ?? null) as {
    cumulative?: string;
    nonce?: string;
  } | null;
  const lines = [`account ${wallet.address} at ${ctx.chain.accountsContract}`];
  if (!acct) lines.push('on chain: no deposit yet (market account deposit <µSTX>)');
  else {
    lines.push(
      `on chain: balance ${acct.balance} µSTX, settled spend ${acct.spent} µSTX (authorization nonce ${acct.nonce})`,
    );
    if (acct.withdrawAt > 0n)
      lines.push(
        `withdrawal: ${acct.withdrawAmount} µSTX requested, ${BigInt(tip) >= acct.withdrawAt ? 'ready now: market account withdraw' : `from block ${acct.withdrawAt} (tip ${tip})`}`,
      );
  }
  if (view) {
    lines.push(
      `signer: unsettled spend ${view.unsettled ?? '?'} µSTX (owed ${view.owed ?? '?'}, reserved for running tasks ${view.reserved ?? '?'}), available ${view.available ?? '?'} µSTX`,
    );
    lines.push(`latest authorization: ${latest ? `cap ${latest.cumulative} µSTX, nonce ${latest.nonce}` : 'none'}`);
    const allowance = view.allowance as { headroom?: string } | undefined;
    if (allowance)
      lines.push(
        `API tokens bound to this account may spend ${allowance.headroom} µSTX more (market account allow <µSTX> raises it)`,
      );
    const last = view.last_settlement as { period?: unknown; txid?: unknown; at?: unknown } | null | undefined;
    if (last) lines.push(`last settlement: period ${last.period}, tx ${last.txid}`);
  } else lines.push(signerNote);
  if (payee && payee.claimable > 0n) lines.push(`as a payee: ${payee.claimable} µSTX to claim (market account claim)`);
  ctx.out.result(
    {
      account: wallet.address,
      contract: ctx.chain.accountsContract,
      tip_height: tip,
      chain: acct,
      payee,
      signer: view,
      signer_error: view ? null : signerNote,
    },
    lines,
  );
}

/**
 * `market account allow <µSTX>`: raises the allowance API tokens bound to this account spend from
 * (direct inference paid from the deposit): signs the next authorization with cap = the latest
 * cap (checked as this key's) + µSTX and no leaves, posts it, and prints the headroom left.
 */
export async function allow(ctx: Context, amount: bigint): Promise<void> {
  const client = prepaidClient(ctx);
  const r = await client.allow(amount);
  ctx.out.done();
  const allowance = (r.account.allowance ?? null) as { headroom?: string; running?: string } | null;
  const headroom = allowance?.headroom ?? '?';
  ctx.out.result(
    {
      account: client.account,
      cumulative: r.cumulative,
      nonce: r.nonce,
      headroom: allowance?.headroom ?? null,
      owed: r.account.owed ?? null,
      available: r.account.available ?? null,
    },
    [
      `signed an allowance for ${client.account}: cap ${r.cumulative} µSTX (nonce ${r.nonce}), ${amount} µSTX above the last`,
      `headroom for API tokens bound to this account: ${headroom} µSTX (cap - owed ${r.account.owed ?? '?'} - running calls ${allowance?.running ?? '?'}); deposit available ${r.account.available ?? '?'} µSTX`,
      'each call is charged the model price from the deposit; the chain never charges more than this cap',
    ],
  );
}

/** `market account request-withdrawal <µSTX>`: starts the dispute window after which `withdraw` pays. */
export async function requestWithdrawal(ctx: Context, amount: bigint): Promise<void> {
  const wallet = ctx.wallet();
  const acct = await ctx.chain.account(wallet.address);
  if (!acct || acct.balance === 0n)
    throw new Error(`${wallet.address} has no balance in ${ctx.chain.accountsContract}`);
  if (amount > acct.balance) throw new Error(`the account holds ${acct.balance} µSTX; ask for at most that`);
  const txid = await ctx.chain.call(wallet, ctx.chain.accountsContract, 'request-withdrawal', amountArgs(amount));
  const c = await send(ctx, 'request-withdrawal', txid);
  ctx.out.done();
  const at = uintResult(c.result);
  ctx.out.result({ account: wallet.address, amount, withdraw_at: at, txid }, [
    `withdrawal of ${amount} µSTX requested (tx ${txid}); market account withdraw pays it from block ${at}`,
    'meanwhile the signer takes no new requests from this account and settles what it owes; the payout is what is left of the amount after that',
  ]);
}

/** `market account withdraw`: after the window, pays the requested amount (or what is left) to the wallet. */
export async function withdraw(ctx: Context): Promise<void> {
  const wallet = ctx.wallet();
  const [acct, tip] = await Promise.all([ctx.chain.account(wallet.address), ctx.chain.tipHeight()]);
  if (!acct || acct.withdrawAt === 0n)
    throw new Error('no withdrawal was requested: market account request-withdrawal <µSTX> first');
  // The call runs in the next block, at tip + 1.
  if (BigInt(tip) + 1n < acct.withdrawAt)
    throw new Error(
      `the withdrawal can be made from block ${acct.withdrawAt}; the chain is at ${tip}: try again in ${acct.withdrawAt - BigInt(tip) - 1n} block(s)`,
    );
  const txid = await ctx.chain.call(
    wallet,
    ctx.chain.accountsContract,
    'withdraw',
    [],
    [Pc.principal(ctx.chain.accountsContract).willSendLte(acct.withdrawAmount).ustx()],
  );
  const c = await send(ctx, 'withdraw', txid);
  ctx.out.done();
  const paid = uintResult(c.result);
  ctx.out.result({ account: wallet.address, withdrawn: paid, txid }, [
    `withdrew ${paid} µSTX to ${wallet.address} (tx ${txid})`,
  ]);
}

/** `market account claim`: a payee (node, model owner, treasury) takes its credited STX. */
export async function claim(ctx: Context): Promise<void> {
  const wallet = ctx.wallet();
  const p = await ctx.chain.payee(wallet.address);
  if (!p || p.claimable === 0n)
    throw new Error(
      `${wallet.address} has nothing to claim in ${ctx.chain.accountsContract}${p ? ` (claimed ${p.claimed} µSTX so far)` : ''}`,
    );
  // Greater-or-equal: a settlement mined first only adds to what is claimable.
  const txid = await ctx.chain.call(
    wallet,
    ctx.chain.accountsContract,
    'claim',
    [],
    [Pc.principal(ctx.chain.accountsContract).willSendGte(p.claimable).ustx()],
  );
  const c = await send(ctx, 'claim', txid);
  ctx.out.done();
  const paid = uintResult(c.result);
  ctx.out.result({ payee: wallet.address, claimed: paid, txid }, [
    `claimed ${paid} µSTX to ${wallet.address} (tx ${txid})`,
  ]);
}

/**
 * `market account challenge-voucher FILE`: a voucher the signer signed and did not honour by its
 * settle-by is paid from its bond (shortfall plus penalty). Sent by the wallet, for any payee.
 */
export async function challengeVoucher(ctx: Context, file: string): Promise<void> {
  const wallet = ctx.wallet();
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read the voucher ${file}: ${(e as Error).message}`);
  }
  // The signer's answer carries public_key and credited beside the signed fields: keep the signed ones.
  const j = (json ?? {}) as Record<string, unknown>;
  const parsed = payeeVoucherJson.safeParse({
    payee: j.payee,
    market: j.market,
    cumulative: j.cumulative,
    settle_by: j.settle_by,
    signature: j.signature,
  });
  if (!parsed.success)
    throw new Error(
      `${file} is not a payee voucher: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const { voucher, signature } = fromVoucherJson(parsed.data);
  if (voucher.market !== ctx.chain.accountsContract)
    throw new Error(
      `the voucher is for ${voucher.market}, not ${ctx.chain.accountsContract} (--config / accounts_contract)`,
    );
  const [signer, config, payee, tip] = await Promise.all([
    ctx.chain.accountsSigner(),
    ctx.chain.accountsConfig(),
    ctx.chain.payee(voucher.payee),
    ctx.chain.tipHeight(),
  ]);
  if (!verifyAccountsMessage(payeeVoucherCV(voucher), chainIdOf(ctx), signature, signer.key))
    throw new Error(
      `the voucher is not signed by the settler's key ${signer.key || '(none set)'}: the contract would refuse it (ERR_INVALID_SIGNATURE)`,
    );
  const next = BigInt(tip) + 1n;
  if (next <= voucher.settleBy)
    throw new Error(
      `the signer has until block ${voucher.settleBy} to credit this voucher (chain at ${tip}); challenge after that, within ${config.disputeWindow} blocks`,
    );
  if (next > voucher.settleBy + config.disputeWindow)
    throw new Error(
      `the dispute window of this voucher closed at block ${voucher.settleBy + config.disputeWindow} (chain at ${tip}); a later voucher covers the same amount and more`,
    );
  const credited = payee?.credited ?? 0n;
  if (credited >= voucher.cumulative)
    throw new Error(
      `${voucher.payee} was credited ${credited} µSTX, at least the voucher's ${voucher.cumulative}: nothing is owed (market account claim takes the credit)`,
    );
  const txid = await ctx.chain.call(
    wallet,
    ctx.chain.accountsContract,
    'challenge-voucher',
    challengeVoucherArgs(voucher, signature),
  );
  const c = await send(ctx, 'challenge-voucher', txid);
  ctx.out.done();
  const t =
    c.result.type === ClarityType.ResponseOk && c.result.value.type === ClarityType.Tuple ? c.result.value.value : {};
  const paid = t.paid?.type === ClarityType.UInt ? BigInt(t.paid.value) : null;
  ctx.out.result({ payee: voucher.payee, shortfall: voucher.cumulative - credited, paid, txid }, [
    `voucher challenged (tx ${txid}): ${voucher.payee} was owed ${voucher.cumulative - credited} µSTX more; ${paid} µSTX from the signer's bond is now claimable by it (market account claim, as the payee)`,
  ]);
}

/** Why the contract will call a leaf fraudulent, or null when it is the account's own signed request within its max fee. */
export function leafFraud(leaf: ReceiptLeaf, market: string, chainId: number): string | null {
  if (leaf.fee > leaf.request.maxFee)
    return `it charges ${leaf.fee} µSTX, above the request's max fee ${leaf.request.maxFee}`;
  // The contract checks the signature over the request at itself, whatever market the leaf's JSON names.
  const cv = taskRequestCV({ ...leaf.request, market });
  let key: string;
  try {
    key = publicKeyFromSignatureRsv(accountsMessageHash(cv, chainId), leaf.requestSignature);
  } catch {
    return 'its request signature is not a signature';
  }
  if (
    principalOfKey(key, chainId) !== leaf.request.account ||
    !verifyAccountsMessage(cv, chainId, leaf.requestSignature, key)
  )
    return `its request is not signed by ${leaf.request.account}`;
  return null;
}

/**
 * `market account challenge-receipt --period N --task ID`: proves from the period's published
 * leaves that a charged leaf was never signed by its account (or charged above its max fee); the
 * fee plus a penalty goes to the account from the signer's bond.
 */
export async function challengeReceipt(ctx: Context, period: bigint, taskId: string): Promise<void> {
  const wallet = ctx.wallet();
  const base = ctx.config.signer_url;
  const get = async (path: string) => {
    const res = await fetch(new URL(path, base)).catch((e: Error) => {
      throw new Error(`cannot reach the signer at ${base} (${e.message})`);
    });
    const env = (await res.json().catch(() => null)) as { data?: unknown; error?: string; code?: string } | null;
    if (!res.ok)
      throw new SignerRefusal(
        `${path}: ${env?.error ?? `HTTP ${res.status}`}`,
        res.status,
        isErrorCode(env?.code) ? env.code : null,
      );
    return env!.data;
  };
  // `period` is the signer's period id; the contract numbers the confirmed ones itself (chain_period).
  const p = (await get(`/api/v1/periods/${period}/proof/${encodeURIComponent(taskId)}`)) as {
    chain_period?: number | string | null;
    leaf: unknown;
    leaf_hash: string;
    proof: { hash: string; left: boolean }[];
    root: string;
  };
  if (p.chain_period === null || p.chain_period === undefined)
    throw new Error(
      `the signer's period ${period} is not confirmed on chain yet (no chain period): nothing to challenge until it is`,
    );
  const chainPeriod = BigInt(p.chain_period);
  const leaf = fromLeafJson(receiptLeafJson.parse(p.leaf));
  const hash = leafHash(leaf);
  if (hash !== p.leaf_hash) throw new Error(`the signer's leaf hashes to ${hash}, not the ${p.leaf_hash} it says`);
  const onChain = await ctx.chain.period(chainPeriod);
  if (!onChain)
    throw new Error(
      `there is no settled period ${chainPeriod} in ${ctx.chain.accountsContract} (is the settlement confirmed? market account balance shows the last one)`,
    );
  if (rootFromProof(hash, p.proof) !== onChain.root)
    throw new Error(
      `the proof does not lead to period ${chainPeriod}'s root ${onChain.root} on chain: the signer's data for this period is wrong; keep this output as evidence`,
    );
  const why = leafFraud(leaf, ctx.chain.accountsContract, chainIdOf(ctx));
  if (!why)
    throw new Error(
      `task ${taskId}'s leaf is ${leaf.request.account}'s own signed request and charges ${leaf.fee} µSTX, within its max fee ${leaf.request.maxFee}: there is nothing to challenge (the contract would answer ERR_CHALLENGE_NOT_PROVEN)`,
    );
  const [config, tip] = await Promise.all([ctx.chain.accountsConfig(), ctx.chain.tipHeight()]);
  if (BigInt(tip) + 1n > onChain.settledAt + config.disputeWindow)
    throw new Error(
      `period ${chainPeriod}'s dispute window closed at block ${onChain.settledAt + config.disputeWindow} (chain at ${tip})`,
    );
  const txid = await ctx.chain.call(
    wallet,
    ctx.chain.accountsContract,
    'challenge-receipt',
    challengeReceiptArgs(chainPeriod, leaf, p.proof),
  );
  const c = await send(ctx, 'challenge-receipt', txid);
  ctx.out.done();
  const paid = uintResult(c.result);
  ctx.out.result({ period: chainPeriod, task_id: taskId, leaf_hash: hash, reason: why, paid, txid }, [
    `receipt challenged (tx ${txid}): ${why}; ${paid} µSTX from the signer's bond is claimable by ${leaf.request.account} (market account claim)`,
  ]);
}
