/**
 * Content-addressed task inputs. A blob is stored only under the sha256 of its bytes (nothing can
 * be overwritten), and only when a task on chain names it, or from a signed requester request
 * within the requester's cap (signer/uploads), once the policy guard has read it (signer/guard
 * uploads.ts: its hash is fixed, so personal data is refused, not masked); only the node holding a
 * lease on a task with that input hash may GET it, so a hash read on chain does not reveal the input.
 */
import { Hono } from 'hono';
import { and, eq, ne } from 'drizzle-orm';
import { z } from 'zod';
import { hex32, sha256Hex } from '../../../protocol/index.js';
import { nodeAuth } from '../../auth/index.js';
import { authenticateRequester } from '../../auth/index.js';
import { inferenceTasks, inputBlobs } from '../../db/index.js';
import { ApiError } from '../../errors.js';
import { guardStoredInput, guardUpload, modelLevel, recordGuardLevel } from '../../guard/index.js';
import { transition } from '../../tasks/index.js';
import { awaitedByChainTask, inputStored, namedByEncryptedTask, storeInput } from '../../uploads/index.js';
import type { Services } from '../../services.js';
import type { Env } from '../env.js';
import { defaultLimit } from '../limits.js';
import { corePaths } from '../openapi-core.js';
import { doc, valid } from '../openapi-doc.js';
import { ok } from '../respond.js';

const param = z.object({ sha256: hex32 });
/** `?model=`: the model the input is for (`market submit` sends it), whose data level the guard applies. */
const putQuery = z.object({ model: z.string().min(1).max(128).optional() });

/**
 * Reads a leased chain task's clear input again when it was read at a laxer level than its model's
 * (signer/guard/stored.ts); on a refusal the task fails (its fee is reclaimable after the deadline)
 * and the node gets the 422 instead of the bytes.
 */
function refuseLaxerInput(s: Services, task: { id: string; model: string }, nodeId: string, sha256: string): void {
  const ref = { taskId: task.id, model: task.model, inputHash: sha256, privacy: 'standard' as const };
  const refused = guardStoredInput(s.store, s.guard, ref, modelLevel(s.store, s.guard, task.model));
  if (!refused) return;
  transition(
    s.store,
    task.id,
    'failed',
    { reason: refused, nodeId, expect: ['in_progress'] },
    { error: refused, lease_expires_at: null },
  );
  s.attempts.emit('ended', task.id, 'failed');
  throw new ApiError('policy_refused', refused.replace(/^policy_refused: /, ''));
}

/** Input blob routes. */
export const inputs = new Hono<Env>()
  .put(
    '/api/v1/inputs/:sha256',
    defaultLimit,
    doc('inputs', corePaths['/api/v1/inputs/{sha256}'].put),
    valid('param', param),
    valid('query', putQuery),
    async (c) => {
      const s = c.var.services;
      const { sha256 } = c.req.valid('param');
      // An encrypted task's input travels sealed to its nodes: its clear bytes are never taken (signer/privacy).
      if (namedByEncryptedTask(s, sha256))
        throw new ApiError(
          'sealed_input_required',
          `input ${sha256} belongs to an encrypted task: upload it sealed to each reserved node (PUT /api/v1/inputs/${sha256}/sealed/{node_id}), never in clear`,
        );
      // Who may store it, decided before the body is read: a task on chain already pays for it, or a signed requester answers for it.
      let uploader: string | null = null;
      if (!inputStored(s, sha256) && !awaitedByChainTask(s, sha256)) {
        const requester = await authenticateRequester(c, {
          code: 'upload_signature_required',
          hint: `no task on chain names input ${sha256} yet: sign the upload with the wallet that will submit the task (\`market submit\` does), or submit the task first and upload its input after`,
        });
        uploader = requester.principal;
      }
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      if (bytes.length === 0)
        throw new ApiError('bad_request', 'body is empty: send the input bytes whose sha256 is in the path');
      const actual = sha256Hex(bytes);
      if (actual !== sha256)
        throw new ApiError(
          'bad_request',
          `body sha256 is ${actual}, not ${sha256}: PUT the blob under the sha256 of its exact bytes`,
        );
      // Its hash is fixed (on chain, or in a signed request): personal data is refused here, never masked.
      const level = await guardUpload(s, sha256, bytes, c.req.valid('query').model);
      const contentType = (c.req.header('content-type') ?? 'application/octet-stream').slice(0, 128);
      // The level it was read at, kept with it: a chain task of a stricter model has it read again at
      // ingest (signer/guard/stored.ts). Written by the insert: an update after it would rewrite the whole blob.
      const stored = storeInput(s, { sha256, bytes, contentType, uploader, guardLevel: level });
      if (level && !stored) recordGuardLevel(s.store, sha256, level);
      return ok(c, { sha256, size: bytes.length, stored }, stored ? 201 : 200);
    },
  )
  .get(
    '/api/v1/inputs/:sha256',
    doc('inputs', corePaths['/api/v1/inputs/{sha256}'].get),
    valid('param', param),
    nodeAuth(),
    (c) => {
      const s = c.var.services;
      const { sha256 } = c.req.valid('param');
      const node = c.var.node;
      const leased = s.store.db
        .select({ id: inferenceTasks.task_id, model: inferenceTasks.model_type, source: inferenceTasks.source })
        .from(inferenceTasks)
        .where(
          and(
            eq(inferenceTasks.input_hash, sha256),
            eq(inferenceTasks.status, 'in_progress'),
            eq(inferenceTasks.inference_node_id, node.node_id),
            // An encrypted task's node gets its sealed input (routes/sealed.ts), never clear bytes under its hash.
            ne(inferenceTasks.privacy, 'encrypted'),
          ),
        )
        .get();
      if (!leased)
        throw new ApiError(
          'forbidden',
          `node ${node.node_id} holds no lease on a task with input ${sha256}; pull the task first`,
        );
      const blob = s.store.db.select().from(inputBlobs).where(eq(inputBlobs.sha256, sha256)).get();
      if (!blob)
        throw new ApiError(
          'not_found',
          `input ${sha256} has not been uploaded yet; the requester must PUT it to /api/v1/inputs/${sha256}`,
        );
      // A chain task's input stored at a laxer level than its model's (an upload on another replica while
      // the task was ingested, or the model's level raised since): read again now, before it leaves.
      if (leased.source === 'chain' && s.guard.enabled) refuseLaxerInput(s, leased, node.node_id, sha256);
      return c.body(new Uint8Array(blob.data), 200, { 'content-type': blob.content_type, 'x-content-sha256': sha256 });
    },
  );
