/**
 * GET /api/v1/tasks/{task_id}/status and /result: what a user (or the market CLI) polls. The
 * status is public and never carries the output; the result is served only to the task's
 * requester (a signed request, signer/auth/requester.ts), and only once the task is settled.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { TaskResultResponse } from '../../../protocol/index.js';
import { authenticateRequester } from '../../auth/index.js';
import { ApiError } from '../../errors.js';
import { sealedNodes } from '../../privacy/index.js';
import { getTask, getTaskStatus, taskHistory, type TaskStatusRow } from '../../tasks/index.js';
import type { Env } from '../env.js';
import { corePaths } from '../openapi-core.js';
import { doc, valid } from '../openapi-doc.js';
import { ok } from '../respond.js';

const param = z.object({
  task_id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._-]+$/, 'must be a task id (the on-chain task id as a decimal number)'),
});

/** The task as read (all columns, or the status ones), refused when unknown or not an on-chain task. */
function find<T extends { source: string }>(id: string, task: T | undefined): T {
  if (!task)
    throw new ApiError(
      'task_not_found',
      `task ${id} is not known to this signer (it appears after its submit-task transaction is confirmed)`,
    );
  // A direct inference belongs to the token that asked for it: its result is read with that token at /api/v1/inference/{id}.
  if (task.source === 'direct')
    throw new ApiError(
      'not_found',
      `task ${id} is not an on-chain task; a direct inference is read with its API token at /api/v1/inference/${id}`,
    );
  return task;
}

/** The status view: the seed's fields plus chain and settlement fields. */
export function statusView(t: TaskStatusRow) {
  return {
    task_id: t.task_id,
    status: t.status,
    inference_node_id: t.inference_node_id,
    settlement_txid: t.settlement_txid,
    updated_at: t.updated_at,
    created_at: t.created_at,
    completed_at: t.completed_at,
    chain_task_id: t.chain_task_id,
    user_address: t.user_address,
    model_type: t.model_type,
    artifact_hash: t.artifact_hash,
    input_hash: t.input_hash,
    fee: t.fee,
    deadline: t.deadline,
    privacy: t.privacy,
    priority: t.priority,
    attempts: t.attempts,
    error: t.error,
  };
}

/** Task status and result routes. */
export const tasks = new Hono<Env>()
  .get(
    '/api/v1/tasks/:task_id/status',
    doc('tasks', corePaths['/api/v1/tasks/{task_id}/status'].get),
    valid('param', param),
    (c) => {
      const s = c.var.services;
      const id = c.req.valid('param').task_id;
      const task = find(id, getTaskStatus(s.store, id));
      const history = c.req.query('history') === 'true' ? taskHistory(s.store, task.task_id) : undefined;
      // Encrypted: which nodes hold its ciphertext, and whether the requester's client must seal it to new ones.
      const sealed = task.privacy === 'encrypted' ? sealedNodes(s, getTask(s.store, task.task_id)!) : undefined;
      return ok(c, {
        ...statusView(task),
        ...(sealed ? { sealed_nodes: sealed.nodes, needs_reseal: sealed.needsReseal } : {}),
        ...(history ? { history } : {}),
      });
    },
  )
  .get(
    '/api/v1/tasks/:task_id/result',
    doc('tasks', corePaths['/api/v1/tasks/{task_id}/result'].get),
    valid('param', param),
    async (c) => {
      const id = c.req.valid('param').task_id;
      const task = find(id, getTask(c.var.services.store, id));
      const requester = await authenticateRequester(c, {
        code: 'requester_signature_required',
        hint: `the result of task ${task.task_id} is served only to its requester: sign the request with the wallet that submitted it (\`market result ${task.task_id}\` does)`,
      });
      if (requester.principal !== task.user_address) {
        throw new ApiError(
          'not_requester',
          `task ${task.task_id} was submitted by ${task.user_address}, not by ${requester.principal} (the key that signed); only its requester may read its result`,
        );
      }
      // Released only once the settlement that pays for it is confirmed: before that the requester could
      // still let the deadline pass and reclaim the fee after reading the output (issue 12, attack 3).
      if (task.status === 'timeout' || task.status === 'failed' || task.reclaim_txid !== null) {
        const why =
          task.status === 'failed'
            ? 'failed'
            : 'was not settled by its deadline (its fee is refundable with `market reclaim`)';
        throw new ApiError(
          'result_withheld',
          `task ${task.task_id} ${why}; a task that is not paid for never releases its result`,
        );
      }
      if (task.status !== 'settled') {
        throw new ApiError(
          'result_not_settled',
          `task ${task.task_id} is ${task.status}; its result is released once its settlement is confirmed on chain (status settled): poll /api/v1/tasks/${task.task_id}/status`,
        );
      }
      if (
        task.output === null ||
        task.output_hash === null ||
        task.signature === null ||
        task.node_public_key === null
      ) {
        throw new ApiError('internal', `task ${task.task_id} is settled but its result is missing; this is a bug`);
      }
      const view: TaskResultResponse = {
        task_id: task.task_id,
        status: task.status,
        output: JSON.parse(task.output),
        output_hash: task.output_hash,
        confidence: task.confidence,
        inference_node_id: task.inference_node_id,
        node_public_key: task.node_public_key,
        signature: task.signature,
        ...(task.sealed_signature ? { sealed_signature: task.sealed_signature } : {}),
        completed_at: task.completed_at,
        settlement_txid: task.settlement_txid,
      };
      return ok(c, view);
    },
  );
