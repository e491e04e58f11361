/**
 * Spot checks that cannot run: a sampled level-1 task waits for a second, different, bonded node.
 * When none is online (the others left after the first result; for an encrypted task, none of the
 * others its input is sealed to; for a trusted-only one, no other trusted node) or the deadline is near, the first result stands, so a check never
 * turns an honest result into a refund.
 */
import type { TaskStatus } from '../../protocol/index.js';
import { prepared } from '../db/index.js';
import type { Services } from '../services.js';
import { transition, type TaskRow } from './state.js';
import { readVotes, type Vote } from './votes.js';

/**
 * What limits the nodes that may run a task: an encrypted task's input and requester (only a node its
 * requester sealed that input to can open it), and trusted_only (an L2 clear-text input: trusted nodes only).
 */
export type SealedFor = Pick<TaskRow, 'privacy' | 'input_hash' | 'user_address'> & { trusted_only?: number };

/**
 * True when an online, bonded node other than those named serves the artifact: someone who could run a check.
 * For a task (`sealed`): when encrypted, only a node its requester sealed the input to counts (no other can open
 * it); when trusted-only, only a trusted node.
 */
export function anotherNodeServes(
  s: Services,
  artifactHash: string,
  exclude: readonly string[],
  sealed?: SealedFor,
): boolean {
  const rows = prepared(
    s.store.sqlite,
    "select node_id, public_key, supported_models, trusted from inference_nodes where status in ('online', 'busy')",
  ).all() as {
    node_id: string;
    public_key: string;
    supported_models: string;
    trusted: number;
  }[];
  const sealedTo =
    sealed?.privacy === 'encrypted'
      ? new Set(
          (
            prepared(s.store.sqlite, 'select node_id from sealed_inputs where input_hash = ? and holder = ?').all(
              sealed.input_hash,
              sealed.user_address,
            ) as { node_id: string }[]
          ).map((r) => r.node_id),
        )
      : null;
  return rows.some(
    (n) =>
      !exclude.includes(n.node_id) &&
      (sealedTo === null || sealedTo.has(n.node_id)) &&
      (sealed?.trusted_only !== 1 || n.trusted === 1) &&
      (!s.bonds || s.bonds.eligible(n.public_key)) &&
      (JSON.parse(n.supported_models) as string[]).includes(artifactHash),
  );
}

/**
 * Sampled tasks waiting for their second run. Runs every sweep: `votes is not null` lets it read
 * the tasks_votes_idx partial index (tasks with votes only) rather than every pending task.
 */
export const WAITING_CHECKS =
  "select * from inference_tasks where status = 'pending' and votes is not null and security = 1 and runs_needed = 2 and json_array_length(votes) = 1";

/**
 * Spot checks that cannot run keep the result they have: a level-1 task waiting for its second
 * run completes on its first when no other bonded node serving the model is online (it left
 * after the first result), or when its deadline is `urgent_blocks` away. Without this the check
 * would let an honest result time out. Returns the tasks completed.
 */
export function completeUncheckable(s: Services, now = Date.now()): string[] {
  const tip = s.chain.tipHeight;
  const waiting = prepared(s.store.sqlite, WAITING_CHECKS).all() as TaskRow[];
  const done: string[] = [];
  for (const task of waiting) {
    const [vote] = readVotes(task.votes);
    const urgent = tip !== null && task.deadline !== null && task.deadline - tip <= s.config.submitter.urgent_blocks;
    if (!urgent && anotherNodeServes(s, task.artifact_hash, [vote!.node_id], task)) continue;
    const none =
      task.privacy === 'encrypted'
        ? 'no other online node the input is sealed to serves the model'
        : task.trusted_only === 1
          ? 'no other online trusted node serves the model'
          : 'no other online node serves the model';
    keepFirstResult(s, task, vote!, urgent ? `the deadline is ${task.deadline! - tip!} blocks away` : none, now);
    done.push(task.task_id);
  }
  return done;
}

/**
 * Completes a sampled task (pending, or in progress with its first result) on `vote` alone, saying why its check
 * did not run. Called inside a caller's transaction, it leaves its metric in `effects` for after the commit.
 */
export function keepFirstResult(
  s: Services,
  task: TaskRow,
  vote: Vote,
  why: string,
  now: number,
  effects?: (() => void)[],
): TaskRow {
  const row = transition(
    s.store,
    task.task_id,
    'completed',
    {
      reason: `spot check skipped: ${why}; the result of ${vote.node_id} stands`,
      nodeId: vote.node_id,
      expect: [task.status as TaskStatus],
      now,
    },
    {
      output: vote.output,
      confidence: vote.confidence,
      output_hash: vote.output_hash,
      signature: vote.signature,
      // An encrypted task's output is the node's ciphertext: its signature over it goes with it.
      sealed_signature: vote.sealed_signature ?? null,
      node_public_key: vote.public_key,
      inference_node_id: vote.node_id,
      runs_needed: 1,
      votes: null,
      completed_at: now,
      lease_expires_at: null,
    },
    task,
  );
  // Counted once the task completed for good: a caller inside a transaction that PostgreSQL may run
  // again (or a savepoint that rolls back) passes `effects`, run after its commit.
  const count = () => s.metrics.spotChecks.inc({ outcome: 'skipped' });
  if (effects) effects.push(count);
  else count();
  return row;
}
