/**
 * The SIP-018 messages of prepaid accounts (contracts/accounts.clar). An account key signs task
 * requests and cumulative spend authorizations; the signer's key signs payee vouchers and price
 * quotes. All four share one domain, never the escrow's or the signer API's, so a signature of
 * one kind is worth nothing as another: the tuples have different keys, hence different bytes.
 */
import {
  Cl,
  compressPublicKey,
  getAddressFromPublicKey,
  privateKeyToPublic,
  signStructuredData,
  type ClarityValue,
  type TupleCV,
} from '@stacks/transactions';
import { hash32, structuredDataBytes } from '../sip018/index.js';
import { domainCV, verifyStructuredSignature } from '../sip018/index.js';
import { sha256Hex } from '../hash/index.js';

/** Domain of every prepaid-account signature; `accounts.clar` hashes the same tuple. */
export const ACCOUNTS_DOMAIN = { name: 'inference-accounts', version: '1' } as const;

/** What an account key signs to ask for one inference, paid from its deposit. */
export interface TaskRequest {
  /** The account's principal (the signing key's address). */
  account: string;
  /** Contract principal of accounts.clar: a request is good at one market only. */
  market: string;
  /** Id of the live model output in model-registry. */
  modelOutput: bigint;
  /** sha256 of the input blob, hex. */
  inputHash: string;
  /** Most the account pays for this task, micro-STX. */
  maxFee: bigint;
  /** Unix seconds after which the signer must not start it. */
  expiry: bigint;
  /** Nodes that must agree: 1, 3 or 5. */
  security: bigint;
  /** Unique per account (not sequential): a request is run once. */
  nonce: bigint;
}

/** What an account key signs to let the market charge it, cumulatively, up to `cumulative`. */
export interface SpendAuthorization {
  account: string;
  market: string;
  /** Cap on the account's cumulative spend, micro-STX. */
  cumulative: bigint;
  /** Strictly increasing per account. */
  nonce: bigint;
  /** Merkle root of the receipt leaves this authorization newly pays for (32 zero bytes when none). */
  receiptsRoot: string;
}

/** The signer's promise to a payee: its credited total reaches `cumulative` by block `settleBy`. */
export interface PayeeVoucher {
  payee: string;
  market: string;
  cumulative: bigint;
  settleBy: bigint;
}

/** The signer's price for one model and account, good until `expiry` (unix seconds). */
export interface PriceQuote {
  account: string;
  market: string;
  modelOutput: bigint;
  /** micro-STX per node run; never below the model's on-chain price. */
  price: bigint;
  expiry: bigint;
}

/** The domain tuple for a chain id. */
export function accountsDomainCV(chainId: number): TupleCV {
  return domainCV(ACCOUNTS_DOMAIN, chainId);
}

/** `{account, market, model-output, input-hash, max-fee, expiry, security, nonce}` */
export function taskRequestCV(r: TaskRequest): TupleCV {
  return Cl.tuple({
    account: Cl.principal(r.account),
    market: Cl.principal(r.market),
    'model-output': Cl.uint(r.modelOutput),
    'input-hash': Cl.buffer(hash32(r.inputHash, 'inputHash')),
    'max-fee': Cl.uint(r.maxFee),
    expiry: Cl.uint(r.expiry),
    security: Cl.uint(r.security),
    nonce: Cl.uint(r.nonce),
  });
}

/** `{account, market, cumulative, nonce, receipts-root}` */
export function spendAuthorizationCV(a: SpendAuthorization): TupleCV {
  return Cl.tuple({
    account: Cl.principal(a.account),
    market: Cl.principal(a.market),
    cumulative: Cl.uint(a.cumulative),
    nonce: Cl.uint(a.nonce),
    'receipts-root': Cl.buffer(hash32(a.receiptsRoot, 'receiptsRoot')),
  });
}

/** `{payee, market, cumulative, settle-by}` */
export function payeeVoucherCV(v: PayeeVoucher): TupleCV {
  return Cl.tuple({
    payee: Cl.principal(v.payee),
    market: Cl.principal(v.market),
    cumulative: Cl.uint(v.cumulative),
    'settle-by': Cl.uint(v.settleBy),
  });
}

/** `{account, market, model-output, price, expiry}` */
export function priceQuoteCV(q: PriceQuote): TupleCV {
  return Cl.tuple({
    account: Cl.principal(q.account),
    market: Cl.principal(q.market),
    'model-output': Cl.uint(q.modelOutput),
    price: Cl.uint(q.price),
    expiry: Cl.uint(q.expiry),
  });
}

/** The SIP-018 bytes of an accounts message (`"SIP018" ‖ domain hash ‖ message hash`); their sha256 is signed. */
export function encodeAccountsMessage(message: ClarityValue, chainId: number): Buffer {
  return structuredDataBytes(ACCOUNTS_DOMAIN, chainId, () => accountsDomainCV(chainId), message);
}

/** The 32 bytes that are signed, hex: what `accounts.clar` recomputes. */
export function accountsMessageHash(message: ClarityValue, chainId: number): string {
  return sha256Hex(encodeAccountsMessage(message, chainId));
}

/** Signs an accounts message with stacks.js `signStructuredData` (RFC 6979, low s); RSV hex. */
export function signAccountsMessage(message: ClarityValue, chainId: number, privateKey: string): string {
  return signStructuredData({ message, domain: accountsDomainCV(chainId), privateKey });
}

/** True when `signature` is a canonical signature of `message` by `publicKey` (compressed hex). */
export function verifyAccountsMessage(
  message: ClarityValue,
  chainId: number,
  signature: string,
  publicKey: string,
): boolean {
  return verifyStructuredSignature(message, accountsDomainCV(chainId), signature, publicKey.toLowerCase());
}

/** The compressed public key (hex) of a private key. */
export function publicKeyOf(privateKey: string): string {
  return compressPublicKey(privateKeyToPublic(privateKey));
}

/** The principal of a compressed public key on a chain (testnet addresses unless chainId is mainnet's 1). */
export function principalOfKey(publicKey: string, chainId: number): string {
  return getAddressFromPublicKey(publicKey, chainId === 1 ? 'mainnet' : 'testnet');
}
