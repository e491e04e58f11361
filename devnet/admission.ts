/**
 * Mempool admission: decodes a serialized transaction with @stacks/transactions and runs the
 * checks a Stacks node runs before accepting it. State-dependent checks (nonce, balance) take the
 * account view from the caller. Rejections use the node's JSON shape.
 */
import {
  type StacksTransactionWire,
  type PostCondition,
  AddressHashMode,
  AddressVersion,
  AuthType,
  PayloadType,
  PostConditionMode,
  addressFromVersionHash,
  addressToString,
  cvToString,
  deserializeTransaction,
  wireToPostCondition,
} from '@stacks/transactions';
import { ChainId, TransactionVersion } from '@stacks/network';
import type { Action, ContractAbi } from './vm.js';
import { checkValue } from './clarity-check.js';

/** The node's rejection body (`TxBroadcastResultRejected` in stacks.js). */
export interface Rejection {
  error: 'transaction rejected';
  reason: string;
  reason_data?: Record<string, unknown>;
  txid: string;
}

/** A transaction that decoded and passed the stateless checks. */
export interface DecodedTx {
  txid: string;
  raw: Uint8Array;
  tx: StacksTransactionWire;
  origin: string;
  nonce: bigint;
  fee: bigint;
  action: Action;
  postConditions: PostCondition[];
  postConditionMode: 'allow' | 'deny';
}

/** Minimum relay fee, as on the node: 1 micro-STX per byte of the serialized transaction. */
export const MIN_FEE_RATE = 1n;

export class RejectedError extends Error {
  constructor(readonly body: Rejection) {
    super(`${body.reason}: ${JSON.stringify(body.reason_data ?? {})}`);
  }
}

/** Throws a `RejectedError` with the node's body. */
export function reject(txid: string, reason: string, reason_data?: Record<string, unknown>): never {
  throw new RejectedError({ error: 'transaction rejected', reason, ...(reason_data ? { reason_data } : {}), txid });
}

function originAddress(tx: StacksTransactionWire): string {
  const sc = tx.auth.spendingCondition;
  const single = sc.hashMode === AddressHashMode.P2PKH || sc.hashMode === AddressHashMode.P2WPKH;
  const version = single ? AddressVersion.TestnetSingleSig : AddressVersion.TestnetMultiSig;
  return addressToString(addressFromVersionHash(version, sc.signer));
}

/**
 * Decodes and checks what needs no chain state: encoding, network, fee floor, payload kind. The
 * origin signature is checked apart (`Verifier`, then `checkSignature`): it is the costly part.
 */
export function decode(raw: Uint8Array, chainId: number = ChainId.Testnet): DecodedTx {
  let tx: StacksTransactionWire;
  try {
    tx = deserializeTransaction(raw);
  } catch (err) {
    reject('', 'Deserialization', { message: `not a serialized Stacks transaction: ${(err as Error).message}` });
  }
  const txid = tx.txid();
  if (tx.transactionVersion !== TransactionVersion.Testnet)
    reject(txid, 'BadTransactionVersion', {
      message: `transaction version 0x${tx.transactionVersion.toString(16)} is mainnet; this devnet is a testnet (0x80): sign with network "testnet"`,
    });
  if (tx.chainId !== chainId)
    reject(txid, 'BadTransactionVersion', {
      message: `chain id 0x${tx.chainId.toString(16)} does not match this network's 0x${chainId.toString(16)}`,
    });
  if (tx.auth.authType !== AuthType.Standard)
    reject(txid, 'ServerFailureOther', { message: 'sponsored transactions are not supported by the devnet' });
  const fee = tx.auth.spendingCondition.fee;
  const minFee = BigInt(raw.length) * MIN_FEE_RATE;
  if (fee < minFee) reject(txid, 'FeeTooLow', { expected: Number(minFee), actual: Number(fee) });
  const origin = originAddress(tx);
  return {
    txid,
    raw,
    tx,
    origin,
    nonce: tx.auth.spendingCondition.nonce,
    fee,
    action: toAction(tx, txid, origin),
    postConditions: postConditionsOf(tx, origin),
    postConditionMode: tx.postConditionMode === PostConditionMode.Allow ? 'allow' : 'deny',
  };
}

/** The transaction's post-conditions, with the `origin` placeholder replaced by the origin's address. */
export function postConditionsOf(tx: StacksTransactionWire, origin: string): PostCondition[] {
  return tx.postConditions.values.map((pc) => {
    const p = wireToPostCondition(pc as never);
    return p.address === 'origin' ? { ...p, address: origin } : p;
  });
}

function toAction(tx: StacksTransactionWire, txid: string, origin: string): Action {
  const p = tx.payload;
  switch (p.payloadType) {
    case PayloadType.ContractCall:
      return {
        kind: 'call',
        contract: `${addressToString(p.contractAddress)}.${p.contractName.content}`,
        fn: p.functionName.content,
        args: p.functionArgs,
      };
    case PayloadType.TokenTransfer:
      return { kind: 'transfer', recipient: cvToString(p.recipient), amount: p.amount };
    case PayloadType.SmartContract:
    case PayloadType.VersionedSmartContract:
      return {
        kind: 'deploy',
        name: `${origin}.${p.contractName.content}`,
        code: p.codeBody.content,
        clarityVersion: p.payloadType === PayloadType.VersionedSmartContract ? p.clarityVersion : 3,
      };
    default:
      return reject(txid, 'ServerFailureOther', {
        message: `payload type ${p.payloadType} is not accepted through the mempool`,
      });
  }
}

/** Rejects when the signature check (`Verifier.verify`) found a problem. */
export function checkSignature(d: DecodedTx, error: string | null): void {
  if (error) reject(d.txid, 'SignatureValidation', { message: `origin signature does not verify: ${error}` });
}

/** STX the transaction can spend for sure: fee plus transfer amount. */
export function minimumSpend(d: DecodedTx): bigint {
  return d.fee + (d.action.kind === 'transfer' ? d.action.amount : 0n);
}

/** Checks a contract call against the ABI (function exists, is public, arguments typed right); deploys against name clashes. */
export function checkAgainstAbi(d: DecodedTx, abiOf: (id: string) => ContractAbi | undefined): void {
  const a = d.action;
  if (a.kind === 'deploy') {
    if (abiOf(a.name)) reject(d.txid, 'ContractAlreadyExists', { contract_identifier: a.name });
    return;
  }
  if (a.kind !== 'call') return;
  const abi = abiOf(a.contract);
  if (!abi) reject(d.txid, 'NoSuchContract', { message: `no contract ${a.contract} on this chain` });
  const fn = abi.functions.find((f) => f.name === a.fn);
  if (fn?.access !== 'public') {
    const pub = abi.functions.filter((f) => f.access === 'public').map((f) => f.name);
    reject(d.txid, 'NoSuchPublicFunction', {
      message: `${a.contract} has no public function ${a.fn}; public functions: ${pub.join(', ')}`,
    });
  }
  if (a.args.length !== fn.args.length)
    reject(d.txid, 'BadFunctionArgument', {
      message: `${a.fn} takes ${fn.args.length} arguments (${fn.args.map((x) => x.name).join(', ')}), got ${a.args.length}`,
    });
  for (let i = 0; i < fn.args.length; i++) {
    const err = checkValue(a.args[i], fn.args[i].type, fn.args[i].name);
    if (err) reject(d.txid, 'BadFunctionArgument', { message: `argument ${err}` });
  }
}

/** Nonce check: below the account's next nonce is a replay. */
export function checkNonce(d: DecodedTx, expected: bigint): void {
  if (d.nonce < expected)
    reject(d.txid, 'BadNonce', {
      expected: Number(expected),
      actual: Number(d.nonce),
      is_origin: true,
      principal: d.origin,
    });
}

/** Balance check: the account must hold the fee (plus the amount, for a transfer) beyond what its pending transactions spend. */
export function checkFunds(d: DecodedTx, available: bigint): void {
  const need = minimumSpend(d);
  if (available < need)
    reject(d.txid, 'NotEnoughFunds', {
      expected: `0x${need.toString(16)}`,
      actual: `0x${(available < 0n ? 0n : available).toString(16)}`,
    });
}
