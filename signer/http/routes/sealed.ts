/**
 * Encrypted tasks' routes (signer/privacy): a requester reserves nodes and uploads its input sealed
 * to each; a node holding the lease fetches the one sealed to it. The signer checks who may do
 * what, and stores bytes it cannot open.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { hex32, nodeId, reservationRequest } from '../../../protocol/index.js';
import { authenticateRequester, nodeAuth } from '../../auth/index.js';
import { prepared } from '../../db/index.js';
import { ApiError } from '../../errors.js';
import { reserve, sealedInputFor, storeSealedInput } from '../../privacy/index.js';
import type { TaskRow } from '../../tasks/index.js';
import type { Env } from '../env.js';
import { defaultLimit } from '../limits.js';
import { privacyPaths } from '../openapi-privacy.js';
import { doc, valid } from '../openapi-doc.js';
import { ok } from '../respond.js';

const SIGN_HINT = 'sign the request with the wallet that submits the task, as `market submit --privacy encrypted` does';

/** Reservation and sealed-input routes. */
export const sealed = new Hono<Env>()
  .post(
    '/api/v1/reservations',
    defaultLimit,
    doc('inputs', privacyPaths['/api/v1/reservations'].post),
    valid('json', reservationRequest),
    async function reserveNodes(c) {
      const requester = await authenticateRequester(c, { code: 'requester_signature_required', hint: SIGN_HINT });
      return ok(c, await reserve(c.var.services, requester.principal, c.req.valid('json')), 201);
    },
  )
  .put(
    '/api/v1/inputs/:sha256/sealed/:node_id',
    defaultLimit,
    doc('inputs', privacyPaths['/api/v1/inputs/{sha256}/sealed/{node_id}'].put),
    valid('param', z.object({ sha256: hex32, node_id: nodeId })),
    valid('query', z.object({ reservation: z.string().min(1).max(64) }).strict()),
    async function uploadSealed(c) {
      const requester = await authenticateRequester(c, { code: 'upload_signature_required', hint: SIGN_HINT });
      const { sha256: inputHash, node_id } = c.req.valid('param');
      const stored = storeSealedInput(c.var.services, {
        holder: requester.principal,
        inputHash,
        nodeId: node_id,
        reservationId: c.req.valid('query').reservation,
        ciphertext: new Uint8Array(await c.req.arrayBuffer()),
      });
      return ok(c, stored, 201);
    },
  )
  .get(
    '/api/v1/inputs/:sha256/sealed',
    doc('inputs', privacyPaths['/api/v1/inputs/{sha256}/sealed'].get),
    valid('param', z.object({ sha256: hex32 })),
    nodeAuth(),
    function fetchSealed(c) {
      const s = c.var.services;
      const { sha256 } = c.req.valid('param');
      const node = c.var.node;
      const task = prepared(
        s.store.sqlite,
        "select * from inference_tasks where input_hash = ? and status = 'in_progress' and inference_node_id = ? and privacy = 'encrypted' limit 1",
      ).get(sha256, node.node_id) as TaskRow | undefined;
      if (!task)
        throw new ApiError(
          'forbidden',
          `node ${node.node_id} holds no lease on an encrypted task with input ${sha256}; pull the task first`,
        );
      const blob = sealedInputFor(s, task, node.node_id);
      if (!blob)
        throw new ApiError(
          'not_found',
          `nothing was sealed to node ${node.node_id} for input ${sha256} by the task's requester; report the task failed`,
        );
      return c.body(new Uint8Array(blob.data), 200, {
        'content-type': 'application/json',
        'x-content-sha256': blob.sha256,
      });
    },
  );
