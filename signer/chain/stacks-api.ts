/**
 * `StacksApiChain`: the `Chain` of a Stacks node + Stacks Blockchain API reached over HTTP. The
 * same code serves the local devnet, testnet and mainnet: only `apiUrl` and `network` change.
 * Transactions are built and signed with @stacks/transactions; contract events (cursor pages, see
 * ./events.ts) and transaction status are read with @stacks/blockchain-api-client.
 */
import {
  type StacksTransactionWire,
  Pc,
  PostConditionMode,
  BROADCAST_PATH,
  deserializeCV,
  fetchCallReadOnlyFunction,
  fetchFeeEstimate,
  makeUnsignedContractCall,
  privateKeyToAddress,
  privateKeyToPublic,
  TransactionSigner,
  txidFromData,
  type ClarityValue,
} from '@stacks/transactions';
import { createClient } from '@stacks/blockchain-api-client';
import { createFetchFn, validateHash256 } from '@stacks/common';
import { completeTasksArgs, reclaimArgs, decodeCompleteResults, decodeRedundantResults } from '../../protocol/index.js';
import type { Chain, CompleteItem, ItemResult, SignedTx, TxStatus } from './types.js';
import { NonceManager, type AccountNonces } from './nonce.js';
import { readTaskEvents, type LogPage } from './events.js';

/** How to reach the chain and who signs. */
export interface StacksApiChainOptions {
  /** Base URL of the Stacks node + API (devnet: http://127.0.0.1:3999; testnet: https://api.testnet.hiro.so). */
  apiUrl: string;
  network: 'mainnet' | 'testnet' | 'devnet';
  /** Contract principal of inference-escrow. */
  escrowContract: string;
  /** The signer's private key (hex), an authorized signer of the escrow. */
  privateKey: string;
  /** Most micro-STX paid in fees for one transaction, whatever the estimate says. */
  maxFee?: bigint;
  /** Fee used when the node has no estimate. */
  defaultFee?: bigint;
}

/** Error thrown by `broadcast` when the node rejects a transaction; `reason` is the node's. */
export class BroadcastRejected extends Error {
  constructor(
    readonly reason: string,
    readonly reasonData: unknown,
    readonly txid: string,
  ) {
    super(`the node rejected transaction ${txid}: ${reason}${reasonData ? ` ${JSON.stringify(reasonData)}` : ''}`);
  }
}

const DROPPED = /^dropped_/;

export class StacksApiChain implements Chain {
  readonly chainId: number;
  readonly escrowContract: string;
  /** The signer's address (pays fees, calls complete-tasks). */
  readonly address: string;
  /** The nonce sequence; replaced by `resetNonces` when this replica takes the lead. */
  nonces: NonceManager;
  private readonly api;
  /** The fetch stacks.js uses (its default options), for the broadcasts sent without it. */
  private readonly fetch = createFetchFn();
  private readonly heights = new Map<string, number>();
  private readonly maxFee: bigint;
  private readonly defaultFee: bigint;

  constructor(private readonly opts: StacksApiChainOptions) {
    if (!/^[0-9a-fA-F]{64}(01)?$/.test(opts.privateKey))
      throw new Error('privateKey must be a hex secp256k1 key (64 characters, or 66 ending in 01)');
    if (!/^S[A-Z0-9]+\.[a-zA-Z][\w-]*$/.test(opts.escrowContract))
      throw new Error(
        `escrowContract must be a contract principal like ST...ADDR.inference-escrow, got "${opts.escrowContract}"`,
      );
    this.chainId = opts.network === 'mainnet' ? 0x00000001 : 0x80000000;
    this.escrowContract = opts.escrowContract;
    this.address = privateKeyToAddress(opts.privateKey, opts.network === 'mainnet' ? 'mainnet' : 'testnet');
    this.maxFee = opts.maxFee ?? 1_000_000n;
    this.defaultFee = opts.defaultFee ?? 10_000n;
    this.api = createClient({ baseUrl: opts.apiUrl.replace(/\/$/, '') });
    this.nonces = this.nonceManager();
  }

  private nonceManager(openNonces?: () => bigint[]): NonceManager {
    return new NonceManager(
      () => this.getJson<AccountNonces>(`/extended/v1/address/${this.address}/nonces`),
      openNonces,
    );
  }

  /** Starts a fresh nonce sequence, read from the API and above `openNonces` (the open settlements) at its first use. */
  resetNonces(openNonces: () => bigint[]): void {
    this.nonces = this.nonceManager(openNonces);
  }

  private get client() {
    return { baseUrl: this.opts.apiUrl.replace(/\/$/, '') };
  }

  private async getJson<T>(path: string): Promise<T> {
    const res = await fetch(`${this.client.baseUrl}${path}`);
    if (!res.ok)
      throw new Error(
        `GET ${this.client.baseUrl}${path}: HTTP ${res.status} ${await res.text().catch(() => '')}`.trim(),
      );
    return (await res.json()) as T;
  }

  async tipHeight(): Promise<number> {
    const info = await this.getJson<{ stacks_tip_height: number }>('/v2/info');
    return info.stacks_tip_height;
  }

  readTaskEvents(cursor: string | null, limit: number) {
    const logs = async (limit: number, cursor?: string): Promise<LogPage | null> => {
      const { data, error, response } = await this.api.GET('/extended/v2/smart-contracts/{contract_id}/logs', {
        params: { path: { contract_id: this.escrowContract }, query: { limit, ...(cursor ? { cursor } : {}) } },
      });
      // 404 is the API's "Cursor not found": no event at or below that position.
      if (response.status === 404 && cursor) return null;
      if (!data)
        throw new Error(
          `reading events of ${this.escrowContract} at ${cursor ?? 'the tip'}: HTTP ${response.status} ${JSON.stringify(error)}`,
        );
      return data as LogPage;
    };
    return readTaskEvents({ logs, txHeight: (txid) => this.txHeight(txid) }, cursor, limit);
  }

  private async txHeight(txid: string): Promise<number> {
    const known = this.heights.get(txid);
    if (known !== undefined) return known;
    const { data, error } = await this.api.GET('/extended/v1/tx/{tx_id}', { params: { path: { tx_id: txid } } });
    const h = (data as { block_height?: number } | undefined)?.block_height;
    if (typeof h !== 'number')
      throw new Error(`transaction ${txid} of an event has no block height: ${JSON.stringify(error ?? data)}`);
    if (this.heights.size > 10_000) this.heights.clear();
    this.heights.set(txid, h);
    return h;
  }

  /** Signs a `complete-tasks` call of a batch of level-1 results. */
  buildCompleteTasks(items: CompleteItem[]): Promise<SignedTx> {
    const args = completeTasksArgs(
      items.map((i) => ({
        taskId: i.chainTaskId,
        outputHash: i.outputHash,
        nodePublicKey: i.nodePublicKey,
        signature: i.signature,
      })),
    );
    return this.build('complete-tasks', args);
  }

  buildReclaim(chainTaskId: bigint): Promise<SignedTx> {
    return this.build('reclaim', reclaimArgs(chainTaskId));
  }

  callReadOnly(contractName: string, functionName: string, functionArgs: ClarityValue[]): Promise<ClarityValue> {
    const [contractAddress] = this.escrowContract.split('.');
    return fetchCallReadOnlyFunction({
      contractAddress,
      contractName,
      functionName,
      functionArgs,
      senderAddress: this.address,
      network: this.opts.network,
      client: this.client,
    });
  }

  buildContractCall(contractName: string, functionName: string, args: ClarityValue[]): Promise<SignedTx> {
    return this.build(functionName, args, contractName);
  }

  /** Builds and signs a call of the escrow (or a contract beside it) with the next nonce and a capped fee estimate. */
  private async build(
    functionName: string,
    functionArgs: ClarityValue[],
    contractName = this.escrowContract.split('.')[1],
  ): Promise<SignedTx> {
    const [contractAddress] = this.escrowContract.split('.');
    const common = {
      contractAddress,
      contractName,
      functionName,
      functionArgs,
      network: this.opts.network,
      client: this.client,
      // The signer only pays fees: a contract that tried to take its STX would abort.
      postConditionMode: PostConditionMode.Allow,
      postConditions: [Pc.principal(this.address).willSendEq(0).ustx()],
      validateWithAbi: false,
    };
    const nonce = await this.nonces.reserve();
    try {
      // What makeContractCall does (build, then sign), signing the call whose fee was estimated
      // instead of building it again: each pass over a 200-item complete-tasks costs milliseconds.
      const tx = await makeUnsignedContractCall({
        ...common,
        publicKey: privateKeyToPublic(this.opts.privateKey) as string,
        fee: 0,
        nonce,
      });
      tx.setFee(await this.estimateFee(tx));
      new TransactionSigner(tx).signOrigin(this.opts.privateKey);
      // txid() and serialize() would each serialize the transaction again.
      const bytes = tx.serializeBytes();
      return { txid: txidFromData(bytes), nonce, raw: Buffer.from(bytes).toString('hex') };
    } catch (err) {
      this.nonces.rejected(nonce);
      throw err;
    }
  }

  private async estimateFee(tx: StacksTransactionWire): Promise<bigint> {
    let fee: bigint;
    try {
      fee = BigInt(await fetchFeeEstimate({ transaction: tx, network: this.opts.network, client: this.client }));
    } catch {
      fee = this.defaultFee;
    }
    const floor = BigInt(tx.serializeBytes().length + 70); // the signature is not in the unsigned bytes yet
    if (fee < floor) fee = floor;
    return fee > this.maxFee ? this.maxFee : fee;
  }

  /**
   * Broadcasts; throws `BroadcastRejected` when the node says no (the nonce is then free again).
   * A network error leaves the nonce reserved: broadcast the same `SignedTx` again later.
   */
  async broadcast(tx: SignedTx): Promise<void> {
    const res = await this.broadcastRaw(tx.raw);
    if ('reason' in res) {
      const r = res as { reason: string; reason_data?: unknown; txid: string };
      this.nonces.rejected(tx.nonce);
      throw new BroadcastRejected(r.reason, r.reason_data, r.txid || tx.txid);
    }
    this.nonces.accepted(tx.nonce);
  }

  /**
   * broadcastTransaction's request and answer handling, from the stored hex: it takes a transaction
   * object only to serialize it back to these bytes, and parsing then serializing a 200-item
   * complete-tasks again costs tens of milliseconds.
   */
  private async broadcastRaw(
    raw: string,
  ): Promise<{ txid: string } | { reason: string; reason_data?: unknown; txid: string }> {
    const response = await this.fetch(`${this.client.baseUrl}${BROADCAST_PATH}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ tx: raw }),
    });
    if (!response.ok) {
      try {
        return (await response.json()) as { reason: string; reason_data?: unknown; txid: string };
      } catch (e) {
        throw Error('Failed to broadcast transaction (unable to parse node response).', { cause: e });
      }
    }
    const text = await response.text();
    const txid = text.replace(/["]+/g, '');
    if (!validateHash256(txid)) throw new Error(text);
    return { txid };
  }

  async txStatus(txid: string): Promise<TxStatus> {
    const { data, response } = await this.api.GET('/extended/v1/tx/{tx_id}', { params: { path: { tx_id: txid } } });
    if (response.status === 404) return { status: 'not_found' };
    if (!data) throw new Error(`reading transaction ${txid}: HTTP ${response.status}`);
    const t = data as {
      tx_status: string;
      block_height?: number;
      tx_result?: { hex: string; repr: string };
      vm_error?: string | null;
      tx_type: string;
      contract_call?: { function_name: string };
    };
    if (t.tx_status === 'pending') return { status: 'pending' };
    if (DROPPED.test(t.tx_status)) return { status: 'dropped', reason: t.tx_status };
    const blockHeight = t.block_height ?? 0;
    if (t.tx_status === 'success') {
      const fn = t.contract_call?.function_name;
      const itemResults = !t.tx_result
        ? undefined
        : fn === 'complete-tasks'
          ? decodeCompleteResults(deserializeCV(t.tx_result.hex))
          : fn === 'settle-redundant'
            ? decodeRedundantResults(deserializeCV(t.tx_result.hex)).map(
                (r): ItemResult => (r.ok ? { ok: true, payout: null, votes: r.votes, slashed: r.slashed } : r),
              )
            : undefined;
      return {
        status: 'success',
        blockHeight,
        ...(itemResults ? { itemResults } : {}),
        ...(t.tx_result ? { result: t.tx_result.hex } : {}),
      };
    }
    return {
      status: 'aborted',
      blockHeight,
      reason: `${t.tx_status}: ${t.vm_error ?? t.tx_result?.repr ?? ''}`.trim(),
    };
  }
}
