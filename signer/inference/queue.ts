/**
 * The direct-inference queue. A token holder's request becomes a `source = 'direct'` task in the
 * same table as chain tasks, so the same scheduler (priority, then age) leases it to the same
 * node agents, and the same result check (signature, output hash) accepts it. What is direct
 * here: the bound on pending + running requests, each request's own timeout, and waking the
 * callers that wait for their result. Direct tasks are never escrowed nor settled on chain; a
 * token bound to a prepaid account pays for each call from its deposit (signer/accounts/metered.ts).
 *
 * Replicas on one PostgreSQL (issue 15) each keep their own queue of the requests they took, but
 * the node's result may reach any replica: there each replica polls its waiting tasks' status,
 * since the `ended` event only fires on the replica that accepted the result. A replica starting
 * adopts every open direct request, as a restarted SQLite signer does (its own, or those of a
 * replica that stopped); so that a request tracked by two replicas is metered once, the replica
 * that finishes it first claims it in `replay_keys` (a one-time key, as a signature is).
 */
import { and, eq, inArray, notInArray } from 'drizzle-orm';
import { sha256Hex, type OipTensor, type TaskStatus } from '../../protocol/index.js';
import type { ModelHead } from '../catalog/index.js';
import { inferenceTasks, inputBlobs, prepared } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { Services } from '../services.js';
import { createTask, getTask, IllegalTransitionError, transition, type TaskRow } from '../tasks/index.js';
import { directContext, type DirectContext } from './context.js';
import { ModelIoReader } from './io.js';
import { meterTask } from './metering.js';
import { timeoutMessage } from './models.js';
import { markDue, markFailed } from '../accounts/index.js';
import { DIRECT_TASK_ID_BASE, directTaskId } from '../tasks/index.js';

export { DIRECT_TASK_ID_BASE, directTaskId };

/**
 * One request's input. `body`, when given, is the request's own JSON bytes (`{"inputs": [...],
 * ...}`), stored as the input blob as sent: the node reads its `inputs` and ignores the rest, and
 * serializing a large tensor again would cost the signer more than the rest of the request.
 */
export interface QueuedInput {
  inputs: OipTensor[];
  body?: Uint8Array;
  /** An encrypted request: the hash of the envelope its caller sealed to reserved nodes (no clear bytes here). */
  sealedInputHash?: string;
}

/** How to queue one request (or a batch of them). */
export interface EnqueueOptions {
  model: ModelHead;
  tokenId: number | null;
  requestId: string;
  priority: number;
  timeoutMs: number;
  batch?: boolean;
  /**
   * Runs inside the transaction that creates the tasks, with them: a throw creates none. A token
   * bound to a prepaid account reserves the calls' price here (signer/accounts/metered.ts), so two
   * concurrent calls cannot both spend the same headroom.
   */
  within?: (tasks: TaskRow[]) => void;
}

/** 503 with the seconds a client should wait before retrying. */
export class QueueFullError extends ApiError {
  constructor(
    readonly retryAfterSeconds: number,
    message: string,
  ) {
    super('unavailable', message);
  }
}

const ACTIVE: TaskStatus[] = ['pending', 'in_progress'];

/** How often a replica on PostgreSQL looks for its requests' tasks ended on another replica. */
export const ENDED_POLL_MS = 250;

/** How long a finished request's claim is kept: far longer than any replica takes to see it ended. */
const FINISH_CLAIM_MS = 3_600_000;

/** Stores a clear request's input blob (what the node fetches, or gets inline, and checks against input_hash); returns its hash. */
function storeClearInput(store: Services['store'], item: QueuedInput, now: number): string {
  const bytes = Buffer.from(item.body ?? JSON.stringify({ inputs: item.inputs }));
  const inputHash = sha256Hex(bytes);
  store.db
    .insert(inputBlobs)
    .values({ sha256: inputHash, data: bytes, size: bytes.length, content_type: 'application/json', created_at: now })
    .onConflictDoNothing()
    .run();
  return inputHash;
}

/** Bounded priority queue of direct requests over the task table; one per signer. */
export class DirectInference {
  readonly #s: Omit<Services, 'inference'>;
  readonly #active = new Map<string, { ctx: DirectContext; timer: NodeJS.Timeout }>();
  readonly #waiters = new Map<string, ((task: TaskRow) => void)[]>();
  readonly #poll: NodeJS.Timeout | null = null;
  /** Inputs and outputs of the models requests name. */
  readonly io: ModelIoReader;

  constructor(s: Omit<Services, 'inference'>) {
    this.#s = s;
    this.io = new ModelIoReader(s);
    s.attempts.on('ended', (taskId, status) => {
      if (status !== 'pending' && this.#active.has(taskId)) this.#finish(taskId);
    });
    if (s.store.dialect === 'postgres') {
      this.#poll = setInterval(() => this.#pollEnded(), ENDED_POLL_MS);
      this.#poll.unref();
    }
    // After a restart, requests still queued or running keep their timeouts.
    const open = s.store.db
      .select()
      .from(inferenceTasks)
      .where(and(eq(inferenceTasks.source, 'direct'), inArray(inferenceTasks.status, ACTIVE)))
      .all();
    for (const task of open) this.#track(task.task_id, directContext(task));
  }

  /** Direct requests pending or running now. */
  get size(): number {
    return this.#active.size;
  }

  /** Queues one task per input, all or none; throws QueueFullError when they do not fit. */
  enqueue(items: QueuedInput[], o: EnqueueOptions, now = Date.now()): TaskRow[] {
    const { queue_size, retry_after_seconds } = this.#s.config.inference;
    if (this.#active.size + items.length > queue_size) {
      const need = items.length > 1 ? `; this batch needs ${items.length} places` : '';
      throw new QueueFullError(
        retry_after_seconds,
        `the direct-inference queue is full (${this.#active.size} of ${queue_size} requests pending or running${need}); retry after ${retry_after_seconds} s`,
      );
    }
    const ctx: DirectContext = {
      token_id: o.tokenId,
      request_id: o.requestId,
      version: o.model.version,
      expires_at: now + o.timeoutMs,
      batch: o.batch ?? false,
    };
    const { store } = this.#s;
    const rows = store.sqlite.transaction(() => {
      const created = items.map((item) => {
        const inputHash = item.sealedInputHash ?? storeClearInput(store, item, now);
        const taskId = directTaskId();
        const task = {
          task_id: taskId,
          chain_task_id: null,
          user_address: o.tokenId === null ? 'direct' : `token:${o.tokenId}`,
          context: JSON.stringify(ctx),
          fee: '0',
          infer_fee: '0',
          max_infer_time: o.timeoutMs,
          model_type: o.model.name,
          model_output: o.model.output_id,
          artifact_hash: o.model.artifact_hash,
          input_hash: inputHash,
          deadline: null,
          privacy: item.sealedInputHash ? 'encrypted' : 'standard',
          priority: o.priority,
          source: 'direct',
        };
        if (
          !createTask(
            store,
            task,
            `direct inference request ${o.requestId} (priority ${o.priority}, timeout ${o.timeoutMs} ms)`,
            now,
          )
        )
          throw new Error(`direct task id ${taskId} collided`);
        return getTask(store, taskId)!;
      });
      o.within?.(created);
      return created;
    })();
    for (const row of rows) this.#track(row.task_id, ctx);
    this.#s.pending.notify();
    return rows;
  }

  /** Resolves with the task once it has a result, failed or timed out (at once when it already has). */
  finished(taskId: string): Promise<TaskRow> {
    if (!this.#active.has(taskId)) return Promise.resolve(getTask(this.#s.store, taskId)!);
    return new Promise((resolve) => {
      const list = this.#waiters.get(taskId) ?? [];
      list.push(resolve);
      this.#waiters.set(taskId, list);
    });
  }

  /** Stops the timeout timers (the tasks stay in the database and are tracked again on the next start). */
  close(): void {
    if (this.#poll) clearInterval(this.#poll);
    for (const { timer } of this.#active.values()) clearTimeout(timer);
    this.#active.clear();
  }

  /** PostgreSQL: finishes the requests whose task another replica completed or failed (one indexed read). */
  #pollEnded(): void {
    const { store } = this.#s;
    if (this.#active.size === 0 || !store.sqlite.open) return;
    try {
      const ended = store.db
        .select({ task_id: inferenceTasks.task_id })
        .from(inferenceTasks)
        .where(
          and(inArray(inferenceTasks.task_id, [...this.#active.keys()]), notInArray(inferenceTasks.status, ACTIVE)),
        )
        .all();
      for (const { task_id } of ended) if (this.#active.has(task_id)) this.#finish(task_id);
    } catch (err) {
      this.#s.log.error({ err }, 'reading the status of direct requests failed; retrying');
    }
  }

  #track(taskId: string, ctx: DirectContext): void {
    const timer = setTimeout(() => this.#expire(taskId), Math.max(0, ctx.expires_at - Date.now()));
    timer.unref();
    this.#active.set(taskId, { ctx, timer });
  }

  /** The request's time is up: the task leaves the queue (or its node's lease) as `timeout`. */
  #expire(taskId: string): void {
    const { store } = this.#s;
    if (!store.sqlite.open || !this.#active.has(taskId)) return;
    try {
      const task = getTask(store, taskId);
      if (task && ACTIVE.includes(task.status as TaskStatus)) {
        const message = timeoutMessage(this.#s, task);
        transition(
          store,
          taskId,
          'timeout',
          { reason: message, nodeId: task.inference_node_id, expect: ACTIVE },
          { error: message, lease_expires_at: null },
        );
        // A running task's node has a free slot again.
        if (task.status === 'in_progress') this.#s.pending.notify();
      }
      this.#finish(taskId);
    } catch (err) {
      // Another replica ended it between the read and the update: it is finished all the same.
      if (err instanceof IllegalTransitionError && this.#active.has(taskId)) this.#finish(taskId);
      else this.#s.log.error({ err, task_id: taskId }, 'direct inference timeout failed');
    }
  }

  /** True for the one replica that meters a request (always on SQLite, where one signer tracks it). */
  #claimFinish(taskId: string): boolean {
    const { store } = this.#s;
    if (store.dialect !== 'postgres') return true;
    const claim = 'insert into replay_keys (key, expires_at) values (?, ?) on conflict do nothing';
    return prepared(store.sqlite, claim).run(`finished ${taskId}`, Date.now() + FINISH_CLAIM_MS).changes === 1;
  }

  /** Leaves the queue: meter the request and wake whoever waits for it. */
  #finish(taskId: string): void {
    const entry = this.#active.get(taskId)!;
    clearTimeout(entry.timer);
    this.#active.delete(taskId);
    const task = getTask(this.#s.store, taskId)!;
    let mine: boolean;
    try {
      mine = this.#claimFinish(taskId);
    } catch (err) {
      mine = false;
      this.#s.log.error({ err, task_id: taskId }, 'claiming a finished direct inference failed; not metered here');
    }
    if (mine) this.#charge(task, entry.ctx);
    const waiters = this.#waiters.get(taskId) ?? [];
    this.#waiters.delete(taskId);
    for (const wake of waiters) wake(task);
  }

  /** Meters a finished request, and pays or releases its prepaid charge. */
  #charge(task: TaskRow, ctx: DirectContext): void {
    const taskId = task.task_id;
    try {
      // A call charged to a prepaid account: paid when it completed, its reservation released
      // when it failed or timed out (a timeout emits no 'ended', so this is where it is seen).
      if (this.#s.accounts) {
        if (task.status === 'completed') markDue(this.#s.store, this.#s.chainId, taskId);
        else markFailed(this.#s.store, taskId);
      }
    } catch (err) {
      this.#s.log.error(
        { err, task_id: taskId },
        'charging a metered direct inference failed; the prepaid loop retries it',
      );
    }
    try {
      if (!ctx.batch) meterTask(this.#s, task, ctx);
    } catch (err) {
      this.#s.log.error({ err, task_id: taskId }, 'metering a direct inference failed');
    }
  }
}
