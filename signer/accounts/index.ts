/**
 * Prepaid accounts on the signer (issue 13, DESIGN.md §6b): signed task requests paid from a
 * deposit in accounts.clar, run as `source = 'prepaid'` tasks by the same scheduler, nodes and
 * state machine as chain tasks, revealed only once the account signed an authorization covering
 * them (pay, then reveal), and settled per period (periods*.ts). `PrepaidAccounts` is the service
 * the routes use; it exists when accounts are enabled and the signer has a chain.
 */
import type { Logger } from 'pino';
import type { EventEmitter } from 'node:events';
import type { TaskStatus } from '../../protocol/index.js';
import { accountsContractOf, type SignerConfig } from '../config/index.js';
import type { Chain } from '../chain/index.js';
import type { SignerDatabase } from '../db/index.js';
import type { SignatureVerifier } from '../auth/index.js';
import { PolicyGuard } from '../guard/index.js';
import type { Notifier } from '../tasks/index.js';
import { DIRECT_TASK_ID_BASE } from '../tasks/index.js';
import { ChainView } from './chain-view.js';
import { accountRow, mirrorChainState, availableOf, type AccountRow } from './ledger.js';
import { Pricing } from './pricing.js';
import { expireRequests, markDue, markFailed, reconcile } from './receipts.js';
import { admit, type ItemOutcome } from './intake.js';

export { ChainView, type EscrowTerms, type LiveOutput } from './chain-view.js';
export { accountRow, availableOf, unsettledOf, mirrorChainState, addReserved, type AccountRow } from './ledger.js';
export { Pricing, priceOf, demandBps, tierDiscountBps } from './pricing.js';
export {
  receiptOf,
  leafJsonOf,
  sharesOf,
  markDue,
  markFailed,
  reconcile,
  expireRequests,
  type ReceiptRow,
  type PrepaidContext,
  type Share,
} from './receipts.js';
export { pay, dueView, dueReceipts, MAX_DUE, type PaymentContext } from './payments.js';
export { admit, requestItem, type ItemOutcome, type RequestItem } from './intake.js';
export { readSettler, readPayee } from './chain-state.js';
export { recentPeriods, listPeriods, periodDetail, periodProof } from './proofs.js';
export { allowanceView, METERED, priceMetered, reserveMetered } from './metered.js';
export { issueVoucher, payeeBooks } from './vouchers.js';
export { accountsTick } from './settler.js';

/** What the service needs of the signer's shared services. */
export interface PrepaidDeps {
  store: SignerDatabase;
  config: SignerConfig;
  log: Logger;
  chainId: number;
  verifier: SignatureVerifier;
  pending: Notifier;
  attempts: EventEmitter<{ ended: [taskId: string, status: TaskStatus] }>;
}

/** The signer's prepaid accounts: intake, receipts, payments, quotes. */
export class PrepaidAccounts {
  /** Contract principal of accounts.clar: the `market` every request and authorization names. */
  readonly market: string;
  readonly view: ChainView;
  readonly pricing: Pricing;
  readonly store: SignerDatabase;
  readonly chainId: number;
  readonly cfg: SignerConfig['accounts'];
  readonly maxInferTimeMs: number;
  /** The policy guard of request inputs (the same `[guard]` as the signer's). */
  readonly guard: PolicyGuard;
  readonly #deps: PrepaidDeps;
  readonly #reads = new Map<string, Promise<AccountRow | undefined>>();

  constructor(deps: PrepaidDeps, chain: Chain) {
    this.#deps = deps;
    this.store = deps.store;
    this.chainId = deps.chainId;
    this.cfg = deps.config.accounts;
    this.maxInferTimeMs = deps.config.scheduler.max_infer_time_ms;
    this.guard = new PolicyGuard(deps.config.guard);
    this.market = accountsContractOf(deps.config);
    this.view = new ChainView(chain, this.market.split('.')[1]!, deps.config.models.catalog_cache_ms);
    this.pricing = new Pricing(deps.store, this.cfg, deps.chainId, this.market, deps.config.chain.private_key ?? null);
    // A prepaid task's result (or failure) turns its receipt due (or failed) as soon as it is recorded.
    deps.attempts.on('ended', (taskId, status) => {
      // Receipts belong to prepaid (>= 2^101) and direct (>= 2^100, metered) tasks only: an escrow
      // task's id is far below, so its completion costs no lookup here.
      if (BigInt(taskId) < DIRECT_TASK_ID_BASE || !deps.store.sqlite.open) return;
      try {
        if (status === 'completed') markDue(deps.store, deps.chainId, taskId);
        else if (status === 'failed' || status === 'timeout') markFailed(deps.store, taskId);
      } catch (err) {
        deps.log.error({ err, task_id: taskId }, 'prepaid receipt update failed; the prepaid loop retries it');
      }
    });
  }

  /** Checks a canonical signature over SIP-018 bytes on the verifier's threads. */
  verify(encoded: Uint8Array, signature: string, publicKey: string): Promise<boolean> {
    return this.#deps.verifier.encoded(encoded, signature, publicKey);
  }

  /** Checks many canonical signatures over SIP-018 bytes (`digest`: their sha256, when known) at once, one answer each. */
  verifyMany(
    checks: readonly { encoded: Uint8Array; digest?: Uint8Array; signature: string; publicKey: string }[],
  ): Promise<boolean[]> {
    return this.#deps.verifier.encodedMany(checks);
  }

  /** Wakes nodes waiting for work. */
  notify(): void {
    this.#deps.pending.notify();
  }

  /** Judges and records a batch of signed requests. */
  admit(items: unknown[], now = Date.now()): Promise<ItemOutcome[]> {
    return admit(this, items, now);
  }

  /**
   * The account's row with chain state no older than `accounts.account_cache_ms`, read again at
   * once when it cannot cover `need` more (a deposit may have landed). Concurrent reads of one
   * account share one call.
   */
  freshAccount(
    account: string,
    publicKey: string | null,
    need = 0n,
    now = Date.now(),
  ): Promise<AccountRow | undefined> {
    const row = accountRow(this.store, account);
    const fresh = row?.read_at != null && now - row.read_at < this.cfg.account_cache_ms;
    if (row && fresh && availableOf(row) >= need) return Promise.resolve(row);
    let read = this.#reads.get(account);
    if (!read) {
      read = this.view
        .account(account)
        .then((state) => mirrorChainState(this.store, account, row ? null : publicKey, state))
        .finally(() => this.#reads.delete(account));
      this.#reads.set(account, read);
    }
    return read;
  }

  /** One pass of the prepaid loop: receipts of ended tasks, then requests that expired unrun. */
  tick(now = Date.now()): { due: string[]; failed: string[]; expired: string[] } {
    const r = reconcile(this.store, this.chainId, now);
    const expired = expireRequests(this.store, now);
    if (r.due.length || r.failed.length || expired.length)
      this.#deps.log.info({ due: r.due.length, failed: r.failed.length, expired: expired.length }, 'prepaid receipts');
    return { ...r, expired };
  }
}
