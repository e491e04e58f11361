/**
 * What prepaid admission and receipts read from the chain: model outputs by id (price, owner,
 * precision, artifact), the escrow's fee terms (shares, treasury, sampling) and accounts of
 * accounts.clar. Reads go through the signer's `Chain` (read-only calls), outputs and terms are
 * cached for `models.catalog_cache_ms`; account reads are cached by the ledger, which knows when a
 * stale balance matters. A chain that cannot be read is a 503 naming the call.
 */
import { Cl, ClarityType, type ClarityValue } from '@stacks/transactions';
import { INFERENCE_ESCROW, MODEL_REGISTRY, decodeModelOutput, type ModelOutput } from '../../protocol/index.js';
import { decodeAccount, type AccountState } from '../../protocol/index.js';
import type { Chain } from '../chain/index.js';
import { readOnly } from '../catalog/index.js';

/** The escrow's current fee terms, which prepaid receipts split by. */
export interface EscrowTerms {
  ownerBps: bigint;
  treasuryBps: bigint;
  treasury: string;
  /** Share of level-1 tasks re-run on a second node (basis points). */
  sampleBps: number;
}

/** A live model output (not spent), as a prepaid request names it. */
export type LiveOutput = ModelOutput & { outputId: bigint };

function field(cv: ClarityValue, key: string): ClarityValue {
  const v = cv.type === ClarityType.Tuple ? cv.value[key] : undefined;
  if (!v) throw new Error(`escrow get-config has no field "${key}"`);
  return v;
}

function uint(cv: ClarityValue, key: string): bigint {
  const v = field(cv, key);
  if (v.type !== ClarityType.UInt) throw new Error(`escrow get-config: "${key}" is not a uint`);
  return BigInt(v.value);
}

/** Cached read-only views of the registry, the escrow and the accounts contract. */
export class ChainView {
  readonly #outputs = new Map<string, { at: number; value: Promise<LiveOutput | null> }>();
  #terms: { at: number; value: Promise<EscrowTerms> } | null = null;

  constructor(
    readonly chain: Chain,
    /** Contract name of accounts.clar (deployed beside the escrow). */
    readonly accountsName: string,
    readonly cacheMs: number,
  ) {}

  /** The output `id` when it is live (not spent by an upgrade or retired), else null. */
  output(id: bigint): Promise<LiveOutput | null> {
    const key = id.toString();
    const hit = this.#outputs.get(key);
    if (hit && Date.now() - hit.at < this.cacheMs) return hit.value;
    const value = readOnly(this.chain, MODEL_REGISTRY, 'get-output', [Cl.uint(id)]).then((cv) => {
      const out = decodeModelOutput(cv);
      return out && !out.spent ? { ...out, outputId: id } : null;
    });
    const entry = { at: Date.now(), value };
    if (this.#outputs.size > 10_000) this.#outputs.clear();
    this.#outputs.set(key, entry);
    value.catch(() => this.#outputs.get(key) === entry && this.#outputs.delete(key));
    return value;
  }

  /** The escrow's owner and treasury bps, treasury principal and sampling rate (get-config). */
  terms(): Promise<EscrowTerms> {
    if (this.#terms && Date.now() - this.#terms.at < this.cacheMs) return this.#terms.value;
    const value = readOnly(this.chain, INFERENCE_ESCROW, 'get-config', []).then((cv) => {
      const treasury = field(cv, 'treasury');
      if (treasury.type !== ClarityType.PrincipalStandard && treasury.type !== ClarityType.PrincipalContract)
        throw new Error('escrow get-config: treasury is not a principal');
      return {
        ownerBps: uint(cv, 'owner-bps'),
        treasuryBps: uint(cv, 'treasury-bps'),
        treasury: treasury.value,
        sampleBps: Number(uint(cv, 'sample-bps')),
      };
    });
    const entry = { at: Date.now(), value };
    this.#terms = entry;
    value.catch(() => this.#terms === entry && (this.#terms = null));
    return value;
  }

  /** An account of accounts.clar as the chain has it now; null when it never deposited. */
  async account(principal: string): Promise<AccountState | null> {
    return decodeAccount(await readOnly(this.chain, this.accountsName, 'get-account', [Cl.principal(principal)]));
  }

  readonly #publicReads = new Map<string, { at: number; value: Promise<AccountState | null> }>();

  /**
   * `account` for the public view of accounts this signer does not track: one chain read per
   * account per `maxAgeMs`, so anyone asking about many addresses cannot turn each request into
   * a chain read.
   */
  publicAccount(principal: string, maxAgeMs: number, now = Date.now()): Promise<AccountState | null> {
    const hit = this.#publicReads.get(principal);
    if (hit && now - hit.at < maxAgeMs) return hit.value;
    if (this.#publicReads.size >= 10_000) this.#publicReads.clear();
    const entry = { at: now, value: this.account(principal) };
    this.#publicReads.set(principal, entry);
    entry.value.catch(() => this.#publicReads.get(principal) === entry && this.#publicReads.delete(principal));
    return entry.value;
  }
}
