/**
 * Shared set-up for the contract suites: accounts, node keys, and one-line wrappers around the
 * public functions, built with protocol/contracts so the tests exercise the same argument
 * builders and decoders as the signer and the CLI.
 */
import { expect } from 'vitest';
import { tx } from '@stacks/clarinet-sdk';
import {
  Cl,
  ClarityType,
  type ClarityValue,
  type TupleCV,
  privateKeyToPublic,
  compressPublicKey,
  getAddressFromPrivateKey,
} from '@stacks/transactions';
import {
  INFERENCE_ESCROW,
  MODEL_REGISTRY,
  bondNodeArgs,
  completeTasksArgs,
  deployModelArgs,
  nodeKeyArgs,
  settleRedundantArgs,
  submitTaskArgs,
  reclaimArgs,
  decodeNodeBond,
  decodeRedundantResults,
  decodeTask,
  type CompleteTaskItem,
  type RedundantTask,
  type SubmitTask,
} from '../../protocol/contracts/index.js';
import { signTaskResult } from '../../protocol/sip018/index.js';
import { sha256Hex } from '../../protocol/hash/index.js';

const accounts = simnet.getAccounts();
function account(name: string): string {
  const a = accounts.get(name);
  if (!a) throw new Error(`no account ${name} in settings/Devnet.toml`);
  return a;
}

export const deployer = account('deployer');
export const wallets = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => account(`wallet_${i}`));
/** Pays the node addresses their STX: no test reads its balance. */
export const faucet = account('faucet');
export const escrowId = `${deployer}.${INFERENCE_ESCROW}`;
export const registryId = `${deployer}.${MODEL_REGISTRY}`;

/** The chain id simnet runs with (testnet), as Clarity's `chain-id` reads it. */
export function chainId(): number {
  const r = simnet.execute('chain-id');
  return Number((r.result as { value: bigint }).value);
}

/** A node operator's key: fixed private keys so failures reproduce. */
export interface NodeKey {
  privateKey: string;
  publicKey: string;
  address: string;
}
export function nodeKey(seed: number | string): NodeKey {
  const privateKey = `${sha256Hex(`node-${seed}`)}01`;
  return {
    privateKey,
    publicKey: compressPublicKey(privateKeyToPublic(privateKey)),
    address: getAddressFromPrivateKey(privateKey, 'testnet'),
  };
}
export const nodes = [0, 1, 2, 3, 4, 5].map(nodeKey);

export const hash = (label: string | number): string => sha256Hex(String(label));

/** The stake helpers bond by default: 5 STX, above the 1 STX minimum the contract starts with. */
export const STAKE = 5_000_000n;

/** Publishes a model; returns its output id. */
export function deployModel(owner: string, model = 'resnet', price = 100n, precision = 5): bigint {
  const r = simnet.callPublicFn(
    registryId,
    'deploy',
    deployModelArgs({ model, artifactHash: hash(model), format: 'onnx', price, uri: `ipfs://${model}`, precision }),
    owner,
  );
  return okUint(r.result, `deploy ${model}`);
}

/** Submits a task; returns the raw call result. */
export function submit(sender: string, t: Partial<SubmitTask> & { modelOutput: bigint | number }) {
  const full: SubmitTask = {
    inputHash: hash(`input-${t.modelOutput}`),
    fee: 1000n,
    maxBlocks: 10,
    privacy: 0,
    priority: 0,
    security: 1,
    ...t,
  };
  return simnet.callPublicFn(escrowId, 'submit-task', submitTaskArgs(full), sender);
}

/** Submits a task and returns its id (throws if the call failed). */
export function submitOk(sender: string, t: Partial<SubmitTask> & { modelOutput: bigint | number }): bigint {
  return okUint(submit(sender, t).result, 'submit-task');
}

/** A correctly signed result for a task, by `node`. */
export function signedItem(
  taskId: bigint,
  inputHash: string,
  node: NodeKey,
  outputHash = hash(`out-${taskId}`),
): CompleteTaskItem {
  const signature = signTaskResult({ escrow: escrowId, taskId, inputHash, outputHash }, chainId(), node.privateKey);
  return { taskId, outputHash, nodePublicKey: node.publicKey, signature };
}

export function complete(items: CompleteTaskItem[], sender = deployer) {
  return simnet.callPublicFn(escrowId, 'complete-tasks', completeTasksArgs(items), sender);
}

/** `settle-redundant` over tasks run by several nodes. */
export function settle(tasks: RedundantTask[], sender = deployer) {
  return simnet.callPublicFn(escrowId, 'settle-redundant', settleRedundantArgs(tasks), sender);
}

/** Per-task outcomes of a settle-redundant call. */
export const settled = (r: ReturnType<typeof settle>) => decodeRedundantResults(r.result);

export function reclaim(taskId: bigint, sender: string) {
  return simnet.callPublicFn(escrowId, 'reclaim', reclaimArgs(taskId), sender);
}

export function getTask(taskId: bigint) {
  return decodeTask(simnet.callReadOnlyFn(escrowId, 'get-task', [Cl.uint(taskId)], deployer).result);
}

/** Funds a node's address from the faucet (it pays its own stake) and bonds `stake` under its key, from its own address. */
export function bondNode(node: NodeKey, stake = STAKE) {
  simnet.transferSTX(stake, node.address, faucet);
  return simnet.callPublicFn(escrowId, 'bond-node', bondNodeArgs(node.publicKey, stake), node.address);
}

/** Bonds each key as bondNode does, all in one block; throws if one bond is refused. */
export function bondNodes(keys: NodeKey[] = nodes, stake = STAKE): void {
  const block = simnet.mineBlock(
    keys.flatMap((k) => [
      tx.transferSTX(Number(stake), k.address, faucet),
      tx.callPublicFn(escrowId, 'bond-node', bondNodeArgs(k.publicKey, stake), k.address),
    ]),
  );
  block.forEach((r, i) => {
    if (r.result.type !== ClarityType.ResponseOk)
      throw new Error(
        `${i % 2 ? 'bond-node' : 'funding'} of ${keys[i >> 1].address} failed: ${JSON.stringify(r.result, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`,
      );
  });
}

/** A node key's bond (get-node), or null. */
export function getNode(node: NodeKey | string) {
  const key = typeof node === 'string' ? node : node.publicKey;
  return decodeNodeBond(simnet.callReadOnlyFn(escrowId, 'get-node', nodeKeyArgs(key), deployer).result);
}

/** The escrow's settings (get-config) with uints as bigint and principals as strings. */
export function config(): Record<string, bigint | string | null> {
  return plain(simnet.callReadOnlyFn(escrowId, 'get-config', [], deployer).result);
}

export interface Totals {
  deposited: bigint;
  paid: bigint;
  refunded: bigint;
  escrowed: bigint;
  bonded: bigint;
  stakeLocked: bigint;
  withdrawn: bigint;
  slashed: bigint;
}

/** The escrow's running totals (get-totals). */
export function totals(): Totals {
  const t = plain(simnet.callReadOnlyFn(escrowId, 'get-totals', [], deployer).result) as Record<string, bigint>;
  return {
    deposited: t.deposited,
    paid: t.paid,
    refunded: t.refunded,
    escrowed: t.escrowed,
    bonded: t.bonded,
    stakeLocked: t['stake-locked'],
    withdrawn: t.withdrawn,
    slashed: t.slashed,
  };
}

/** Fees the escrow holds for pending tasks: its balance less the locked stakes. */
export const feesHeld = (): bigint => stx(escrowId) - totals().stakeLocked;

/**
 * The escrow's conservation laws: deposited = paid + refunded + escrowed, bonded = stake-locked
 * + withdrawn + slashed, and its STX balance = escrowed + stake-locked. Returns the totals.
 */
export function expectConserved(): Totals {
  const t = totals();
  expect(t.deposited, 'deposited = paid + refunded + escrowed').toBe(t.paid + t.refunded + t.escrowed);
  expect(t.bonded, 'bonded = stake-locked + withdrawn + slashed').toBe(t.stakeLocked + t.withdrawn + t.slashed);
  expect(stx(escrowId), 'escrow balance = escrowed + stake-locked').toBe(t.escrowed + t.stakeLocked);
  return t;
}

/** A tuple's fields as plain values: uint -> bigint, principal -> string, none -> null. */
function plain(cv: ClarityValue): Record<string, bigint | string | null> {
  if (cv.type !== ClarityType.Tuple) throw new Error(`expected a tuple, got ${cv.type}`);
  const out: Record<string, bigint | string | null> = {};
  for (const [k, v] of Object.entries((cv as TupleCV).value)) {
    const inner = v.type === ClarityType.OptionalSome ? v.value : v;
    out[k] =
      inner.type === ClarityType.UInt
        ? BigInt(inner.value)
        : inner.type === ClarityType.OptionalNone
          ? null
          : String((inner as { value: unknown }).value);
  }
  return out;
}

/** STX balance of a principal (standard or contract). */
export function stx(who: string): bigint {
  return simnet.getAssetsMap().get('STX')?.get(who) ?? 0n;
}

/** Mines empty blocks until the next call runs at `height` (each call is mined in a block of its own). */
export function mineUntilNextCallAt(height: bigint): void {
  const n = Number(height) - simnet.stacksBlockHeight - 1;
  if (n < 0) throw new Error(`height ${height} is already behind (${simnet.stacksBlockHeight})`);
  if (n > 0) simnet.mineEmptyBlocks(n);
}

export function okUint(cv: ClarityValue, what: string): bigint {
  if (cv.type !== 'ok' || cv.value.type !== 'uint')
    throw new Error(`${what} failed: ${JSON.stringify(cv, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return BigInt(cv.value.value);
}
