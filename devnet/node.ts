/**
 * The devnet node: mempool admission, mining, and the chain reads the HTTP layer serves. One
 * mining loop at a time (`mining` chain of promises) keeps the VM single-writer.
 */
import { createHash } from 'node:crypto';
import type { ClarityValue } from '@stacks/transactions';
import { Vm, EntryFailed, type BlockEntry, type EntryOutcome } from './vm.js';
import { Store, type MinedTx, type TxRow, type BlockRow } from './store.js';
import { Mempool } from './mempool.js';
import { replay } from './replay.js';
import {
  type DecodedTx,
  decode,
  checkAgainstAbi,
  checkNonce,
  checkFunds,
  checkSignature,
  minimumSpend,
  reject,
} from './admission.js';
import { Verifier } from './verifier.js';
import { toApiEvents, checkPostConditions } from './events.js';

/** Options of a devnet node. */
export interface NodeOptions {
  manifestPath: string;
  dataDir: string;
  /** 0: a block per transaction, mined as soon as it is admitted. Otherwise one block per interval. */
  blockTimeMs: number;
  /** Most transactions in one interval block. */
  maxBlockTxs?: number;
  /**
   * With a block per transaction: also mine an empty block whenever none was mined for this long
   * (0: never), so heights move on an idle chain as on a real one and deadlines and dispute windows pass.
   */
  idleBlockMs?: number;
  chainId?: number;
}

const GENESIS_HASH = `0x${'0'.repeat(64)}`;

export class DevnetNode {
  private confirmedNext = new Map<string, bigint>();
  private readonly mempool = new Mempool((origin) => this.confirmedNext.get(origin) ?? 0n);
  private mining: Promise<void> = Promise.resolve();
  private miningScheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private lastBlockAt = Date.now();
  private closed = false;
  private readonly verifier = new Verifier();
  private failure: Error | null = null;
  readonly chainId: number;
  /** The start-up: simnet genesis (ms), then the replay of the log (ms, transactions, blocks). */
  replayStats = { genesisMs: 0, ms: 0, txs: 0, blocks: 0 };

  private constructor(
    private vm: Vm,
    readonly store: Store,
    private readonly opts: NodeOptions,
  ) {
    this.chainId = opts.chainId ?? 0x80000000;
  }

  /** Opens the log in `dataDir`, replays it into a fresh VM, re-admits the mempool and starts mining. */
  static async open(opts: NodeOptions): Promise<DevnetNode> {
    const store = new Store(opts.dataDir);
    const t0 = performance.now();
    const vm = await Vm.create(opts.manifestPath);
    const known = store.meta('genesis');
    if (known && known !== vm.genesisId) {
      store.close();
      vm.free();
      throw new Error(
        `the contracts, Clarinet.toml or settings/Devnet.toml changed since the chain in ${opts.dataDir} was created, so its log cannot be replayed; start with --reset (or delete ${opts.dataDir}) to begin a new chain`,
      );
    }
    if (!known) store.setMeta('genesis', vm.genesisId);
    const node = new DevnetNode(vm, store, opts);
    const t1 = performance.now();
    node.replayStats = { ...replay(vm, store), genesisMs: Math.round(t1 - t0), ms: 0 };
    node.replayStats.ms = Math.round(performance.now() - t1);
    node.confirmedNext = store.confirmedNonces();
    for (const row of store.pending()) node.readmit(row);
    if (opts.blockTimeMs > 0) node.timer = setInterval(() => node.schedule(true), opts.blockTimeMs);
    else if ((opts.idleBlockMs ?? 0) > 0)
      node.timer = setInterval(() => node.mineIfIdle(opts.idleBlockMs!), Math.min(opts.idleBlockMs!, 1000));
    node.schedule(false);
    return node;
  }

  get tipHeight(): number {
    return this.vm.tipHeight;
  }

  get deployer(): string {
    return this.vm.deployer;
  }

  accounts(): Map<string, string> {
    return this.vm.accounts();
  }

  balance(principal: string): bigint {
    return this.vm.balance(principal);
  }

  /** Confirmed next nonce, and the nonces waiting in the mempool. */
  nonces(principal: string): { next: bigint; mempool: bigint[] } {
    return { next: this.confirmedNext.get(principal) ?? 0n, mempool: this.mempool.nonces(principal) };
  }

  readOnly(contract: string, fn: string, args: ClarityValue[], sender: string): ClarityValue {
    return this.vm.readOnly(contract, fn, args, sender);
  }

  contractInterface(id: string) {
    return this.vm.contractInterface(id);
  }

  contractSource(id: string) {
    return this.vm.contractSource(id);
  }

  /** Admits a serialized transaction into the mempool; resolves with its txid or throws `RejectedError`. */
  async submit(raw: Uint8Array): Promise<string> {
    if (this.failure)
      throw new Error(`the devnet stopped mining (${this.failure.message}); restart it: its log is intact`);
    const d = decode(raw, this.chainId);
    if (this.known(d.txid)) return d.txid;
    checkSignature(d, await this.verifier.verify(raw));
    // From here on nothing awaits: the state checks and the mempool insert are one step.
    if (this.known(d.txid)) return d.txid;
    checkAgainstAbi(d, (id) => this.vm.contractInterface(id));
    checkNonce(d, this.confirmedNext.get(d.origin) ?? 0n);
    if (this.mempool.has(d.origin, d.nonce))
      reject(d.txid, 'ConflictingNonceInMempool', {
        message: `account ${d.origin} already has a pending transaction with nonce ${d.nonce}`,
      });
    checkFunds(d, this.vm.balance(d.origin) - this.mempool.spend(d.origin));
    this.store.addPending(d.txid, raw, d.origin, d.nonce, d.fee, Math.floor(Date.now() / 1000));
    this.mempool.add(d);
    if (this.opts.blockTimeMs === 0) this.schedule(false);
    return d.txid;
  }

  /** Already pending or mined: sending a transaction twice is harmless, as on a node. */
  private known(txid: string): boolean {
    const row = this.store.tx(txid);
    return row !== undefined && (row.status === 'pending' || row.block_height !== null);
  }

  /** Mines `count` empty blocks now (devnet only: lets tests and operators move deadlines). */
  async mineEmpty(count: number): Promise<number> {
    for (let i = 0; i < count; i++) await this.enqueueMining(() => this.mineBlock([]));
    return this.tipHeight;
  }

  /** Resolves once everything ready has been mined. */
  async idle(): Promise<void> {
    while (this.mempool.readyCount > 0 || this.miningScheduled) await new Promise((r) => setTimeout(r, 5));
    await this.mining;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.mining.catch(() => {});
    await this.verifier.close();
    this.store.close();
    this.vm.free();
  }

  private readmit(row: TxRow): void {
    try {
      const d = decode(new Uint8Array(row.raw), this.chainId);
      if (d.nonce < (this.confirmedNext.get(d.origin) ?? 0n)) {
        this.store.drop(d.txid, 'dropped_stale_garbage_collect', 'nonce already used by a mined transaction');
        return;
      }
      this.mempool.add(d);
    } catch (err) {
      this.store.drop(row.txid, 'dropped_problematic', (err as Error).message);
    }
  }

  /** An empty block when nothing was mined for `idleMs` and nothing waits to be. */
  private mineIfIdle(idleMs: number): void {
    if (this.closed || this.miningScheduled || this.mempool.readyCount > 0 || Date.now() - this.lastBlockAt < idleMs)
      return;
    this.lastBlockAt = Date.now();
    void this.enqueueMining(() => this.mineBlock([]));
  }

  /** Queues a mining pass; `tick` marks an interval boundary (mine even if empty). */
  private schedule(tick: boolean): void {
    // One queued pass at a time: ticks that come while a long block is mined are not stacked up.
    if (this.closed || this.miningScheduled) return;
    if (!tick && this.opts.blockTimeMs > 0) return;
    this.miningScheduled = true;
    void this.enqueueMining(async () => {
      this.miningScheduled = false;
      if (this.opts.blockTimeMs > 0) {
        await this.mineBlock(this.mempool.take(this.opts.maxBlockTxs ?? 500));
        return;
      }
      // A block per transaction, in slices of 50 ms; between slices the event loop serves I/O
      // (a promise chain alone would not), so admission keeps flowing under a backlog.
      const started = Date.now();
      while (this.mempool.readyCount > 0 && !this.closed && Date.now() - started < 50)
        await this.mineBlock(this.mempool.take(1));
      if (this.mempool.readyCount > 0) setImmediate(() => this.schedule(false));
    });
  }

  private enqueueMining(job: () => Promise<void>): Promise<void> {
    this.mining = this.mining
      .then(() => {
        if (this.failure) throw this.failure;
        return job();
      })
      .catch((err: Error) => {
        // Only a bug or a broken VM gets here; refuse new transactions instead of silently not mining them.
        if (!this.failure) console.error('devnet: mining stopped', err);
        this.failure = err;
      });
    return this.mining;
  }

  /** Mines one block of `txs` (already nonce-ordered per account), enforcing fee funds and post-conditions. */
  private async mineBlock(txs: DecodedTx[]): Promise<void> {
    this.lastBlockAt = Date.now();
    const included: DecodedTx[] = [];
    const spent = new Map<string, bigint>();
    const dropped = new Set<string>();
    for (const d of txs) {
      if (dropped.has(d.origin)) {
        this.mempool.hold(d);
        continue;
      }
      if (this.vm.balance(d.origin) - (spent.get(d.origin) ?? 0n) < minimumSpend(d)) {
        dropped.add(d.origin);
        this.mempool.drop(d);
        this.store.drop(d.txid, 'dropped_too_expensive', 'the account can no longer pay the fee and amount');
        continue;
      }
      spent.set(d.origin, (spent.get(d.origin) ?? 0n) + minimumSpend(d));
      included.push(d);
    }
    const entries: BlockEntry[] = included.map((d) => ({ sender: d.origin, fee: d.fee, action: d.action }));
    let outcomes: EntryOutcome[] = [];
    for (;;) {
      try {
        outcomes = this.vm.mine(entries);
      } catch (err) {
        if (!(err instanceof EntryFailed)) throw err;
        entries[err.index].skip = `runtime error: ${err.vmError}`;
        // A lone entry that failed leaves exactly the aborted state (fee paid, call undone); otherwise rebuild.
        if (entries.length === 1) {
          outcomes = [{ ok: false, resultHex: '', events: [], vmError: entries[0].skip! }];
          break;
        }
        await this.rebuild();
        continue;
      }
      const violated = outcomes.findIndex((o, i) => !entries[i].skip && postConditionError(included[i], o) !== null);
      if (violated < 0) break;
      entries[violated].skip = postConditionError(included[violated], outcomes[violated])!;
      await this.rebuild();
    }
    this.record(included, entries, outcomes);
  }

  private record(included: DecodedTx[], entries: BlockEntry[], outcomes: EntryOutcome[]): void {
    const height = this.vm.tipHeight;
    const parent = this.store.lastBlock()?.hash ?? GENESIS_HASH;
    const hash = `0x${createHash('sha256')
      .update(`${parent}:${height}:${included.map((d) => d.txid).join(',')}`)
      .digest('hex')}`;
    const block: BlockRow = {
      height,
      hash,
      parent_hash: parent,
      time: Math.floor(Date.now() / 1000),
      tx_count: included.length,
    };
    const mined: MinedTx[] = included.map((d, i) => {
      const o = outcomes[i];
      const { events, logs } = toApiEvents(o.events, d.txid);
      const skip = entries[i].skip ?? null;
      const status = skip?.startsWith('post-condition')
        ? 'abort_by_post_condition'
        : o.ok
          ? 'success'
          : 'abort_by_response';
      return { txid: d.txid, status, txIndex: i, resultHex: o.resultHex, vmError: skip, skip, events, logs };
    });
    this.store.writeBlock(block, mined);
    for (const d of included) {
      this.mempool.mined(d);
      this.confirmedNext.set(d.origin, d.nonce + 1n);
    }
  }

  /** Rebuilds the VM from the log (the last block being re-mined is not in it yet). */
  private async rebuild(): Promise<void> {
    const vm = await Vm.create(this.opts.manifestPath);
    replay(vm, this.store);
    this.vm.free();
    this.vm = vm;
  }
}

function postConditionError(d: DecodedTx, o: EntryOutcome): string | null {
  // As on Stacks: an (err ...) result already undid everything, so there is nothing to check; and
  // the STX moved by a token-transfer payload is what the sender signed.
  if (!o.ok || d.action.kind === 'transfer') return null;
  if (d.postConditions.length === 0 && d.postConditionMode === 'allow') return null;
  // The conditions are on asset events only: rendering print values (`record` does) is the costly part.
  const { events } = toApiEvents(
    o.events.filter((e) => e.event !== 'print_event'),
    d.txid,
  );
  return checkPostConditions(d.postConditions, d.postConditionMode, events);
}
