/**
 * `market submit --privacy encrypted`, `market reseal` and an encrypted task's result (issue 14):
 * the input is sealed here to nodes the signer reserves, and only ciphertext reaches the signer.
 * A task whose nodes all went away is sealed again here, to other nodes, from the saved envelope:
 * the signer never holds anything it could re-encrypt.
 */
import {
  buildEnvelope,
  chainIdOf,
  INFERENCE_ESCROW,
  privacyCode,
  requesterPublicKey,
  sealTo,
  type ChainTask,
} from '../../protocol/index.js';
import { dataDirOf } from '../config.js';
import type { Context } from '../context.js';
import {
  loadEnvelope,
  openSealedResult,
  saveEnvelope,
  SealedResultError,
  type SavedEnvelope,
  type SealedNode,
} from '../sealed.js';
import { SignerRefusal, type TaskResultView } from '../signer-client.js';

/** How many nodes to seal to: the task's security level, and 2 for level 1 so a spot check has a second node. */
export function nodesFor(security: bigint | number): number {
  return Number(security) === 1 ? 2 : Number(security);
}

/** Whether a chain task was submitted in encrypted mode. */
export function isEncrypted(task: Pick<ChainTask, 'privacy'>): boolean {
  return task.privacy === privacyCode('encrypted');
}

/**
 * Reserves `count` nodes (not those in `exclude`), seals the saved envelope to each and uploads each
 * ciphertext; records the nodes in the saved file. Returns the nodes sealed to.
 */
export async function sealToReserved(
  ctx: Context,
  saved: SavedEnvelope & { bytes: Uint8Array },
  count: number,
  exclude: string[] = [],
): Promise<SealedNode[]> {
  const wallet = ctx.wallet();
  const reservation = await ctx.signer.reserve({ model: saved.model, nodes: count, exclude }, wallet);
  // The signer chooses the keys: one it holds itself would open the input. Only keys bonded on chain (and so
  // slashable) are sealed to; a signer operator can still offer a node it bonded itself (docs/privacy.md).
  const bonded = [];
  for (const n of reservation.nodes) if ((await ctx.chain.nodeBond(n.public_key))?.status === 'active') bonded.push(n);
  if (bonded.length === 0)
    throw new SealedResultError(
      'no_bonded_node',
      `the signer offered ${reservation.nodes.map((n) => `${n.node_id} (${n.public_key})`).join(', ')}, and none has an active bond in ${INFERENCE_ESCROW} on chain: nothing was sealed or paid; try again later or use another signer`,
    );
  const nodes: SealedNode[] = [];
  for (const n of bonded) {
    ctx.out.progress(`sealing the input to ${n.node_id}`);
    const sealed = await sealTo(n.public_key, saved.bytes);
    await ctx.signer.putSealedInput(saved.input_hash, n.node_id, reservation.reservation_id, sealed, wallet);
    nodes.push({ node_id: n.node_id, public_key: n.public_key, reservation_id: reservation.reservation_id });
  }
  saveEnvelope(dataDirOf(ctx.config), { ...saved, sealed_to: [...saved.sealed_to, ...nodes] });
  return nodes;
}

/**
 * Builds and saves the envelope of an input (already checked against the model), then seals it to
 * the nodes a reservation offers. Returns the input hash to submit: the envelope's sha256.
 */
export async function sealInput(
  ctx: Context,
  opts: { model: string; bytes: Uint8Array; binary: boolean; security: bigint },
): Promise<{ inputHash: string; nodes: SealedNode[]; file: string }> {
  const wallet = ctx.wallet();
  const contentType = opts.binary ? 'application/octet-stream' : 'application/json';
  const { envelope, bytes, inputHash } = buildEnvelope(opts.bytes, {
    replyTo: requesterPublicKey(wallet.privateKey),
    contentType,
  });
  const saved = { input_hash: inputHash, model: opts.model, envelope, sealed_to: [], created_at: Date.now() };
  // Saved before anything is sent: without it the output can be neither checked nor sealed again.
  const file = saveEnvelope(dataDirOf(ctx.config), saved);
  const nodes = await sealToReserved(ctx, { ...saved, bytes }, nodesFor(opts.security));
  return { inputHash, nodes, file };
}

/** The node ids a status names as sealed to, when it says the task needs sealing again; null otherwise. */
export function resealNeeded(s: { [k: string]: unknown } | null): string[] | null {
  if (s?.needs_reseal !== true) return null;
  return Array.isArray(s.sealed_nodes) ? s.sealed_nodes.filter((n): n is string => typeof n === 'string') : [];
}

/** Seals a pending encrypted task's envelope again, to nodes other than `gone`. */
export async function resealTask(ctx: Context, task: ChainTask, gone: string[]): Promise<SealedNode[]> {
  const saved = loadEnvelope(dataDirOf(ctx.config), task.inputHash);
  const exclude = [...new Set([...gone, ...saved.sealed_to.map((n) => n.node_id)])].slice(-64);
  return sealToReserved(ctx, saved, nodesFor(task.security), exclude);
}

/** `market reseal ID`: when the signer says none of the task's nodes is online, seal its input to others. */
export async function reseal(ctx: Context, taskId: bigint): Promise<void> {
  const task = await ctx.chain.task(taskId);
  if (!task) throw new Error(`there is no task ${taskId} in the escrow`);
  if (!isEncrypted(task)) throw new Error(`task ${taskId} is not encrypted: only an encrypted task is sealed to nodes`);
  if (task.requester !== ctx.wallet().address)
    throw new Error(`task ${taskId} was submitted by ${task.requester}: use that wallet's key to seal its input again`);
  // Paid or refunded: no node will run it again, whatever the signer's node list says.
  if (task.status !== 'pending') {
    ctx.out.result({ task_id: taskId, status: task.status, resealed: [] }, [
      `task ${taskId} is already ${task.status} on chain: nothing to reseal`,
    ]);
    return;
  }
  const s = await ctx.signer.status(String(taskId));
  const gone = resealNeeded(s);
  if (gone === null) {
    ctx.out.result({ task_id: taskId, status: s?.status ?? null, resealed: [] }, [
      `task ${taskId} (${s?.status ?? 'not seen by the signer yet'}) has an online node holding its input: nothing to do`,
    ]);
    return;
  }
  const nodes = await resealTask(ctx, task, gone);
  ctx.out.done();
  ctx.out.result({ task_id: taskId, input_hash: task.inputHash, resealed: nodes.map((n) => n.node_id) }, [
    `task ${taskId}: input sealed again to ${nodes.map((n) => n.node_id).join(', ')} (same input hash)`,
  ]);
}

/**
 * While following an encrypted task: seals it again when the signer says so. A marketplace with no
 * other node right now is not an error here; the next poll tries again.
 */
export async function resealIfNeeded(ctx: Context, task: ChainTask, s: { [k: string]: unknown } | null) {
  const gone = resealNeeded(s);
  if (gone === null) return;
  try {
    const nodes = await resealTask(ctx, task, gone);
    ctx.out.progress(`its nodes went away: input sealed again to ${nodes.map((n) => n.node_id).join(', ')}`);
  } catch (e) {
    if (!(e instanceof SignerRefusal && e.code === 'no_node_available')) throw e;
    ctx.out.progress('its nodes went away and no other node serves the model yet; trying again');
  }
}

/** Opens an encrypted task's result with the saved envelope and the wallet key (see openSealedResult). */
export async function openTaskResult(ctx: Context, task: ChainTask, taskId: bigint, r: TaskResultView) {
  const saved = loadEnvelope(dataDirOf(ctx.config), task.inputHash);
  return openSealedResult(r, {
    escrow: `${ctx.config.contracts_address}.${INFERENCE_ESCROW}`,
    chainId: chainIdOf(ctx.config.network),
    taskId,
    inputHash: task.inputHash,
    settledOutputHash: task.outputHash,
    envelope: saved.envelope,
    privateKey: ctx.wallet().privateKey,
  });
}
