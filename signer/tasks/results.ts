/**
 * Accepting a node's result: it must come from the node the task is leased to, its output hash
 * must be the hash of its output, and its SIP-018 signature must verify with that node's key
 * over exactly what the escrow contract will check. An error report ends the attempt instead.
 */
import {
  canonicalOutputs,
  canonicalSignatureProblem,
  jsonHash,
  type CompleteTaskRequest,
  type InferenceOutputs,
  type TaskStatus,
} from '../../protocol/index.js';
import { atomic, isRetryable, prepared } from '../db/index.js';
import { ApiError } from '../errors.js';
import { recordOutcome, type NodeRow } from '../nodes/index.js';
import type { Services } from '../services.js';
import { failAttempt } from './leases.js';
import { getTask, transition, type TaskRow } from './state.js';
import { anotherNodeServes, keepFirstResult } from './spot-checks.js';
import { addVote, decide, outputOf, type Vote } from './votes.js';
import { sealedOutputHash } from './sealed.js';

/** A result whose checks passed, to be recorded while its lease is still the one checked. */
interface CheckedResult {
  task: TaskRow;
  body: CompleteTaskRequest;
  outputHash: string;
  now: number;
}

/** Checks and records a result (or error report) posted by `node`; returns the updated task. */
export async function acceptResult(
  s: Services,
  node: NodeRow,
  body: CompleteTaskRequest,
  now = Date.now(),
): Promise<TaskRow> {
  const checked = await check(s, node, body, now);
  if (!('outputHash' in checked)) return checked;
  const row = await recordSoon(s, node, checked);
  announce(s, row, checked);
  return row;
}

/**
 * What a recorded result does once its transaction commits (a log line, a metric, a bond to read
 * again): a transaction body may run again on PostgreSQL (a serialization failure retries the
 * whole group) and a refused result's savepoint rolls back, so neither must have happened twice.
 */
type Effects = (() => void)[];

/**
 * Records one result in its own savepoint; its error refuses that result alone, except a
 * PostgreSQL serialization failure or deadlock, which must abort the whole transaction so that
 * `atomic` runs the group again: refusing a valid result for it would lose it.
 */
function recordOne(
  s: Services,
  node: NodeRow,
  checked: CheckedResult,
): { row: TaskRow; effects: Effects } | { err: unknown } {
  const effects: Effects = [];
  try {
    return { row: atomic(s.store.sqlite, () => record(s, node, checked, effects)), effects };
  } catch (err) {
    if (isRetryable(err)) throw err;
    return { err };
  }
}

/** A checked result waiting for the next group commit. */
interface Waiting {
  node: NodeRow;
  checked: CheckedResult;
  resolve: (row: TaskRow) => void;
  reject: (err: unknown) => void;
}
const waiting = new WeakMap<Services, Waiting[]>();

/**
 * Records a checked result with the others checked in the same turn of the event loop: one SQL
 * transaction for all of them (a commit is most of a completion's SQLite cost), each result in its
 * own savepoint, so one refused result rolls back alone, as in `acceptResults`. Nobody is answered
 * before the commit.
 */
function recordSoon(s: Services, node: NodeRow, checked: CheckedResult): Promise<TaskRow> {
  let queue = waiting.get(s);
  if (!queue) waiting.set(s, (queue = []));
  return new Promise((resolve, reject) => {
    if (queue.push({ node, checked, resolve, reject }) === 1) setImmediate(() => commitWaiting(s));
  });
}

function commitWaiting(s: Services): void {
  const items = waiting.get(s)!.splice(0);
  let outcomes: ReturnType<typeof recordOne>[];
  try {
    outcomes = atomic(s.store.sqlite, () => items.map((w) => recordOne(s, w.node, w.checked)));
  } catch (err) {
    for (const w of items) w.reject(err);
    return;
  }
  for (const [i, o] of outcomes.entries()) {
    if ('row' in o) {
      for (const effect of o.effects) effect();
      items[i]!.resolve(o.row);
    } else items[i]!.reject(o.err);
  }
}

/**
 * `acceptResult` for several results of one node (complete-batch): each is checked on its own,
 * and those that pass are recorded in one SQL transaction, each in its own savepoint, so one
 * commit serves the batch and a refused result does not sink the others. Returns each
 * result's updated task or the error that refused it, in order.
 */
export async function acceptResults(
  s: Services,
  node: NodeRow,
  bodies: CompleteTaskRequest[],
): Promise<(TaskRow | Error)[]> {
  const settled = await Promise.allSettled(bodies.map((body) => check(s, node, body, Date.now())));
  const recorded: [TaskRow, CheckedResult, Effects][] = [];
  const out = atomic(s.store.sqlite, () => {
    // A retried transaction starts over: only its last run's results are announced.
    recorded.length = 0;
    return settled.map((r): TaskRow | Error => {
      if (r.status === 'rejected') return r.reason as Error;
      const checked = r.value;
      if (!('outputHash' in checked)) return checked;
      const o = recordOne(s, node, checked);
      if ('err' in o) return o.err as Error;
      recorded.push([o.row, checked, o.effects]);
      return o.row;
    });
  });
  for (const [row, checked, effects] of recorded) {
    for (const effect of effects) effect();
    announce(s, row, checked);
  }
  return out;
}

/** Every check of a result, or the whole handling of an error report (which returns the task's new row). */
async function check(
  s: Services,
  node: NodeRow,
  body: CompleteTaskRequest,
  now: number,
): Promise<CheckedResult | TaskRow> {
  if (body.inference_node_id !== node.node_id) {
    throw new ApiError(
      'forbidden',
      `inference_node_id "${body.inference_node_id}" is not the node that signed this request ("${node.node_id}"); post results as the node that holds the lease`,
    );
  }
  const task = getTask(s.store, body.task_id);
  if (!task) throw new ApiError('task_not_found', `task_id "${body.task_id}" is not a known task`);
  if (task.status !== 'in_progress' || task.inference_node_id !== node.node_id) {
    const again = task.inference_node_id === node.node_id && task.output_hash !== null;
    throw new ApiError(
      'conflict',
      again
        ? `task ${task.task_id} already has a result from ${node.node_id} (status ${task.status}); a result is accepted once`
        : `task ${task.task_id} is not leased to ${node.node_id} (status ${task.status}); pull a task before posting its result`,
    );
  }
  if (body.error !== undefined) {
    const to = failAttempt(s, task, `node ${node.node_id} reported: ${body.error}`, now);
    return { ...getTask(s.store, task.task_id)!, status: to };
  }
  if (body.output === undefined)
    throw new ApiError('bad_request', 'output is required: the output tensors (or set error to report a failure)');
  // An encrypted task's output is sealed to its requester: the node's signature over the ciphertext stands in for a hash the signer cannot recompute.
  const outputHash = task.privacy === 'encrypted' ? sealedOutputHash(s, task, node, body) : plainOutputHash(task, body);
  const chainTaskId = task.chain_task_id ?? task.task_id;
  const malleated = canonicalSignatureProblem(body.signature);
  if (malleated)
    throw new ApiError(
      'signature_not_canonical',
      `signature ${malleated}; the escrow pays only canonical signatures (low s, recovery byte 00 or 01), as signTaskResult makes them`,
    );
  const signed = { escrow: s.escrow, taskId: BigInt(chainTaskId), inputHash: task.input_hash, outputHash };
  if (!(await s.verifier.taskResult(signed, s.chainId, body.signature, node.public_key))) {
    throw new ApiError(
      'unauthorized',
      `signature does not verify with the public key of ${node.node_id}; sign the SIP-018 message {escrow: ${s.escrow}, task-id: u${chainTaskId}, input-hash, output-hash} with chain id ${s.chainId}`,
    );
  }
  return { task, body, outputHash, now };
}

/** The canonical hash of a clear-text output, which must be the output hash the node signed. */
function plainOutputHash(task: TaskRow, body: CompleteTaskRequest): string {
  let outputHash: string;
  try {
    // Hashed in canonical form: an output whose floats are not rounded to the task's precision
    // does not match its own hash, so every accepted output compares with other nodes' by hash.
    outputHash = jsonHash(
      task.precision > 0 ? canonicalOutputs(body.output as InferenceOutputs, task.precision) : body.output,
    );
  } catch (e) {
    throw new ApiError('bad_request', `output cannot be hashed: ${(e as Error).message}`);
  }
  if (outputHash !== body.output_hash) {
    throw new ApiError(
      'bad_request',
      `output_hash ${body.output_hash} is not the sha256 of the canonical JSON of output (${outputHash}) with floats rounded to ${task.precision} significant digits; round with protocol/tensor canonicalOutputs, hash with protocol/hash jsonHash`,
    );
  }
  return outputHash;
}

/** The completion and the node's outcome; to be run inside a SQL transaction (what else happens goes to `effects`). */
function record(s: Services, node: NodeRow, { task, body, outputHash, now }: CheckedResult, effects: Effects): TaskRow {
  // The check awaited a thread: the lease may have ended (and moved on) meanwhile. Only what may have
  // changed is read again (the whole row costs about four times as much to read).
  const current = leaseNow(s, task);
  if (
    current?.status !== 'in_progress' ||
    current.inference_node_id !== node.node_id ||
    current.attempts !== task.attempts
  ) {
    throw new ApiError(
      'conflict',
      `the lease of ${node.node_id} on task ${task.task_id} ended while its result was being checked (status ${current?.status ?? 'gone'}); pull again`,
    );
  }
  const output = JSON.stringify(body.output);
  if (current.runs_needed > 1)
    return recordVote(
      s,
      node,
      current,
      {
        node_id: node.node_id,
        public_key: node.public_key,
        output_hash: outputHash,
        signature: body.signature,
        confidence: body.confidence ?? null,
        output,
        ...(body.sealed_signature ? { sealed_signature: body.sealed_signature } : {}),
      },
      now,
      effects,
    );
  const updated = transition(
    s.store,
    task.task_id,
    'completed',
    {
      reason: `result from ${node.node_id} verified (output ${outputHash.slice(0, 12)}…)`,
      nodeId: node.node_id,
      expect: ['in_progress'],
      now,
    },
    {
      output,
      confidence: body.confidence,
      output_hash: outputHash,
      signature: body.signature,
      sealed_signature: body.sealed_signature ?? null,
      node_public_key: node.public_key,
      completed_at: now,
      lease_expires_at: null,
    },
    current,
  );
  recordOutcome(s.store, node.node_id, true, latencyOf(task, now), s.config.scheduler.reputation_half_life_ms, now);
  return updated;
}

/**
 * The columns of a task that change while it is leased (its lease, the votes and runs of a task
 * that needs several results, a reclaim sent meanwhile): the rest of the row stays as `check` read it.
 */
const LEASE_COLUMNS =
  'status, inference_node_id, attempts, leased_at, lease_expires_at, runs_needed, votes, reclaim_txid, updated_at';

/** `task` as it is now: the row `check` read with its lease columns read again; undefined if it is gone. */
function leaseNow(s: Services, task: TaskRow): TaskRow | undefined {
  const fresh = prepared(s.store.sqlite, `select ${LEASE_COLUMNS} from inference_tasks where task_id = ?`).get(
    task.task_id,
  ) as Partial<TaskRow> | undefined;
  return fresh && { ...task, ...fresh };
}

/**
 * One result of a task that needs several: it waits for the next node (pending again, and never
 * leased to a node that already voted), or completes with the majority's output once enough
 * nodes agree. Nodes outside the majority lose reputation here and their stake on chain.
 */
function recordVote(s: Services, node: NodeRow, task: TaskRow, vote: Vote, now: number, effects: Effects): TaskRow {
  const votes = addVote(task.votes, vote);
  const halfLife = s.config.scheduler.reputation_half_life_ms;
  const latency = latencyOf(task, now);
  const cleared = { inference_node_id: null, leased_at: null, lease_expires_at: null };
  let runs = task.runs_needed;
  if (task.security === 1 && votes.length === 1 && !anotherNodeServes(s, task.artifact_hash, [node.node_id], task)) {
    // A sampled check with nobody to run it would only let the task time out: settle the one result.
    recordOutcome(s.store, node.node_id, true, latency, halfLife, now);
    return keepFirstResult(s, task, vote, 'no other online node serves the model', now, effects);
  }
  const ctx = (reason: string) => ({ reason, nodeId: node.node_id, expect: ['in_progress'] as const, now });
  if (votes.length < runs) {
    recordOutcome(s.store, node.node_id, true, latency, halfLife, now);
    return transition(
      s.store,
      task.task_id,
      'pending',
      ctx(
        `result ${votes.length} of ${runs} from ${node.node_id} (output ${vote.output_hash.slice(0, 12)}…); another node runs it`,
      ),
      { ...cleared, votes: JSON.stringify(votes) },
      task,
    );
  }
  const outcome = decide(votes);
  if (outcome.kind === 'more') {
    runs = outcome.runs;
    effects.push(() =>
      s.log.warn(
        { task_id: task.task_id, hashes: votes.map((v) => v.output_hash.slice(0, 12)) },
        'nodes disagree; asking more nodes',
      ),
    );
    return transition(
      s.store,
      task.task_id,
      'pending',
      ctx(`${votes.length} results disagree with no majority; ${runs} nodes will run it`),
      { ...cleared, runs_needed: runs, votes: JSON.stringify(votes) },
      task,
    );
  }
  if (outcome.kind === 'no_majority') {
    for (const v of votes) recordOutcome(s.store, v.node_id, false, null, halfLife, now);
    return transition(
      s.store,
      task.task_id,
      'failed',
      ctx(`no output has a majority among ${votes.length} nodes; the fee is refundable after the deadline`),
      { ...cleared, votes: JSON.stringify(votes), error: 'no majority among nodes' },
      task,
    );
  }
  const agreeing = votes.filter((v) => v.output_hash === outcome.outputHash);
  const first = agreeing[0]!;
  for (const v of agreeing)
    if (v.node_id === node.node_id) recordOutcome(s.store, v.node_id, true, latency, halfLife, now);
  for (const v of outcome.dissenters) {
    recordOutcome(s.store, v.node_id, false, null, halfLife, now);
    // Outvoted: no more tasks until its bond is read again (slashed, once this task settles).
    effects.push(() => s.bonds?.forget(v.public_key));
  }
  if (task.security === 1)
    effects.push(() => s.metrics.spotChecks.inc({ outcome: outcome.dissenters.length ? 'disagreed' : 'agreed' }));
  if (outcome.dissenters.length)
    effects.push(() =>
      s.log.warn(
        { task_id: task.task_id, dissenters: outcome.dissenters.map((v) => v.node_id) },
        'nodes outside the majority: their stake is slashed at settlement',
      ),
    );
  return transition(
    s.store,
    task.task_id,
    'completed',
    ctx(
      `${agreeing.length} of ${votes.length} nodes agree (output ${outcome.outputHash.slice(0, 12)}…)${outcome.dissenters.length ? `; outvoted: ${outcome.dissenters.map((v) => v.node_id).join(', ')}` : ''}`,
    ),
    {
      output: outputOf(votes, outcome.outputHash),
      confidence: first.confidence,
      output_hash: outcome.outputHash,
      signature: first.signature,
      // Encrypted: the output kept is the first agreeing node's ciphertext, and this its signature over it.
      sealed_signature: first.sealed_signature ?? null,
      node_public_key: first.public_key,
      inference_node_id: first.node_id,
      votes: JSON.stringify(votes),
      completed_at: now,
      lease_expires_at: null,
    },
    task,
  );
}

function latencyOf(task: TaskRow, now: number): number | null {
  return task.leased_at === null ? null : now - task.leased_at;
}

/** After the commit: metrics, and whoever waits for the task (or the next node, for a task that needs another run). */
function announce(s: Services, row: TaskRow, { task, now }: CheckedResult): void {
  s.attempts.emit('ended', row.task_id, row.status as TaskStatus);
  if (row.status === 'pending') {
    s.pending.notify();
    return;
  }
  if (row.status !== 'completed') return;
  s.metrics.completions.inc();
  const latency = latencyOf(task, now);
  if (latency !== null) s.metrics.inferenceLatency.observe(latency / 1000);
}
