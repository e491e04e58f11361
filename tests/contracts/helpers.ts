/**
 * Shared set-up for the contract suites: accounts, node keys, and one-line wrappers around the
 * public functions, built with protocol/contracts so the tests exercise the same argument
 * builders and decoders as the signer and the CLI.
 */
import { Cl, type ClarityValue, privateKeyToPublic, compressPublicKey, getAddressFromPrivateKey } from '@stacks/transactions';
import {
  INFERENCE_ESCROW,
  MODEL_REGISTRY,
  completeTasksArgs,
  completeTasksPackedArgs,
  deployModelArgs,
  submitTaskArgs,
  reclaimArgs,
  decodeTask,
  type CompleteTaskItem,
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
export function nodeKey(seed: number): NodeKey {
  const privateKey = sha256Hex(`node-${seed}`) + '01';
  return { privateKey, publicKey: compressPublicKey(privateKeyToPublic(privateKey)), address: getAddressFromPrivateKey(privateKey, 'testnet') };
}
export const nodes = [0, 1, 2, 3, 4, 5].map(nodeKey);

export const hash = (label: string | number): string => sha256Hex(String(label));

/** Publishes a model; returns its output id. */
export function deployModel(owner: string, model = 'resnet', price = 100n): bigint {
  const r = simnet.callPublicFn(registryId, 'deploy', deployModelArgs({ model, artifactHash: hash(model), format: 'onnx', price, uri: `ipfs://${model}` }), owner);
  return okUint(r.result, `deploy ${model}`);
}

/** Submits a task; returns the raw call result. */
export function submit(sender: string, t: Partial<SubmitTask> & { modelOutput: bigint | number }) {
  const full: SubmitTask = { inputHash: hash(`input-${t.modelOutput}`), fee: 1000n, maxBlocks: 10, privacy: 0, priority: 0, ...t };
  return simnet.callPublicFn(escrowId, 'submit-task', submitTaskArgs(full), sender);
}

/** Submits a task and returns its id (throws if the call failed). */
export function submitOk(sender: string, t: Partial<SubmitTask> & { modelOutput: bigint | number }): bigint {
  return okUint(submit(sender, t).result, 'submit-task');
}

/** A correctly signed result for a task, by `node`. */
export function signedItem(taskId: bigint, inputHash: string, node: NodeKey, outputHash = hash(`out-${taskId}`)): CompleteTaskItem {
  const signature = signTaskResult({ escrow: escrowId, taskId, inputHash, outputHash }, chainId(), node.privateKey);
  return { taskId, outputHash, nodePublicKey: node.publicKey, signature };
}

export function complete(items: CompleteTaskItem[], sender = deployer) {
  return simnet.callPublicFn(escrowId, 'complete-tasks', completeTasksArgs(items), sender);
}

/** The same batch through `complete-tasks-packed`. */
export function completePacked(items: CompleteTaskItem[], sender = deployer) {
  return simnet.callPublicFn(escrowId, 'complete-tasks-packed', completeTasksPackedArgs(items), sender);
}

export function reclaim(taskId: bigint, sender: string) {
  return simnet.callPublicFn(escrowId, 'reclaim', reclaimArgs(taskId), sender);
}

export function getTask(taskId: bigint) {
  return decodeTask(simnet.callReadOnlyFn(escrowId, 'get-task', [Cl.uint(taskId)], deployer).result);
}

/** STX balance of a principal (standard or contract). */
export function stx(who: string): bigint {
  return simnet.getAssetsMap().get('STX')?.get(who) ?? 0n;
}

export function okUint(cv: ClarityValue, what: string): bigint {
  if (cv.type !== 'ok' || cv.value.type !== 'uint') throw new Error(`${what} failed: ${JSON.stringify(cv, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return BigInt(cv.value.value);
}
