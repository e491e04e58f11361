/**
 * The agent's loop: register, heartbeat on a timer, pull tasks (long-poll) while there is room,
 * compute each (batched with its neighbours), sign and post it. A result is posted at most once a
 * lease and never after its lease is gone; when the signer is unreachable the agent backs off with
 * jitter, and registers again once it answers.
 */
import type { Logger } from 'pino';
import {
  MAX_TASKS_PER_CALL,
  type NodeStatus,
  type PulledTask,
  type RegisterNodeRequest,
} from '../../protocol/index.js';
import { backoffDelay, codeOf, sleep, SignerError, type SignerClient } from '../client/index.js';
import { ResultPoster } from './poster.js';
import { computeTask, type Completion, type TaskContext } from './task.js';

export { computeTask, signResult, TaskFailure, type Completion, type TaskContext } from './task.js';

/** Loop settings (config `client.*`, `runtime.max_in_flight`). */
export interface LoopOptions {
  pullWaitS: number;
  heartbeatIntervalMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  maxInFlight: number;
  /** Long-polls kept open at once, so one request's round trip never leaves the workers idle (default 1). */
  pullConcurrency?: number;
}

/** What the loop needs besides the client: the registration body, task computing, and health. */
export interface LoopDeps {
  client: SignerClient;
  registration: () => RegisterNodeRequest;
  task: TaskContext;
  /** True while the node should report `degraded` (e.g. a worker was replaced recently). */
  degraded: () => boolean;
  log: Logger;
}

/** The running agent. */
export class Agent {
  private stopped = new AbortController();
  private inFlight = new Set<string>();
  private posted = new Map<string, true>();
  /** A later lease of a task that arrived while an earlier lease's run of it was in flight. */
  private relet = new Map<string, PulledTask>();
  private slotWaiters: (() => void)[] = [];
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeatBusy = false;
  private failures = 0;
  private pulling: Promise<void> | null = null;
  private poster: ResultPoster;
  /**
   * Most tasks one pull asks for: half the in-flight room (all of it with one pull loop), so that two
   * pulls overlap (one batch computes while the next is fetched) instead of moving all tasks in lockstep.
   */
  private readonly pullSize: number;
  /** True once the first registration succeeded. */
  registered = false;
  /** When each heartbeat was due (ms, the timer firing), newest last, at most 100. */
  readonly heartbeatTimes: number[] = [];
  /** Tasks posted with a result, posted as failures, and dropped (lease lost). */
  readonly counts = { completed: 0, failed: 0, dropped: 0 };

  constructor(
    private deps: LoopDeps,
    private opts: LoopOptions,
  ) {
    // 768 KiB of outputs per request stays under the signer's default 1 MiB body limit.
    // Half the room at most, not a 1/pullConcurrency share: every pull is a signed request (a signature, a
    // round trip, the answer's parsing), and in bench:e2e pulls of 16 instead of 8 (32 in flight, 4 loops)
    // spent ~0.17 ms less main-thread CPU per result while two pulls still overlap.
    const loops = Math.min(2, Math.max(1, opts.pullConcurrency ?? 1));
    this.pullSize = Math.max(1, Math.min(MAX_TASKS_PER_CALL, Math.ceil(opts.maxInFlight / loops)));
    this.poster = new ResultPoster((batch) => deps.client.completeBatch(batch), {
      maxItems: MAX_TASKS_PER_CALL,
      maxBytes: 786_432,
      maxInFlight: 2,
    });
  }

  /** The status heartbeats report. */
  status(): NodeStatus {
    if (this.inFlight.size >= this.opts.maxInFlight) return 'busy';
    return this.deps.degraded() ? 'degraded' : 'online';
  }

  /** Registers in the background (retrying until the signer answers or `stop`), then heartbeats and pulls. */
  start(): void {
    this.pulling = (async () => {
      await this.retry(() => this.register());
      if (this.stopped.signal.aborted) return;
      this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.opts.heartbeatIntervalMs);
      this.registered = true;
      await Promise.all(Array.from({ length: Math.max(1, this.opts.pullConcurrency ?? 1) }, () => this.pullLoop()));
    })();
  }

  /** Stops pulling, waits for tasks in flight (at most `graceMs`), says offline. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped.abort();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.freeSlot();
    const deadline = Date.now() + graceMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) await sleep(20);
    await this.pulling;
    await this.deps.client.heartbeat('offline').catch(() => undefined);
  }

  /** Computes and posts one leased task (the pull loop calls this; exposed for tests). */
  async handle(task: PulledTask): Promise<void> {
    if (this.posted.has(task.task_id)) return;
    if (this.inFlight.has(task.task_id)) {
      // The signer leased it to us again: the earlier lease ran out while it ran. If that run's
      // result is refused for it, this lease is run; otherwise the task is done and this is dropped.
      if (task.lease_expires_at > 0) this.relet.set(task.task_id, task);
      return;
    }
    this.inFlight.add(task.task_id);
    try {
      if (this.leaseLost(task)) return;
      await this.post(task, await computeTask(task, this.deps.task));
    } catch (err) {
      // Transport trouble while fetching the model or input: leave the lease to expire so another attempt can run it.
      this.deps.log.warn({ task_id: task.task_id, err: (err as Error).message }, 'task not computed');
    } finally {
      this.inFlight.delete(task.task_id);
      const again = this.relet.get(task.task_id);
      this.relet.delete(task.task_id);
      if (again && !this.posted.has(task.task_id)) void this.handle(again);
      this.freeSlot();
    }
  }

  private async register() {
    const body = this.deps.registration();
    await this.deps.client.register(body);
    this.deps.log.info({ node_id: body.node_id, models: body.supported_models.length }, 'registered with the signer');
  }

  private async heartbeat() {
    this.heartbeatTimes.push(Date.now());
    if (this.heartbeatTimes.length > 100) this.heartbeatTimes.shift();
    // One at a time: a slow or stuck signer must not pile up heartbeats.
    if (this.heartbeatBusy) return;
    this.heartbeatBusy = true;
    try {
      await this.deps.client.heartbeat(this.status());
      await this.recovered();
    } catch (err) {
      await this.onError(err, false);
    } finally {
      this.heartbeatBusy = false;
    }
  }

  private freeSlot(): void {
    for (const wake of this.slotWaiters.splice(0)) wake();
  }

  private async pullLoop() {
    while (!this.stopped.signal.aborted) {
      const free = this.opts.maxInFlight - this.inFlight.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
        continue;
      }
      let tasks: PulledTask[];
      try {
        tasks = await this.deps.client.pullMany(
          Math.min(free, this.pullSize),
          this.opts.pullWaitS,
          this.stopped.signal,
        );
        await this.recovered();
      } catch (err) {
        if (!this.stopped.signal.aborted) await this.onError(err, true);
        continue;
      }
      for (const task of tasks) void this.handle(task);
    }
  }

  private async post(task: PulledTask, completion: Completion) {
    const { request } = completion;
    for (let attempt = 0; ; attempt++) {
      if (this.leaseLost(task)) return;
      let refusal: SignerError;
      try {
        const outcome = await this.poster.post(completion);
        if (outcome.success) {
          this.remember(task.task_id);
          if (request.error !== undefined) this.counts.failed++;
          else this.counts.completed++;
          this.deps.log.info(
            { task_id: task.task_id, output_hash: request.output_hash, error: request.error },
            request.error ? 'task failed, reported' : 'task completed',
          );
          return;
        }
        const why = `result for task ${task.task_id}: HTTP ${outcome.http_status}: ${outcome.error}`;
        refusal = new SignerError(outcome.http_status, why, codeOf(outcome.code));
      } catch (err) {
        refusal = err instanceof SignerError ? err : new SignerError(0, (err as Error).message);
      }
      if (refusal.retryable && !this.stopped.signal.aborted) {
        await sleep(backoffDelay(attempt, this.opts.backoffBaseMs, this.opts.backoffMaxMs), this.stopped.signal);
        continue;
      }
      // 409 (lease lost, or our earlier post did land) and other refusals: this lease is over. The task
      // is not remembered as posted: the signer leases it to us again only when it wants our result
      // (an earlier lease ran out during the check and the task came back to us), and then it runs.
      this.counts.dropped++;
      this.deps.log.warn({ task_id: task.task_id, err: refusal.message }, 'result not accepted');
      return;
    }
  }

  /** True (and counted as dropped) when the lease has run out: the task is someone else's now. */
  private leaseLost(task: PulledTask): boolean {
    if (task.lease_expires_at <= 0 || Date.now() <= task.lease_expires_at) return false;
    this.counts.dropped++;
    this.deps.log.warn({ task_id: task.task_id }, 'lease expired; not computing or posting this task');
    return true;
  }

  private remember(taskId: string) {
    this.posted.set(taskId, true);
    if (this.posted.size > 10_000) this.posted.delete(this.posted.keys().next().value!);
  }

  /** After a run of failures the signer may have restarted or dropped us: register again. */
  private async recovered() {
    if (this.failures === 0) return;
    this.failures = 0;
    await this.register().catch((err: Error) => this.deps.log.warn({ err: err.message }, 're-register failed'));
  }

  private async onError(err: unknown, wait: boolean) {
    const e = err instanceof SignerError ? err : new SignerError(0, (err as Error).message);
    // The signer lost this node (restarted on a fresh database, or pruned it): register again.
    if (e.code === 'node_not_registered') {
      await this.register().catch(() => undefined);
    } else if (e.code === 'node_offline') {
      await this.deps.client.heartbeat(this.status()).catch(() => undefined);
    } else {
      this.failures++;
      this.deps.log.warn({ err: e.message, failures: this.failures }, 'signer call failed');
    }
    if (wait)
      await sleep(backoffDelay(this.failures, this.opts.backoffBaseMs, this.opts.backoffMaxMs), this.stopped.signal);
  }

  private async retry(fn: () => Promise<void>) {
    for (let attempt = 0; !this.stopped.signal.aborted; attempt++) {
      try {
        return await fn();
      } catch (err) {
        this.deps.log.warn({ err: (err as Error).message, attempt }, 'register failed; retrying');
        await sleep(backoffDelay(attempt, this.opts.backoffBaseMs, this.opts.backoffMaxMs), this.stopped.signal);
      }
    }
  }
}
