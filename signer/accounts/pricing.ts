/**
 * Prices of prepaid requests and the signed quotes that fix them (seed 003: volume tiers and a
 * demand-based quote). The price of a model for an account is
 *   max(on-chain price, on-chain price x (1 + demand surcharge) x (1 - tier discount)),
 * so it is never below the model's on-chain price. Demand is the depth of the pending queue;
 * the tier is the account's paid volume in the last `tier_window_days`. A quote is the signer's
 * SIP-018 signature of {account, market, model-output, price, expiry}: a request that carries a
 * valid one is charged its price x security, whatever demand does meanwhile.
 */
import {
  encodeAccountsMessage,
  priceQuoteCV,
  principalOfKey,
  publicKeyOf,
  signAccountsMessage,
  type PriceQuote,
} from '../../protocol/index.js';
import { verifyEncodedFast } from '../auth/index.js';
import type { SignerConfig } from '../config/index.js';
import { prepared, type SignerDatabase } from '../db/index.js';

type AccountsSection = SignerConfig['accounts'];
const BPS = 10_000n;

/** The discount (bps) of the highest tier `volume` reaches; 0 below the first. */
export function tierDiscountBps(tiers: AccountsSection['tiers'], volume: bigint): number {
  let best = 0;
  let reached = -1n;
  for (const t of tiers)
    if (volume >= BigInt(t.volume_ustx) && BigInt(t.volume_ustx) >= reached)
      [best, reached] = [t.discount_bps, BigInt(t.volume_ustx)];
  return best;
}

/** The demand surcharge (bps) for `pending` queued tasks. */
export function demandBps(
  cfg: Pick<AccountsSection, 'demand_queue_start' | 'demand_queue_step' | 'demand_step_bps' | 'demand_max_bps'>,
  pending: number,
): number {
  if (pending <= cfg.demand_queue_start) return 0;
  const steps = Math.ceil((pending - cfg.demand_queue_start) / cfg.demand_queue_step);
  return Math.min(cfg.demand_max_bps, steps * cfg.demand_step_bps);
}

/** max(base, base x (1 + surcharge) x (1 - discount)), rounded down. */
export function priceOf(base: bigint, surchargeBps: number, discountBps: number): bigint {
  const p = (base * (BPS + BigInt(surchargeBps)) * (BPS - BigInt(discountBps))) / (BPS * BPS);
  return p > base ? p : base;
}

/** Prices, quotes and their checks for one signer. */
export class Pricing {
  readonly #quotes = new Map<string, boolean>();
  #pending: { at: number; n: number } | null = null;
  /** Compressed public key quotes are signed with (null: no chain.private_key, no quotes). */
  readonly publicKey: string | null;

  constructor(
    private readonly store: SignerDatabase,
    private readonly cfg: AccountsSection,
    private readonly chainId: number,
    readonly market: string,
    private readonly privateKey: string | null,
  ) {
    this.publicKey = privateKey ? publicKeyOf(privateKey) : null;
  }

  /** The principal that signs quotes (the settler), or null. */
  get signer(): string | null {
    return this.publicKey && principalOfKey(this.publicKey, this.chainId);
  }

  /** Tasks pending now (read at most once a second: demand moves slower than requests arrive). */
  pendingTasks(now = Date.now()): number {
    if (this.#pending && now - this.#pending.at < 1_000) return this.#pending.n;
    const n = (
      prepared(this.store.sqlite, "select count(*) as n from inference_tasks where status = 'pending'").get() as {
        n: number;
      }
    ).n;
    this.#pending = { at: now, n };
    return n;
  }

  /** Fees the account paid for (revealed results) in the last `tier_window_days`. */
  paidVolume(account: string, now = Date.now()): bigint {
    const since = now - this.cfg.tier_window_days * 86_400_000;
    const row = prepared(
      this.store.sqlite,
      "select coalesce(sum(cast(fee as integer)), 0) as v from prepaid_receipts where status in ('paid', 'settled') and account = ? and paid_at >= ?",
    ).get(account, since) as { v: number | bigint };
    return BigInt(row.v);
  }

  /** The price of one run of a model priced `base` on chain, for `account`, now. */
  price(account: string, base: bigint, now = Date.now()): bigint {
    return priceOf(
      base,
      demandBps(this.cfg, this.pendingTasks(now)),
      tierDiscountBps(this.cfg.tiers, this.paidVolume(account, now)),
    );
  }

  /** A signed quote of `price` for account and model output, good for `quote_ttl_s`; null when the signer has no key. */
  quote(
    account: string,
    modelOutput: bigint,
    price: bigint,
    now = Date.now(),
  ): { quote: PriceQuote; signature: string } | null {
    if (!this.privateKey) return null;
    const quote: PriceQuote = {
      account,
      market: this.market,
      modelOutput,
      price,
      expiry: BigInt(Math.floor(now / 1000) + this.cfg.quote_ttl_s),
    };
    return { quote, signature: signAccountsMessage(priceQuoteCV(quote), this.chainId, this.privateKey) };
  }

  /**
   * Null when `quote` is this signer's signature, for this account and model output, not expired;
   * otherwise what is wrong with it. Checked signatures are remembered: a client sends one quote
   * with many requests.
   */
  quoteProblem(quote: PriceQuote, signature: string, nowSeconds: number): string | null {
    if (!this.publicKey) return 'this signer signs no quotes (no chain.private_key)';
    if (quote.expiry <= BigInt(nowSeconds))
      return `the quote expired at ${quote.expiry} (now ${nowSeconds}); GET /api/v1/quote for a new one`;
    const key = `${signature}:${quote.account}:${quote.modelOutput}:${quote.price}:${quote.expiry}`;
    let ok = this.#quotes.get(key);
    if (ok === undefined) {
      ok = verifyEncodedFast(encodeAccountsMessage(priceQuoteCV(quote), this.chainId), signature, this.publicKey);
      if (this.#quotes.size > 10_000) this.#quotes.clear();
      this.#quotes.set(key, ok);
    }
    return ok
      ? null
      : `the quote's signature is not this signer's (key ${this.publicKey}) over {account ${quote.account}, market ${quote.market}, model-output ${quote.modelOutput}, price ${quote.price}, expiry ${quote.expiry}}`;
  }
}
