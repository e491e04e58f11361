/**
 * The node's bond in the escrow contract: the stake in STX its key puts at risk, without which
 * the contract pays none of its results and the signer gives it no task. Read-only calls
 * (`get-node`, `get-config`) and signed contract calls (`bond-node`, `unbond-node`,
 * `withdraw-stake`) from the node's own key, with @stacks/transactions, against any Stacks
 * node/API: the local devnet, testnet or mainnet.
 */
import {
  ClarityType,
  PostConditionMode,
  Pc,
  broadcastTransaction,
  deserializeCV,
  fetchCallReadOnlyFunction,
  makeContractCall,
  type ClarityValue,
  type PostCondition,
} from '@stacks/transactions';
import { createNetwork, type StacksNetwork } from '@stacks/network';
import { pollTx, readTxState, stacksNetworkOf } from '../../protocol/index.js';
import {
  accountsErrors,
  bondNodeArgs,
  decodeNodeBond,
  errorName,
  nodeKeyArgs,
  type NodeBond,
} from '../../protocol/index.js';

/** The contract's name of an error code, accounts.clar's included. */
function anyErrorName(code: number): string {
  for (const [name, value] of Object.entries(accountsErrors)) if (value === code) return name;
  return errorName(code);
}
import type { AgentConfig } from '../config/index.js';
import type { NodeKey } from '../keys/index.js';

export type { NodeBond };

/** A chain call failed in a way the operator must act on; the message says how. */
export class BondError extends Error {
  override name = 'BondError';
}

/** The key holds too little STX to bond; the message prints its address and how to fund it. */
export class NotFundedError extends BondError {
  override name = 'NotFundedError';
}

/** A mined transaction: its id and the contract's answer. */
export interface Mined {
  txid: string;
  result: ClarityValue;
}

/** How to fund an address, per network: what the messages tell the operator. */
export function fundingHint(network: AgentConfig['agent']['network'], address: string): string {
  if (network === 'mainnet') return `send STX to ${address} from a wallet or an exchange`;
  if (network === 'testnet')
    return `get testnet STX for ${address} from the faucet: https://explorer.hiro.so/sandbox/faucet?chain=testnet`;
  return `on the local devnet: npm run devnet:fund -- ${address}   (npm start funds the agents it starts itself)`;
}

/** The bond of one node key, read and changed through a Stacks node/API. */
export class BondClient {
  readonly network: StacksNetwork;

  constructor(
    private readonly chain: AgentConfig['chain'],
    private readonly agentNetwork: AgentConfig['agent']['network'],
    readonly key: Pick<NodeKey, 'privateKey' | 'publicKey' | 'address'>,
  ) {
    if (!chain.api_url)
      throw new BondError(
        'chain.api_url is empty: set it to the Stacks node/API (e.g. http://127.0.0.1:3999) to read or change the bond',
      );
    this.network = createNetwork({ network: stacksNetworkOf(agentNetwork), client: { baseUrl: chain.api_url } });
  }

  /** The escrow contract principal stakes go to. */
  get escrow(): string {
    return this.chain.escrow_contract;
  }

  private async reach<T>(what: string, pending: Promise<T>): Promise<T> {
    try {
      return await pending;
    } catch (e) {
      const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
      throw new BondError(
        `${what}: cannot reach the Stacks node at ${this.chain.api_url} (${cause}); is the devnet running (npm start), or is chain.api_url right?`,
      );
    }
  }

  private readOnly(fn: string, args: ClarityValue[]): Promise<ClarityValue> {
    return this.readContract(this.escrow, fn, args);
  }

  /** A read-only call of any contract (`contract` a full principal, e.g. the accounts contract). */
  readContract(contract: string, fn: string, args: ClarityValue[]): Promise<ClarityValue> {
    const [contractAddress, contractName] = contract.split('.') as [string, string];
    const call = fetchCallReadOnlyFunction({
      contractAddress,
      contractName,
      functionName: fn,
      functionArgs: args,
      senderAddress: this.key.address,
      network: this.network,
    });
    return this.reach(`reading ${fn} of ${contract}`, call);
  }

  /** The key's bond, or null when it has none. */
  async getNode(): Promise<NodeBond | null> {
    return decodeNodeBond(await this.readOnly('get-node', nodeKeyArgs(this.key.publicKey)));
  }

  /** The smallest stake a new key must bond (get-config's min-stake), micro-STX. */
  async minStake(): Promise<bigint> {
    const cfg = await this.readOnly('get-config', []);
    const v = cfg.type === ClarityType.Tuple ? cfg.value['min-stake'] : undefined;
    if (v?.type !== ClarityType.UInt)
      throw new BondError(
        `${this.escrow} has no min-stake in get-config: is chain.escrow_contract an inference-escrow with a node registry?`,
      );
    return BigInt(v.value);
  }

  /** The key's address balance, micro-STX. */
  async balance(): Promise<bigint> {
    const res = await this.reach(
      'reading the balance',
      fetch(new URL(`/v2/accounts/${this.key.address}?proof=0`, this.chain.api_url)),
    );
    if (!res.ok) throw new BondError(`reading the balance of ${this.key.address}: HTTP ${res.status}`);
    return BigInt(((await res.json()) as { balance: string }).balance);
  }

  /** The chain's current block height. */
  async tipHeight(): Promise<number> {
    const res = await this.reach('reading the chain tip', fetch(new URL('/v2/info', this.chain.api_url)));
    if (!res.ok) throw new BondError(`${this.chain.api_url}/v2/info answered HTTP ${res.status}`);
    return ((await res.json()) as { stacks_tip_height: number }).stacks_tip_height;
  }

  /** Bonds `amount` micro-STX (a new bond, or more stake on an active one) and waits until it is mined. */
  async bond(amount: bigint): Promise<Mined> {
    return this.call(
      'bond-node',
      bondNodeArgs(this.key.publicKey, amount),
      [Pc.principal(this.key.address).willSendEq(amount).ustx()],
      amount,
    );
  }

  /** Announces the unbond: no more tasks; the stake stays locked until `withdraw-at`. */
  async unbond(): Promise<Mined> {
    return this.call('unbond-node', nodeKeyArgs(this.key.publicKey), []);
  }

  /** Pays the remaining stake back to the key's address once `withdraw-at` has passed. */
  async withdraw(stake: bigint): Promise<Mined> {
    return this.call('withdraw-stake', nodeKeyArgs(this.key.publicKey), [
      Pc.principal(this.escrow).willSendEq(stake).ustx(),
    ]);
  }

  /**
   * Signs, broadcasts and waits for one call from the node key. Post-conditions are enforced
   * (deny mode): the call moves exactly the STX it says and nothing else. `spends` is checked
   * against the balance first, so an unfunded key gets a message rather than a failed transaction.
   */
  private call(fn: string, args: ClarityValue[], postConditions: PostCondition[], spends = 0n): Promise<Mined> {
    return this.callContract(this.escrow, fn, args, postConditions, spends);
  }

  /** Signs, broadcasts and waits for a call of any contract from the node key (see `call`). */
  async callContract(
    contract: string,
    fn: string,
    args: ClarityValue[],
    postConditions: PostCondition[],
    spends = 0n,
  ): Promise<Mined> {
    const [contractAddress, contractName] = contract.split('.') as [string, string];
    const tx = await this.reach(
      `building ${fn}`,
      makeContractCall({
        contractAddress,
        contractName,
        functionName: fn,
        functionArgs: args,
        senderKey: this.key.privateKey,
        network: this.network,
        postConditions,
        postConditionMode: PostConditionMode.Deny,
      }),
    );
    const fee = BigInt(tx.auth.spendingCondition.fee);
    if (fee > BigInt(this.chain.max_tx_fee))
      throw new BondError(
        `${fn} would pay a fee of ${fee} micro-STX, above chain.max_tx_fee (${this.chain.max_tx_fee}); raise it or try later`,
      );
    const balance = await this.balance();
    if (balance < spends + fee) {
      throw new NotFundedError(
        `the node address ${this.key.address} holds ${balance} micro-STX; ${fn} needs ${spends + fee} (${spends} + a ${fee} fee). Fund it, then run again: ${fundingHint(this.agentNetwork, this.key.address)}`,
      );
    }
    const res = await this.reach(
      `broadcasting ${fn}`,
      broadcastTransaction({ transaction: tx, network: this.network }),
    );
    if ('reason' in res)
      throw new BondError(
        `the node refused the ${fn} transaction: ${res.reason}${'reason_data' in res ? ` ${JSON.stringify(res.reason_data)}` : ''}`,
      );
    const txid = res.txid.startsWith('0x') ? res.txid : `0x${res.txid}`;
    return { txid, result: await this.confirm(fn, txid) };
  }

  /** Waits until a transaction is mined; throws with the contract's error name when it aborted. */
  private async confirm(fn: string, id: string): Promise<ClarityValue> {
    const read = () => this.reach(`following ${fn} ${id}`, readTxState(this.chain.api_url, id));
    const tx = await pollTx(read, { timeoutMs: this.chain.confirm_timeout_s * 1000, pollMs: 500 });
    if (!tx)
      throw new BondError(
        `${fn} transaction ${id} not mined after ${this.chain.confirm_timeout_s} s (chain.confirm_timeout_s); check it on the chain, then run again`,
      );
    if (tx.status === 'success') return deserializeCV(tx.resultHex!);
    if (tx.status === 'dropped') throw new BondError(`${fn} transaction ${id} was dropped: ${tx.reason}`);
    throw new BondError(
      `${fn} transaction ${id} failed: ${tx.reason}${tx.code === null ? '' : ` ${anyErrorName(tx.code)} (u${tx.code})`}`,
    );
  }
}

/** Progress reported by ensureBond. */
export type BondEvent =
  | { kind: 'bonded'; bond: NodeBond }
  | { kind: 'bonding'; amount: bigint }
  | { kind: 'mined'; txid: string; bond: NodeBond };

/**
 * What `node-agent run` does before registering: returns the key's active bond, bonding
 * `stake` (0: the contract's minimum) first when it has none. An unbonding or slashed key, or
 * an address without the STX, stops the agent with what to do.
 */
export async function ensureBond(
  client: BondClient,
  stake: bigint,
  onEvent: (e: BondEvent) => void = () => undefined,
): Promise<NodeBond> {
  const bond = await client.getNode();
  if (bond?.status === 'active') {
    onEvent({ kind: 'bonded', bond });
    return bond;
  }
  if (bond?.status === 'unbonding') {
    throw new BondError(
      `node key ${client.key.publicKey} is unbonding (withdrawable from block ${bond.withdrawAt}); an unbonding node gets no tasks. Run node-agent withdraw once that block is reached, then node-agent run bonds again`,
    );
  }
  if (bond?.status === 'slashed') {
    throw new BondError(
      `node key ${client.key.publicKey} was slashed and can never bond again; create a new key (node-agent keygen --key NEW_FILE) and run with it`,
    );
  }
  const min = await client.minStake();
  const amount = stake > 0n ? stake : min;
  if (amount < min)
    throw new BondError(
      `chain.stake ${amount} micro-STX is below the contract's minimum stake ${min}; raise it (or set 0 for the minimum)`,
    );
  onEvent({ kind: 'bonding', amount });
  const { txid } = await client.bond(amount);
  const now = await client.getNode();
  if (now?.status !== 'active')
    throw new BondError(`bond-node ${txid} was mined but get-node shows no active bond for ${client.key.publicKey}`);
  onEvent({ kind: 'mined', txid, bond: now });
  return now;
}
