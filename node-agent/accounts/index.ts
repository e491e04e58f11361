/**
 * The node's side of prepaid accounts (contracts/accounts.clar): the signer pays nodes for
 * prepaid tasks by crediting the node key's principal in each settlement, and in between signs a
 * voucher "this payee is owed a cumulative C, credited by block settle-by". The agent fetches
 * that voucher, checks it is signed by the settler key the contract holds (a voucher signed by
 * any other key is worth nothing on chain), keeps the latest beside its key, and challenges the
 * signer's bond with it if settle-by passes without the credit. `claim` takes the credited STX.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Cl, ClarityType, Pc } from '@stacks/transactions';
import type { Logger } from 'pino';
import {
  fromVoucherJson,
  payeeVoucherCV,
  payeeVoucherJson,
  verifyAccountsMessage,
  type PayeeVoucher,
  type PayeeVoucherJson,
} from '../../protocol/index.js';
import {
  ACCOUNTS,
  challengeVoucherArgs,
  decodeAccountsConfig,
  decodePayee,
  decodeSigner,
  type AccountsConfig,
  type PayeeState,
  type SignerState,
} from '../../protocol/index.js';
import { chainIdOf, expandHome, type AgentConfig } from '../config/index.js';
import { BondClient, BondError, type Mined } from '../chain/index.js';
import type { NodeKey } from '../keys/index.js';

/** A voucher that must not be kept or sent: wrong payee, wrong market, or not the settler's signature. */
export class VoucherError extends BondError {
  override name = 'VoucherError';
}

/** Where the agent keeps the latest checked voucher: beside its key. */
export function voucherFileOf(config: AgentConfig): string {
  return join(dirname(expandHome(config.agent.key_file)), 'voucher.json');
}

/** The accounts contract principal: configured, else `accounts` beside the escrow. */
export function accountsContractOf(config: AgentConfig): string {
  return config.chain.accounts_contract || `${config.chain.escrow_contract.split('.')[0]}.${ACCOUNTS}`;
}

/** A checked voucher: its fields, the settler's signature, and the JSON to save or send. */
export interface CheckedVoucher {
  voucher: PayeeVoucher;
  signature: string;
  json: PayeeVoucherJson;
}

/** The node key's account with the settler: reads, claims, and vouchers. */
export class PayeeClient {
  readonly contract: string;
  readonly chainId: number;
  private readonly chain: BondClient;

  constructor(
    readonly config: AgentConfig,
    readonly key: Pick<NodeKey, 'privateKey' | 'publicKey' | 'address'>,
  ) {
    this.chain = new BondClient(config.chain, config.agent.network, key);
    this.contract = accountsContractOf(config);
    this.chainId = chainIdOf(config.agent.network);
  }

  /** The settler, its key, bond and bond unlock height (0: not unbonding). */
  async signer(): Promise<SignerState> {
    return decodeSigner(await this.chain.readContract(this.contract, 'get-signer', []));
  }

  async accountsConfig(): Promise<AccountsConfig> {
    return decodeAccountsConfig(await this.chain.readContract(this.contract, 'get-config', []));
  }

  /** This key's credits (null: never credited). */
  async payee(): Promise<PayeeState | null> {
    return decodePayee(await this.chain.readContract(this.contract, 'get-payee', [Cl.principal(this.key.address)]));
  }

  tipHeight(): Promise<number> {
    return this.chain.tipHeight();
  }

  /** Withdraws everything claimable to the node address. */
  async claim(): Promise<{ amount: bigint; txid: string }> {
    const p = await this.payee();
    if (!p || p.claimable === 0n)
      throw new BondError(
        `${this.key.address} has nothing to claim in ${this.contract}${p ? ` (claimed ${p.claimed} micro-STX so far)` : ' (never credited)'}`,
      );
    // At least the amount read: a settlement mined first only adds to it.
    const { txid, result } = await this.chain.callContract(
      this.contract,
      'claim',
      [],
      [Pc.principal(this.contract).willSendGte(p.claimable).ustx()],
    );
    const amount =
      result.type === ClarityType.ResponseOk && result.value.type === ClarityType.UInt
        ? BigInt(result.value.value)
        : p.claimable;
    return { amount, txid };
  }

  /**
   * Checks a voucher from the signer: for this key's principal, at this contract, signed by the
   * settler key the contract holds (get-signer). Throws VoucherError saying which check failed.
   */
  check(json: unknown, settlerKey: string): CheckedVoucher {
    const j = (json ?? {}) as Record<string, unknown>;
    // The signer's answer carries public_key and credited beside the signed fields: keep the signed ones.
    const parsed = payeeVoucherJson.safeParse({
      payee: j.payee,
      market: j.market,
      cumulative: j.cumulative,
      settle_by: j.settle_by,
      signature: j.signature,
    });
    if (!parsed.success)
      throw new VoucherError(
        `the signer's voucher is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    const { voucher, signature } = fromVoucherJson(parsed.data);
    if (voucher.payee !== this.key.address)
      throw new VoucherError(`the voucher is for ${voucher.payee}, not this node's ${this.key.address}`);
    if (voucher.market !== this.contract)
      throw new VoucherError(`the voucher is for ${voucher.market}, not ${this.contract} (chain.accounts_contract)`);
    if (!settlerKey)
      throw new VoucherError(`${this.contract} has no settler key yet (get-signer): no voucher can be honoured`);
    if (!verifyAccountsMessage(payeeVoucherCV(voucher), this.chainId, signature, settlerKey)) {
      throw new VoucherError(
        `the voucher for ${voucher.cumulative} micro-STX is not signed by the settler key ${settlerKey} that ${this.contract} holds: the contract would refuse it, so it guarantees nothing`,
      );
    }
    return { voucher, signature, json: parsed.data };
  }

  /** GET /api/v1/payees/{address}/voucher from the signer, checked against the chain's settler key. */
  async fetchVoucher(signerUrl: string): Promise<CheckedVoucher> {
    const url = new URL(`/api/v1/payees/${this.key.address}/voucher`, signerUrl);
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new BondError(`cannot reach the signer at ${signerUrl} (${(e as Error).cause ?? (e as Error).message})`);
    }
    const env = (await res.json().catch(() => null)) as { data?: unknown; error?: string; code?: string } | null;
    if (!res.ok)
      throw new BondError(
        `the signer refused the voucher (${env?.code ?? res.status}): ${env?.error ?? `HTTP ${res.status}`}`,
      );
    return this.check(env?.data, (await this.signer()).key);
  }

  /** Sends a voucher to `challenge-voucher` (after its settle-by, within the dispute window). */
  async challenge(v: CheckedVoucher): Promise<Mined & { paid: bigint | null }> {
    const [config, tip, payee] = await Promise.all([this.accountsConfig(), this.tipHeight(), this.payee()]);
    const next = BigInt(tip) + 1n;
    if (next <= v.voucher.settleBy)
      throw new BondError(
        `the signer has until block ${v.voucher.settleBy} to credit ${v.voucher.cumulative} micro-STX (chain at ${tip}); challenge after that`,
      );
    if (next > v.voucher.settleBy + config.disputeWindow)
      throw new BondError(
        `this voucher's dispute window closed at block ${v.voucher.settleBy + config.disputeWindow} (chain at ${tip}); fetch a newer one: node-agent voucher`,
      );
    const credited = payee?.credited ?? 0n;
    if (credited >= v.voucher.cumulative)
      throw new BondError(
        `the signer credited ${credited} micro-STX, at least the voucher's ${v.voucher.cumulative}: nothing is owed (node-agent claim takes it)`,
      );
    const mined = await this.chain.callContract(
      this.contract,
      'challenge-voucher',
      challengeVoucherArgs(v.voucher, v.signature),
      [],
    );
    const r = mined.result;
    const t = r.type === ClarityType.ResponseOk && r.value.type === ClarityType.Tuple ? r.value.value : {};
    return { ...mined, paid: t.paid?.type === ClarityType.UInt ? BigInt(t.paid.value) : null };
  }
}

/** Saves a checked voucher (0600): the latest one is all a challenge needs (amounts are cumulative). */
export function saveVoucher(file: string, v: CheckedVoucher): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(v.json, null, 2)}\n`, { mode: 0o600 });
}

/** The saved voucher, checked again against the settler key (null: none saved). */
export function loadVoucher(file: string, client: PayeeClient, settlerKey: string): CheckedVoucher | null {
  if (!existsSync(file)) return null;
  return client.check(JSON.parse(readFileSync(file, 'utf8')), settlerKey);
}

/**
 * What `run` does every `client.voucher_interval_s`: fetch, check and save the voucher (a newer
 * one replaces the saved one once that is honoured or its window is over, so a signer cannot
 * postpone a deadline by issuing later vouchers), and warn when the signer's bond
 * does not cover what it owes this key beyond its credit, or the signer is withdrawing its bond.
 */
export async function watchVoucherOnce(
  client: PayeeClient,
  signerUrl: string,
  file: string,
  log: Logger,
): Promise<CheckedVoucher | null> {
  const signer = await client.signer();
  let v: CheckedVoucher;
  try {
    v = await client.fetchVoucher(signerUrl);
  } catch (e) {
    if (e instanceof VoucherError)
      log.error({ err: e.message }, 'the signer served a voucher that guarantees nothing: keeping the saved one');
    else log.warn({ err: (e as Error).message }, 'could not fetch the payee voucher');
    return null;
  }
  const saved = (() => {
    try {
      return loadVoucher(file, client, signer.key);
    } catch {
      return null;
    }
  })();
  const [payee, tip, config] = await Promise.all([client.payee(), client.tipHeight(), client.accountsConfig()]);
  const credited = payee?.credited ?? 0n;
  if (v.voucher.settleBy > BigInt(tip) + config.settleWindow) {
    // The bond unlocks settle-window + dispute-window after a withdrawal request: a later settle-by
    // could find no bond left to challenge, so such a voucher is no guarantee.
    log.error(
      { settle_by: String(v.voucher.settleBy), tip, settle_window: String(config.settleWindow) },
      'the signer served a voucher whose settle-by is beyond the settle window: its bond may be gone before it can be challenged; keeping the saved one, and stop taking prepaid work from this signer',
    );
    return null;
  }
  if (keepSaved(saved, credited, BigInt(tip), config.disputeWindow)) {
    // A newer voucher with a later settle-by must not push back the deadline of an unhonoured one.
    const due = BigInt(tip) >= saved!.voucher.settleBy;
    log[due ? 'error' : 'info'](
      {
        saved: String(saved!.voucher.cumulative),
        settle_by: String(saved!.voucher.settleBy),
        credited: String(credited),
        served: String(v.voucher.cumulative),
      },
      due
        ? 'the signer did not credit a voucher by its settle-by: run node-agent challenge-voucher now (within the dispute window)'
        : 'keeping the saved voucher until it is honoured',
    );
  } else saveVoucher(file, v);
  const unpaid =
    (saved && keepSaved(saved, credited, BigInt(tip), config.disputeWindow)
      ? saved.voucher.cumulative > v.voucher.cumulative
        ? saved.voucher.cumulative
        : v.voucher.cumulative
      : v.voucher.cumulative) - credited;
  if (signer.unlockAt > 0n)
    log.warn(
      { unlock_at: String(signer.unlockAt), bond: String(signer.bond) },
      'the signer is withdrawing its bond from the accounts contract: vouchers are backed only until then; claim and stop taking prepaid work if it goes',
    );
  if (unpaid > 0n && signer.bond < unpaid)
    log.warn(
      { bond: String(signer.bond), unpaid: String(unpaid) },
      "the signer's bond on the accounts contract is below what it owes this node: a challenge could not be paid in full",
    );
  log.info(
    {
      cumulative: String(v.voucher.cumulative),
      settle_by: String(v.voucher.settleBy),
      credited: String(credited),
      claimable: String(payee?.claimable ?? 0n),
    },
    'payee voucher checked',
  );
  return v;
}

/** True while the saved voucher is unhonoured and can still be challenged: it stays the one on file. */
export function keepSaved(saved: CheckedVoucher | null, credited: bigint, tip: bigint, disputeWindow: bigint): boolean {
  return saved !== null && credited < saved.voucher.cumulative && tip + 1n <= saved.voucher.settleBy + disputeWindow;
}
