/**
 * GET /api/v1/nodes/{node_id}/tasks?wait=seconds: leases one task to the signed-in node, or
 * waits up to `wait` seconds for one; 204 when there is none. With `?max=N` it leases up to N
 * tasks in one call and `data` is their list; with `inline=true` small inputs travel inside
 * the tasks (or, asked for with `Accept: application/octet-stream`, after the JSON as raw
 * bytes), so a busy node spends one round trip per N tasks instead of two per task.
 */
import { isUtf8 } from 'node:buffer';
import { Hono } from 'hono';
import { z } from 'zod';
import {
  FRAMED_TASKS,
  MAX_TASKS_PER_CALL,
  nodeId,
  type PrivacyMode,
  type PulledTask,
  sealedInputPath,
} from '../../../protocol/index.js';
import { nodeAuth } from '../../auth/index.js';
import { prepared } from '../../db/index.js';
import { ApiError } from '../../errors.js';
import { leaseUpTo } from '../../tasks/index.js';
import type { TaskRow } from '../../tasks/index.js';
import type { Services } from '../../services.js';
import type { Env } from '../env.js';
import { corePaths } from '../openapi-core.js';
import { doc, valid } from '../openapi-doc.js';
import { ok } from '../respond.js';

const query = z
  .object({
    wait: z.coerce.number().int('must be whole seconds').min(0, 'must be 0 or more seconds').optional(),
    max: z.coerce
      .number()
      .int('must be a whole number')
      .min(1, 'must be at least 1')
      .max(MAX_TASKS_PER_CALL, `must be at most ${MAX_TASKS_PER_CALL}`)
      .optional(),
    inline: z.enum(['true', 'false'], 'must be true or false').optional(),
  })
  .strict();

/** The task as a node receives it. */
export function pulledView(s: Services, t: TaskRow): PulledTask {
  return {
    task_id: t.task_id,
    chain_task_id: t.chain_task_id,
    artifact_hash: t.artifact_hash,
    model: t.model_type,
    input_hash: t.input_hash,
    // An encrypted task's input is the ciphertext sealed to the node that pulls it (routes/sealed.ts).
    input_url: t.privacy === 'encrypted' ? sealedInputPath(t.input_hash) : `/api/v1/inputs/${t.input_hash}`,
    privacy: t.privacy as PrivacyMode,
    priority: t.priority,
    precision: t.precision,
    lease_expires_at: t.lease_expires_at ?? 0,
    max_infer_time_ms: t.max_infer_time,
    escrow: s.escrow,
    chain_id: s.chainId,
  };
}

/** The small inputs of these tasks (at most `server.inline_input_max_bytes` each), read in one query. */
function smallInputs(s: Services, tasks: TaskRow[]): Map<string, Buffer> {
  // An encrypted task travels sealed: no clear bytes go out under its input hash, whoever stored some.
  const hashes = JSON.stringify([...new Set(tasks.filter((t) => t.privacy !== 'encrypted').map((t) => t.input_hash))]);
  // Prepared once for any number of tasks (json_each), and a large blob's bytes are never read.
  const blobs = prepared(
    s.store.sqlite,
    'select sha256, data from input_blobs where sha256 in (select value from json_each(?)) and size <= ?',
  ).all(hashes, s.config.server.inline_input_max_bytes) as { sha256: string; data: Buffer }[];
  return new Map(blobs.map((b) => [b.sha256, b.data]));
}

/** Views of the tasks, each carrying its small input inside: as text when it is UTF-8 (JSON), else base64 (binary tensors). */
function withInputs(s: Services, tasks: TaskRow[]): PulledTask[] {
  const inputs = smallInputs(s, tasks);
  // Only valid UTF-8 survives the trip through a JSON string byte for byte (the node hashes what it receives).
  const inline = (data: Buffer | undefined) =>
    data === undefined
      ? {}
      : isUtf8(data)
        ? { input: data.toString('utf8') }
        : { input_base64: data.toString('base64') };
  return tasks.map((t) => ({
    ...pulledView(s, t),
    ...inline(t.privacy === 'encrypted' ? undefined : inputs.get(t.input_hash)),
  }));
}

/**
 * The framed answer (`Accept: application/octet-stream`): the envelope as one line of JSON, a
 * newline, then each distinct small input once; a task's `input_range` says where its bytes are.
 * Escaping, base64 and parsing of 100 KB strings cost more than the inference of a small model.
 */
function framed(s: Services, tasks: TaskRow[]): { body: ReadableStream<Uint8Array>; length: number } {
  const inputs = smallInputs(s, tasks);
  const at = new Map<string, [number, number]>();
  let offset = 0;
  for (const [hash, data] of inputs) {
    at.set(hash, [offset, data.length]);
    offset += data.length;
  }
  const views = tasks.map((t) =>
    at.has(t.input_hash) && t.privacy !== 'encrypted'
      ? { ...pulledView(s, t), input_range: at.get(t.input_hash)! }
      : pulledView(s, t),
  );
  const parts = [Buffer.from(`${JSON.stringify({ success: true, data: views, error: null })}\n`), ...inputs.values()];
  // Written part by part, not concatenated: a pull of 32 inputs of 110 KB was 3.5 MB copied once more (and more GC).
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const part of parts) c.enqueue(part);
      c.close();
    },
  });
  return { body, length: parts.reduce((n, p) => n + p.length, 0) };
}

/** Pull route. */
export const pull = new Hono<Env>().get(
  '/api/v1/nodes/:node_id/tasks',
  doc('nodes', corePaths['/api/v1/nodes/{node_id}/tasks'].get),
  valid('param', z.object({ node_id: nodeId })),
  valid('query', query),
  nodeAuth(),
  async (c) => {
    const s = c.var.services;
    const node = c.var.node;
    if (c.req.valid('param').node_id !== node.node_id)
      throw new ApiError(
        'forbidden',
        `path node_id "${c.req.valid('param').node_id}" is not the node that signed this request ("${node.node_id}")`,
      );
    const maxWait = s.config.server.max_wait_seconds;
    const { wait = 0, max, inline } = c.req.valid('query');
    if (wait > maxWait)
      throw new ApiError('bad_request', `query parameter wait: at most ${maxWait} seconds; poll again after that`);
    const until = Date.now() + wait * 1000;
    for (;;) {
      const fresh = prepared(s.store.sqlite, 'select status from inference_nodes where node_id = ?').get(
        node.node_id,
      ) as { status: string } | undefined;
      if (fresh?.status === 'offline')
        throw new ApiError(
          'node_offline',
          `node ${node.node_id} is offline (missed heartbeats); send a heartbeat with status "online" before pulling`,
        );
      // A busy node pulls when it has room again: its last heartbeat may be older than that.
      const tasks = fresh?.status === 'online' || fresh?.status === 'busy' ? leaseUpTo(s, node.node_id, max ?? 1) : [];
      if (tasks.length > 0) {
        s.log.debug({ task_ids: tasks.map((t) => t.task_id), node_id: node.node_id }, 'tasks leased');
        if (inline === 'true' && max !== undefined && c.req.header('accept') === FRAMED_TASKS) {
          const { body, length } = framed(s, tasks);
          return c.body(body, 200, { 'content-type': FRAMED_TASKS, 'content-length': String(length) });
        }
        const views = inline === 'true' ? withInputs(s, tasks) : tasks.map((t) => pulledView(s, t));
        // Without ?max= the seed's shape: one task in data.
        return ok(c, max === undefined ? views[0] : views);
      }
      const left = until - Date.now();
      if (left <= 0) return c.body(null, 204);
      // Wake on new work, but re-check at least every second: a task held back for a better node becomes ours with age.
      await s.pending.wait(Math.min(left, 1_000), c.req.raw.signal);
      if (c.req.raw.signal.aborted) return c.body(null, 204);
    }
  },
);
