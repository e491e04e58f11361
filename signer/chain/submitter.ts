/**
 * The submitter: batches completed tasks into `complete-tasks`, and follows each transaction
 * to its end. The signed transaction is stored (settlements row, tasks -> submitted) BEFORE it
 * is broadcast, so a crash at any point leads to re-checking or re-sending that same
 * transaction, never to building a second one for the same tasks.
 */
import { and, asc, eq, isNull } from 'drizzle-orm';
import type { TaskStatus } from '../../protocol/index.js';
import {
  INFERENCE_ESCROW,
  MAX_REDUNDANT_BATCH,
  escrowErrors,
  errorName,
  orderForSettlement,
  settleRedundantArgs,
} from '../../protocol/index.js';
import { inferenceTasks, prepared, settlements } from '../db/index.js';
import { FencedError, fenced } from '../cluster/index.js';
import type { Services } from '../services.js';
import { getTask, transition, transitionFrom } from '../tasks/index.js';
import type { Chain, ItemResult, SignedTx, TxStatus } from './types.js';
import { readVotes } from '../tasks/index.js';

/** A settlements row. */
export type SettlementRow = typeof settlements.$inferSelect;
/** What a complete-tasks item needs of a completed task. */
interface ReadyTask {
  task_id: string;
  chain_task_id: string | null;
  deadline: number | null;
  completed_at: number | null;
  output_hash: string | null;
  signature: string | null;
  node_public_key: string | null;
  /** JSON votes when several nodes ran the task (tasks/votes.ts): those settle through settle-redundant. */
  votes: string | null;
}
/** Kinds of settlement transaction that move tasks through submitted. */
type SettleKind = 'complete-tasks' | 'settle-redundant';
/** Broadcast attempts before a transaction the node keeps refusing is given up. */
const MAX_BROADCASTS = 3;

/**
 * Crash points for the crash tests: with SIGNER_FAILPOINT set to a point's name the process
 * kills itself there, as a power cut would. Unset (always, in production) it does nothing.
 */
export function failpoint(name: 'after-record' | 'after-broadcast' | 'period-after-record'): void {
  if (process.env.SIGNER_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}

/**
 * Stores a built transaction and moves its tasks to submitted, in one SQL transaction, fenced: a
 * replica that no longer leads records nothing (FencedError), and neither does one whose nonce an
 * open settlement already holds (settlements_open_nonce_idx: `isOpenNonceConflict`).
 */
function record(s: Services, tx: SignedTx, kind: SettleKind | 'reclaim', taskIds: string[], now: number): void {
  fenced(s.store, s.leader.epoch, () => {
    s.store.db
      .insert(settlements)
      .values({
        txid: tx.txid,
        kind,
        status: 'built',
        raw: tx.raw,
        nonce: tx.nonce.toString(),
        task_ids: JSON.stringify(taskIds),
        item_count: taskIds.length,
        created_at: now,
        updated_at: now,
        leader_epoch: s.leader.epoch,
      })
      .run();
    for (const id of taskIds) {
      // Still completed, or the whole record is refused (the batch was read before an await).
      if (kind !== 'reclaim')
        transitionFrom(
          s.store,
          id,
          'completed',
          'submitted',
          { reason: `in ${kind} tx ${tx.txid}`, txid: tx.txid, now },
          { settlement_txid: tx.txid },
        );
      else
        s.store.db
          .update(inferenceTasks)
          .set({ reclaim_txid: tx.txid, updated_at: now })
          .where(eq(inferenceTasks.task_id, id))
          .run();
    }
  });
}

/** Sets a settlements row's status (and other columns); fenced, as every write of the leader's. */
export function setStatus(
  s: Services,
  txid: string,
  status: string,
  extra: Partial<SettlementRow> = {},
  now = Date.now(),
): void {
  fenced(s.store, s.leader.epoch, () =>
    s.store.db
      .update(settlements)
      .set({ status, updated_at: now, ...extra })
      .where(eq(settlements.txid, txid))
      .run(),
  );
}

/** Sends (or re-sends) a stored transaction; after MAX_BROADCASTS refusals it is dropped (`onDropped`, by default the submitter's release). */
export async function broadcast(
  s: Services,
  chain: Chain,
  row: SettlementRow,
  now = Date.now(),
  onDropped: (row: SettlementRow, reason: string, now: number) => void = (r, why, at) =>
    release(s, r, 'dropped', why, at),
): Promise<void> {
  try {
    await chain.broadcast({ txid: row.txid, raw: row.raw, nonce: BigInt(row.nonce) });
    failpoint('after-broadcast');
    setStatus(s, row.txid, 'broadcast', { broadcasts: row.broadcasts + 1, broadcast_at: now, reason: null }, now);
    s.log.info({ txid: row.txid, kind: row.kind, items: row.item_count }, 'transaction broadcast');
  } catch (e) {
    // Not a refusal of the node: this replica lost the lead, and the new leader follows the row.
    if (e instanceof FencedError) throw e;
    const reason = (e as Error).message;
    const broadcasts = row.broadcasts + 1;
    s.log.warn({ txid: row.txid, reason, broadcasts }, 'broadcast refused');
    if (broadcasts >= MAX_BROADCASTS)
      onDropped({ ...row, broadcasts }, `broadcast refused ${broadcasts} times: ${reason}`, now);
    else setStatus(s, row.txid, 'built', { broadcasts, reason }, now);
  }
}

/** Puts a failed transaction's tasks back to completed (or timeout when their deadline has passed); a dropped reclaim is retried. */
function release(
  s: Services,
  row: SettlementRow,
  status: 'dropped' | 'aborted',
  reason: string,
  now = Date.now(),
): void {
  const tip = s.chain.tipHeight;
  fenced(s.store, s.leader.epoch, () => {
    setStatus(s, row.txid, status, { reason, broadcasts: row.broadcasts }, now);
    if (row.kind === 'reclaim') {
      // A dropped reclaim is tried again; an aborted one means the fee is no longer there to reclaim.
      if (status === 'dropped')
        s.store.db
          .update(inferenceTasks)
          .set({ reclaim_txid: null, updated_at: now })
          .where(eq(inferenceTasks.reclaim_txid, row.txid))
          .run();
      return;
    }
    for (const id of JSON.parse(row.task_ids) as string[]) {
      const task = getTask(s.store, id);
      if (task?.status !== 'submitted' || task.settlement_txid !== row.txid) continue;
      const late = task.deadline !== null && tip !== null && task.deadline <= tip;
      transition(
        s.store,
        id,
        late ? 'timeout' : 'completed',
        {
          reason: `tx ${row.txid} ${status}: ${reason}${late ? '; deadline passed meanwhile' : '; will be batched again'}`,
          txid: row.txid,
          now,
        },
        { settlement_txid: null },
      );
    }
  });
  s.metrics.settlementTxs.inc({ kind: row.kind, outcome: status });
}

/** Maps a confirmed complete-tasks' per-item results onto its tasks. */
function settle(
  s: Services,
  row: SettlementRow,
  blockHeight: number,
  results: ItemResult[] | undefined,
  now = Date.now(),
): void {
  const ids = JSON.parse(row.task_ids) as string[];
  fenced(s.store, s.leader.epoch, () => {
    setStatus(s, row.txid, 'confirmed', { block_height: blockHeight }, now);
    // The batch's tasks in one read: only their status and deadline matter here.
    const rows = prepared(
      s.store.sqlite,
      'select t.task_id, t.status, t.deadline from json_each(?) j join inference_tasks t on t.task_id = j.value',
    ).all(row.task_ids) as {
      task_id: string;
      status: TaskStatus;
      deadline: number | null;
    }[];
    const tasks = new Map(rows.map((t) => [t.task_id, t]));
    const settleItem = (id: string, i: number) => {
      const task = tasks.get(id);
      if (task?.status !== 'submitted') return;
      const r = results?.[i];
      const ctx = { txid: row.txid, now };
      const to = (status: TaskStatus, reason: string, patch = {}) =>
        transitionFrom(s.store, id, 'submitted', status, { ...ctx, reason }, patch);
      if (!r) return to('failed', `tx ${row.txid} confirmed without a result for this item`);
      if (r.ok && r.payout === null) {
        const slashed = r.slashed ? `; ${r.slashed} micro-STX of the outvoted nodes' stake slashed` : '';
        return to('settled', `paid the ${r.votes} agreeing nodes in block ${blockHeight}${slashed}`, {
          settled_at: now,
        });
      }
      if (r.ok)
        return to('settled', `paid ${r.payout} micro-STX to the node in block ${blockHeight}`, {
          node_payout: String(r.payout),
          settled_at: now,
        });
      const name = errorName(r.code);
      const beforeDeadline = task.deadline !== null && blockHeight <= task.deadline;
      if (r.code === escrowErrors.ERR_TASK_NOT_PENDING && beforeDeadline) {
        // Before its deadline a task cannot have been refunded, so it was paid by an earlier transaction.
        return to('settled', `${name}: already paid on chain by an earlier transaction`, { settled_at: now });
      }
      if (r.code === escrowErrors.ERR_DEADLINE_PASSED || r.code === escrowErrors.ERR_TASK_NOT_PENDING) {
        return to('timeout', `${name} in block ${blockHeight}: the fee is refundable`, { error: name });
      }
      to('failed', `contract refused the item: ${name} (u${r.code})`, { error: name });
    };
    for (const [i, id] of ids.entries()) settleItem(id, i);
  });
  s.metrics.settlementTxs.inc({ kind: row.kind, outcome: 'confirmed' });
  s.log.info({ txid: row.txid, block: blockHeight, items: ids.length }, 'transaction confirmed');
}

/** What becomes of a followed transaction: the submitter's tasks, or a period's receipts (signer/accounts/settler.ts). */
export interface TxOutcome {
  confirmed(row: SettlementRow, status: Extract<TxStatus, { status: 'success' }>, now: number): void;
  failed(row: SettlementRow, status: 'dropped' | 'aborted', reason: string, now: number): void;
}

/** Follows one unfinished transaction one step: re-send, confirm, or release. */
export async function followTransaction(
  s: Services,
  chain: Chain,
  row: SettlementRow,
  outcome: TxOutcome,
  now = Date.now(),
): Promise<void> {
  const st = await chain.txStatus(row.txid);
  if (st.status === 'success') outcome.confirmed(row, st, now);
  else if (st.status === 'aborted') outcome.failed(row, 'aborted', st.reason, now);
  else if (st.status === 'dropped') outcome.failed(row, 'dropped', st.reason, now);
  else if (st.status === 'not_found') {
    const lost =
      row.status === 'broadcast' &&
      row.broadcast_at !== null &&
      now - row.broadcast_at > s.config.submitter.drop_after_ms;
    if (row.status === 'built' || lost)
      await broadcast(s, chain, row, now, (r, why, at) => outcome.failed(r, 'dropped', why, at));
  } else if (row.status === 'built') {
    // Seen by the node although our broadcast was not recorded (a crash right after sending).
    setStatus(s, row.txid, 'broadcast', { broadcast_at: now }, now);
  }
}

/** Follows every unfinished transaction of the submitter one step (settle-accounts is followed by signer/accounts/settler.ts). */
export async function followTransactions(s: Services, chain: Chain, now = Date.now()): Promise<void> {
  // Runs every submitter tick: SQL prepared once rather than built by drizzle each time.
  const open = prepared(
    s.store.sqlite,
    "select * from settlements where status in ('built', 'broadcast') and kind <> 'settle-accounts' order by created_at asc",
  ).all() as SettlementRow[];
  const outcome: TxOutcome = {
    confirmed: (row, st, at) =>
      row.kind !== 'reclaim'
        ? settle(s, row, st.blockHeight, st.itemResults, at)
        : setStatus(s, row.txid, 'confirmed', { block_height: st.blockHeight }, at),
    failed: (row, status, reason, at) => release(s, row, status, reason, at),
  };
  for (const row of open) await followTransaction(s, chain, row, outcome, now);
}

/**
 * Builds, records and broadcasts the next batch when it is full, its oldest result has waited
 * long enough, or a task in it nears its deadline. Tasks nearest their deadline go first, so a
 * backlog never lets a finished task become refundable. Tasks that several nodes ran settle
 * through settle-redundant (with every vote as evidence), the rest through complete-tasks.
 */
export async function submitBatch(s: Services, chain: Chain, now = Date.now()): Promise<string | null> {
  const { batch_size, max_wait_ms, urgent_blocks } = s.config.submitter;
  const tip = s.chain.tipHeight;
  // Runs every submitter tick while none is open: prepared once, and only the columns an item needs (not the output).
  const ready = (
    prepared(
      s.store.sqlite,
      // Direct inference (source 'direct') is paid by API tokens, never escrowed: nothing to settle.
      "select task_id, chain_task_id, deadline, completed_at, output_hash, signature, node_public_key, votes from inference_tasks where status = 'completed' and source = 'chain' and settlement_txid is null order by deadline asc, completed_at asc limit ?",
    ).all(batch_size) as ReadyTask[]
  ).filter((t) => tip === null || t.deadline === null || t.deadline > tip);
  if (ready.length === 0) return null;
  const redundant = ready.filter((t) => t.votes !== null && readVotes(t.votes).length > 1);
  const single = ready.filter((t) => !redundant.includes(t));
  // The group whose first task has the nearest deadline goes first.
  const group =
    redundant.length && (!single.length || ready[0] === redundant[0])
      ? redundant.slice(0, MAX_REDUNDANT_BATCH)
      : single;
  const oldest = Math.min(...group.map((t) => t.completed_at ?? now));
  const urgent = tip !== null && group.some((t) => t.deadline !== null && t.deadline - tip <= urgent_blocks);
  const full = group.length >= (group === single ? batch_size : MAX_REDUNDANT_BATCH);
  if (!full && !urgent && now - oldest < max_wait_ms) return null;
  const tx = group === single ? await buildComplete(chain, single) : await buildRedundant(chain, group);
  record(s, tx.signed, tx.kind, tx.taskIds, now);
  failpoint('after-record');
  const row = s.store.db.select().from(settlements).where(eq(settlements.txid, tx.signed.txid)).get()!;
  await broadcast(s, chain, row, now);
  return tx.signed.txid;
}

/** A built settlement and the tasks it carries, in the order of its per-item results. */
interface BuiltSettlement {
  signed: SignedTx;
  kind: SettleKind;
  taskIds: string[];
}

async function buildComplete(chain: Chain, ready: ReadyTask[]): Promise<BuiltSettlement> {
  // Grouped by node: the contract pays consecutive items of one node with a single transfer.
  // The batch is recorded in this same order, so per-item results map back to the right tasks.
  const ordered = orderForSettlement(ready.map((t) => ({ task: t, nodePublicKey: t.node_public_key! })));
  const batch = ordered.map((o) => o.task);
  const items = ordered.map(({ task: t }) => ({
    chainTaskId: BigInt(t.chain_task_id ?? t.task_id),
    outputHash: t.output_hash!,
    nodePublicKey: t.node_public_key!,
    signature: t.signature!,
  }));
  const signed = await chain.buildCompleteTasks(items);
  return { signed, kind: 'complete-tasks', taskIds: batch.map((t) => t.task_id) };
}

async function buildRedundant(chain: Chain, ready: ReadyTask[]): Promise<BuiltSettlement> {
  const tasks = ready.map((t) => ({
    taskId: BigInt(t.chain_task_id ?? t.task_id),
    results: readVotes(t.votes).map((v) => ({
      outputHash: v.output_hash,
      nodePublicKey: v.public_key,
      signature: v.signature,
    })),
  }));
  const signed = await chain.buildContractCall(INFERENCE_ESCROW, 'settle-redundant', settleRedundantArgs(tasks));
  return { signed, kind: 'settle-redundant', taskIds: ready.map((t) => t.task_id) };
}

/** When configured, calls reclaim for timed-out tasks whose deadline block is behind the tip. */
export async function reclaimForUsers(s: Services, chain: Chain, now = Date.now()): Promise<string | null> {
  const tip = s.chain.tipHeight;
  if (!s.config.submitter.reclaim_for_users || tip === null) return null;
  const task = s.store.db
    .select()
    .from(inferenceTasks)
    .where(
      and(
        eq(inferenceTasks.status, 'timeout'),
        eq(inferenceTasks.source, 'chain'),
        isNull(inferenceTasks.reclaim_txid),
        isNull(inferenceTasks.node_payout),
      ),
    )
    .orderBy(asc(inferenceTasks.deadline))
    .limit(1)
    .get();
  if (!task || task.deadline === null || task.deadline > tip || task.chain_task_id === null) return null;
  const tx = await chain.buildReclaim(BigInt(task.chain_task_id));
  record(s, tx, 'reclaim', [task.task_id], now);
  await broadcast(s, chain, s.store.db.select().from(settlements).where(eq(settlements.txid, tx.txid)).get()!, now);
  return tx.txid;
}

/** Nonces of the open (built or broadcast) settlements of every kind: the nonce sequence stays above them. */
export function openNonces(s: Pick<Services, 'store'>): bigint[] {
  return (
    prepared(s.store.sqlite, "select nonce from settlements where status in ('built', 'broadcast')").all() as {
      nonce: string;
    }[]
  ).map((r) => BigInt(r.nonce));
}

/** Whether `err` is the refusal of a second open settlement with one nonce (settlements_open_nonce_idx). */
export function isOpenNonceConflict(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : '';
  // SQLite names the column, PostgreSQL the index.
  return (
    (e?.code === 'SQLITE_CONSTRAINT_UNIQUE' && message.includes('settlements.nonce')) ||
    (e?.code === '23505' && message.includes('settlements_open_nonce_idx'))
  );
}

/**
 * Ends a leader-only step refused by the database, rather than failing it: a FencedError (this
 * replica no longer leads; the new leader carries on), or another open settlement holding the
 * nonce just built (the transaction is never sent; the nonce sequence is read again). True when
 * `err` was one of those; any other error is the caller's to throw.
 */
export function refusedWrite(s: Services, chain: Chain, err: unknown): boolean {
  if (err instanceof FencedError) {
    s.log.warn({ held: err.held, current: err.current }, 'no longer the leader: leader-only write refused');
    return true;
  }
  if (!isOpenNonceConflict(err)) return false;
  s.log.warn({ err }, 'an open settlement already holds this nonce: transaction not recorded, nonces read again');
  chain.resetNonces?.(() => openNonces(s));
  return true;
}

/** One submitter step: follow open transactions; send a new one only when none is open (one nonce in flight). */
export async function submitterTick(s: Services, chain: Chain, now = Date.now()): Promise<void> {
  try {
    await followTransactions(s, chain, now);
    const open = prepared(
      s.store.sqlite,
      "select txid from settlements where status in ('built', 'broadcast') limit 1",
    ).get();
    if (open) return;
    (await submitBatch(s, chain, now)) ?? (await reclaimForUsers(s, chain, now));
  } catch (err) {
    if (!refusedWrite(s, chain, err)) throw err;
  }
}
