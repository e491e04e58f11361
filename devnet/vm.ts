/**
 * The Clarity VM of the devnet: clarinet-sdk's simnet with the project's contracts deployed at
 * genesis. Everything here is synchronous and deterministic, so replaying the same blocks into a
 * fresh VM gives the same state.
 */
import { tx as simTx, type Simnet, type ClarityEvent } from '@stacks/clarinet-sdk';
import { type ClarityValue, ClarityWireType, serializeCVBytes } from '@stacks/transactions';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { acquireSimnet, quiet, rawMineBlock, releaseSimnet, type WasmTx, type WasmTxResult } from './simnet.js';

/** Where transaction fees go: the testnet burn address, so fees are really debited and visibly gone. */
export const FEE_SINK = 'ST000000000000000000002AMW42H';

/** What a transaction asks the VM to do, already decoded and checked by admission. */
export type Action =
  | { kind: 'call'; contract: string; fn: string; args: ClarityValue[] }
  | { kind: 'transfer'; recipient: string; amount: bigint }
  | { kind: 'deploy' /** Full contract id, `ADDRESS.name`. */; name: string; code: string; clarityVersion: number };

/** One transaction of a block: its fee is always paid; `skip` executes the fee only (aborted tx). */
export interface BlockEntry {
  sender: string;
  fee: bigint;
  action: Action;
  skip?: string;
}

/** The outcome of one entry: Clarity result or the runtime error that aborted it. */
export interface EntryOutcome {
  ok: boolean;
  resultHex: string;
  events: ClarityEvent[];
  vmError: string | null;
}

/** Thrown by `mine` when an entry made the VM throw: the block is spoilt and must be rebuilt without it. */
export class EntryFailed extends Error {
  constructor(
    readonly index: number,
    readonly vmError: string,
  ) {
    super(`transaction ${index} of the block failed in the VM: ${vmError}`);
  }
}

/** simnet's block builder takes amounts as JS numbers; every real micro-STX amount (supply < 2^53) fits. */
function ustx(amount: bigint): number {
  if (amount > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`amount ${amount} exceeds the STX supply`);
  return Number(amount);
}

function toSimTx(sender: string, action: Action): WasmTx {
  switch (action.kind) {
    case 'call':
      return {
        callPublicFn: {
          contract: action.contract,
          method: action.fn,
          args_maps: action.args.map(serializeCVBytes),
          sender,
        },
      };
    case 'transfer':
      return simTx.transferSTX(ustx(action.amount), action.recipient, sender);
    case 'deploy':
      // simnet wants the bare name: the deployer (sender) is the address part.
      return simTx.deployContract(
        action.name.split('.')[1],
        action.code,
        { clarityVersion: action.clarityVersion as 3 },
        sender,
      );
  }
}

/** A simnet session plus the few reads the devnet serves. */
export class Vm {
  /** simnet rebuilds every interface on each query (milliseconds); they only change on deploys. */
  private abis: Map<string, ContractAbi> | null = null;
  /** Balances read since the last block: admission asks for the same accounts over and over. */
  private balances = new Map<string, bigint>();

  private freed = false;

  /** simnet's own wasm `mineBlock` (bytes in, hex out; see ./simnet.ts), quiet. */
  private readonly mineWasm: (txs: WasmTx[]) => WasmTxResult[];

  private constructor(
    private readonly simnet: Simnet,
    readonly genesisId: string,
  ) {
    this.mineWasm = rawMineBlock(simnet);
  }

  /** Starts a fresh chain from `Clarinet.toml` (contracts deployed, Devnet.toml accounts funded). */
  static async create(manifestPath: string): Promise<Vm> {
    const genesisId = genesisFingerprint(manifestPath);
    return new Vm(await acquireSimnet(manifestPath, genesisId), genesisId);
  }

  /** Height of the last mined block. */
  get tipHeight(): number {
    return this.simnet.blockHeight;
  }

  get deployer(): string {
    return this.simnet.deployer;
  }

  /** Named dev accounts (`deployer`, `wallet_1`, ...) to addresses. */
  accounts(): Map<string, string> {
    return this.simnet.getAccounts();
  }

  balance(principal: string): bigint {
    if (this.balances.size === 0) {
      // One read of every known STX balance is cheaper than a Clarity snippet per account.
      for (const [who, amount] of this.simnet.getAssetsMap().get('STX') ?? []) this.balances.set(who, amount);
    }
    let b = this.balances.get(principal);
    if (b === undefined) {
      const r = quiet(() => this.simnet.execute(`(stx-get-balance '${principal})`));
      b = (r.result as { value: bigint }).value;
      this.balances.set(principal, b);
    }
    return b;
  }

  /** Mines one block holding `entries` in order. Throws `EntryFailed` when the VM aborted one of them. */
  mine(entries: BlockEntry[]): EntryOutcome[] {
    if (entries.length === 0) {
      this.simnet.mineEmptyBlock();
      return [];
    }
    this.balances.clear();
    const txs: WasmTx[] = [];
    for (const e of entries) {
      txs.push(simTx.transferSTX(ustx(e.fee), FEE_SINK, e.sender));
      if (!e.skip) txs.push(toSimTx(e.sender, e.action));
    }
    if (entries.some((e) => e.action.kind === 'deploy')) this.abis = null;
    const sinkBefore = this.balance(FEE_SINK);
    let results: ReturnType<typeof this.mineWasm>;
    try {
      results = this.mineWasm(txs);
    } catch (err) {
      this.balances.clear();
      // simnet stops the block at the failing call; the fees already paid tell which one it was.
      const paid = this.balance(FEE_SINK) - sinkBefore;
      let sum = 0n;
      let index = entries.length - 1;
      for (let i = 0; i < entries.length; i++) {
        sum += entries[i].fee;
        if (sum === paid) {
          index = i;
          break;
        }
      }
      throw new EntryFailed(
        index,
        String((err as Error)?.message ?? err)
          .split('\n')[0]
          .slice(0, 500),
      );
    }
    this.balances.clear();
    const outcomes: EntryOutcome[] = [];
    let k = 0;
    for (const e of entries) {
      k++; // the fee transfer
      if (e.skip) {
        outcomes.push({ ok: false, resultHex: '', events: [], vmError: e.skip });
        continue;
      }
      const r = results[k++];
      // Event values stay hex until an event is rendered (`toApiEvents`).
      const events = (JSON.parse(r.events) as string[]).map((ev) => JSON.parse(ev) as ClarityEvent);
      const ok = parseInt(r.result.slice(2, 4), 16) !== ClarityWireType.err;
      outcomes.push({ ok, resultHex: r.result, events, vmError: null });
    }
    return outcomes;
  }

  /** A read-only call at the tip; throws with the VM's message when the call is invalid. */
  readOnly(contract: string, fn: string, args: ClarityValue[], sender: string): ClarityValue {
    return quiet(() => this.simnet.callReadOnlyFn(contract, fn, args, sender)).result;
  }

  /** ABI of a deployed contract, in the node's `/v2/contracts/interface` shape, or undefined. */
  contractInterface(contractId: string): ContractAbi | undefined {
    this.abis ??= this.simnet.getContractsInterfaces() as unknown as Map<string, ContractAbi>;
    return this.abis.get(contractId);
  }

  contractSource(contractId: string): string | undefined {
    return this.simnet.getContractSource(contractId);
  }

  /** Releases the wasm session (kept for the next chain of the same genesis: see acquireSimnet). */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    releaseSimnet(this.simnet);
  }
}

/** Contract ABI as the node serves it. */
export interface ContractAbi {
  functions: {
    name: string;
    access: 'public' | 'read_only' | 'private';
    args: { name: string; type: unknown }[];
    outputs: { type: unknown };
  }[];
  variables: unknown[];
  maps: unknown[];
  fungible_tokens: unknown[];
  non_fungible_tokens: unknown[];
  epoch: string;
  clarity_version: string;
}

/** A hash of everything that shapes genesis (manifest, contract sources, dev accounts): a log only replays onto the same genesis. */
export function genesisFingerprint(manifestPath: string): string {
  const h = createHash('sha256');
  const manifest = readFileSync(manifestPath, 'utf8');
  h.update(manifest);
  const dir = dirname(resolve(manifestPath));
  for (const m of manifest.matchAll(/^\s*path\s*=\s*"([^"]+)"/gm)) h.update(readFileSync(resolve(dir, m[1])));
  try {
    h.update(readFileSync(resolve(dir, 'settings/Devnet.toml')));
  } catch {
    // no settings file: simnet uses its built-in accounts
  }
  return h.digest('hex');
}
