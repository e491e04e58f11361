/**
 * The user's view of the chain: read-only calls to the two contracts and signed contract calls,
 * all through stacks.js against any Stacks node/API (the devnet by default).
 */
import {
  ClarityType,
  type ClarityValue,
  type PostCondition,
  PostConditionMode,
  broadcastTransaction,
  deserializeCV,
  fetchCallReadOnlyFunction,
  makeContractCall,
} from '@stacks/transactions';
import { createNetwork, type StacksNetwork } from '@stacks/network';
import {
  MODEL_REGISTRY,
  INFERENCE_ESCROW,
  decodeModelOutput,
  decodeTask,
  errorName,
  type ModelOutput,
  type ChainTask,
} from '../protocol/index.js';
import {
  ACCOUNTS,
  accountsErrors,
  decodeAccount,
  decodeAccountsConfig,
  decodePayee,
  decodePeriod,
  decodeSigner,
  type AccountState,
  type AccountsConfig,
  type PayeeState,
  type PeriodState,
  type SignerState,
} from '../protocol/index.js';
import { decodeNodeBond, nodeKeyArgs, reclaimArgs, type NodeBond } from '../protocol/index.js';
import { Cl } from '@stacks/transactions';
import { pollTx, readTxState, stacksNetworkOf, txidWith0x } from '../protocol/index.js';
import type { MarketConfig } from './config.js';
import type { Wallet } from './keys.js';

/** Turns a connection failure into an error that names the URL and what to check. */
async function reachable<T>(url: string, pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (e) {
    if (e instanceof TypeError && /fetch failed/.test(e.message))
      throw new Error(`cannot reach the Stacks node at ${url}; is the devnet running (npm start), or is --node right?`);
    throw e;
  }
}

/** The contract's name for an error code of any of the three contracts (accounts.clar's are u3001-u3049). */
export function contractErrorName(code: number): string {
  for (const [name, value] of Object.entries(accountsErrors)) if (value === code) return name;
  return errorName(code);
}

/** A mined transaction the contract aborted; `error` is the contract's constant name (e.g. ERR_WITHDRAW_TOO_EARLY) when it returned one. */
/** How many times a transaction is signed again with the nonce the node expects, when another process took ours. */
const NONCE_ATTEMPTS = 5;

export class ChainAbort extends Error {
  constructor(
    message: string,
    readonly txid: string,
    readonly error: string | null,
  ) {
    super(message);
    this.name = 'ChainAbort';
  }
}

/** Outcome of a confirmed transaction. */
export interface Confirmed {
  txid: string;
  blockHeight: number;
  result: ClarityValue;
}

/** Chain access for the market CLI. */
export class MarketChain {
  readonly network: StacksNetwork;

  constructor(readonly config: MarketConfig) {
    this.network = createNetwork({ network: stacksNetworkOf(config.network), client: { baseUrl: config.node_url } });
  }

  /** `contract`: a name under contracts_address, or a full contract principal. */
  private split(contract: string): [string, string] {
    return contract.includes('.')
      ? (contract.split('.') as [string, string])
      : [this.config.contracts_address, contract];
  }

  /** The prepaid accounts contract principal (config accounts_contract, else `<contracts_address>.accounts`). */
  get accountsContract(): string {
    return this.config.accounts_contract || `${this.config.contracts_address}.${ACCOUNTS}`;
  }

  private async readOnly(contract: string, fn: string, args: ClarityValue[]): Promise<ClarityValue> {
    const [contractAddress, contractName] = this.split(contract);
    return reachable(
      this.config.node_url,
      fetchCallReadOnlyFunction({
        contractAddress,
        contractName,
        functionName: fn,
        functionArgs: args,
        senderAddress: this.config.contracts_address,
        network: this.network,
      }),
    );
  }

  /** The live output of a model, or null when it was never deployed or is retired. */
  async modelHead(model: string): Promise<ModelOutput | null> {
    return decodeModelOutput(await this.readOnly(MODEL_REGISTRY, 'get-head', [Cl.stringAscii(model)]));
  }

  /** A task as the escrow stores it. */
  async task(taskId: bigint): Promise<ChainTask | null> {
    return decodeTask(await this.readOnly(INFERENCE_ESCROW, 'get-task', reclaimArgs(taskId)));
  }

  /** The escrow's bounds on a task's max-blocks (`get-config`): submit-task aborts outside them, after the fee is paid. */
  async escrowBlockLimits(): Promise<{ minBlocks: bigint; maxBlocks: bigint }> {
    const cv = await this.readOnly(INFERENCE_ESCROW, 'get-config', []);
    const field = (name: string): bigint => {
      const v = cv.type === ClarityType.Tuple ? cv.value[name] : undefined;
      if (v?.type !== ClarityType.UInt) throw new Error(`the escrow's get-config has no ${name}`);
      return BigInt(v.value);
    };
    return { minBlocks: field('min-blocks'), maxBlocks: field('max-blocks') };
  }

  /** A node key's bond in the escrow (`get-node`); null when the key never bonded. */
  async nodeBond(publicKey: string): Promise<NodeBond | null> {
    return decodeNodeBond(await this.readOnly(INFERENCE_ESCROW, 'get-node', nodeKeyArgs(publicKey)));
  }

  /** An account in accounts.clar (null: it never deposited). */
  async account(who: string): Promise<AccountState | null> {
    return decodeAccount(await this.readOnly(this.accountsContract, 'get-account', [Cl.principal(who)]));
  }

  /** A payee's credits in accounts.clar (null: never credited). */
  async payee(who: string): Promise<PayeeState | null> {
    return decodePayee(await this.readOnly(this.accountsContract, 'get-payee', [Cl.principal(who)]));
  }

  /** A settled period of accounts.clar (null: no such period). */
  async period(id: bigint): Promise<PeriodState | null> {
    return decodePeriod(await this.readOnly(this.accountsContract, 'get-period', [Cl.uint(id)]));
  }

  /** The settler of accounts.clar: its principal, key, bond and unlock height. */
  async accountsSigner(): Promise<SignerState> {
    return decodeSigner(await this.readOnly(this.accountsContract, 'get-signer', []));
  }

  /** accounts.clar's windows, minimum bond and penalty. */
  async accountsConfig(): Promise<AccountsConfig> {
    return decodeAccountsConfig(await this.readOnly(this.accountsContract, 'get-config', []));
  }

  /** An address's spendable STX balance, micro-STX. */
  async stxBalance(address: string): Promise<bigint> {
    const res = await reachable(
      this.config.node_url,
      fetch(new URL(`/v2/accounts/${address}?proof=0`, this.config.node_url)),
    );
    if (!res.ok) throw new Error(`${this.config.node_url}/v2/accounts/${address} answered ${res.status}`);
    return BigInt(((await res.json()) as { balance: string }).balance);
  }

  /** Current block height of the node. */
  async tipHeight(): Promise<number> {
    const res = await reachable(this.config.node_url, fetch(new URL('/v2/info', this.config.node_url)));
    if (!res.ok) throw new Error(`${this.config.node_url}/v2/info answered ${res.status}`);
    return ((await res.json()) as { stacks_tip_height: number }).stacks_tip_height;
  }

  /** Builds, signs and broadcasts a contract call; returns its txid. Post-conditions are enforced (deny mode). */
  async call(
    wallet: Wallet,
    contract: string,
    fn: string,
    args: ClarityValue[],
    postConditions: PostCondition[] = [],
  ): Promise<string> {
    const [contractAddress, contractName] = this.split(contract);
    const fee = await this.fee();
    let nonce: bigint | undefined;
    // Another process of the same wallet may take the nonce read here before this one broadcasts; the
    // node refuses ours with the nonce it expects, and nothing was spent, so sign again with that one.
    for (let attempt = 1; ; attempt++) {
      const tx = await makeContractCall({
        contractAddress,
        contractName,
        functionName: fn,
        functionArgs: args,
        senderKey: wallet.privateKey,
        network: this.network,
        postConditions,
        postConditionMode: PostConditionMode.Deny,
        fee,
        ...(nonce === undefined ? {} : { nonce }),
      });
      const res = await broadcastTransaction({ transaction: tx, network: this.network });
      if (!('reason' in res)) return res.txid;
      const data = 'reason_data' in res ? (res.reason_data as { expected?: number; actual?: number }) : undefined;
      if (res.reason === 'BadNonce' && data?.expected !== undefined && attempt < NONCE_ATTEMPTS) {
        nonce = BigInt(data.expected);
        continue;
      }
      throw new Error(
        `the node rejected the ${fn} transaction: ${res.reason}${data ? ` ${JSON.stringify(data)}` : ''}`,
      );
    }
  }

  private async fee(): Promise<number> {
    // A flat fee under the configured cap: contract calls here are small and the devnet,
    // like a quiet testnet, accepts the minimum relay fee.
    return Math.min(this.config.max_tx_fee, 3_000);
  }

  /** Waits until the transaction is mined; throws a ChainAbort with the contract's error name when it aborted. */
  async confirm(txid: string, onTick?: (seconds: number) => void): Promise<Confirmed> {
    const id = txidWith0x(txid);
    const timeoutMs = this.config.confirm_timeout_s * 1000;
    const tx = await pollTx(() => reachable(this.config.node_url, readTxState(this.config.node_url, id)), {
      timeoutMs,
      onTick,
    });
    if (!tx) throw new Error(`transaction ${id} not confirmed after ${this.config.confirm_timeout_s}s`);
    if (tx.status === 'success') return { txid: id, blockHeight: tx.blockHeight, result: deserializeCV(tx.resultHex!) };
    if (tx.status === 'dropped') throw new Error(`transaction ${id} was dropped: ${tx.reason}`);
    const name = tx.code === null ? null : contractErrorName(tx.code);
    throw new ChainAbort(`transaction ${id} failed: ${tx.reason}${name ? ` ${name} (u${tx.code})` : ''}`, id, name);
  }
}
