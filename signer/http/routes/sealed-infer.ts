/**
 * Encrypted direct inference for API-token holders (signer/privacy): the token reserves nodes,
 * uploads its envelope sealed to each, then asks for the run by the envelope's hash. The result
 * (GET /api/v1/inference/{task_id} as for any direct request) holds the output sealed to the
 * envelope's reply key and the node's signature over it: the signer never sees either in clear.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { hex32, nodeId, reservationRequest } from '../../../protocol/index.js';
import { ApiError } from '../../errors.js';
import { queueSealedRequest } from '../../inference/index.js';
import { reserve, storeSealedInput, tokenHolder } from '../../privacy/index.js';
import { hasSealedInput } from '../../uploads/index.js';
import { tokenAuth } from '../../tokens/index.js';
import type { Env } from '../env.js';
import { defaultLimit } from '../limits.js';
import { doc, valid } from '../openapi-doc.js';
import { sealedInferencePaths as paths } from '../openapi-privacy.js';
import { ok } from '../respond.js';
import { answerQueued, meterRefusals, modelName, pathModel, requestOptions } from './infer.js';

const sealedInferBody = z.object({ input_hash: hex32, ...requestOptions }).strict();
const asyncQuery = z.object({ async: z.enum(['0', '1', 'true', 'false'], 'must be 1 or 0').optional() }).strict();

/** Reservation, sealed upload and run routes of a token holder's encrypted requests. */
export const sealedInfer = new Hono<Env>()
  .post(
    '/api/v1/models/:model/reservations',
    defaultLimit,
    doc('inference', paths['/api/v1/models/{model}/reservations'].post),
    // Reserving is not an inference: it spends neither rate nor quota.
    tokenAuth(pathModel, { count: false }),
    valid('param', z.object({ model: modelName })),
    valid('json', reservationRequest.omit({ model: true })),
    async function reserveForToken(c) {
      const req = { ...c.req.valid('json'), model: c.req.valid('param').model };
      return ok(c, await reserve(c.var.services, tokenHolder(c.var.token.id), req), 201);
    },
  )
  .put(
    '/api/v1/models/:model/inputs/:sha256/sealed/:node_id',
    defaultLimit,
    doc('inference', paths['/api/v1/models/{model}/inputs/{sha256}/sealed/{node_id}'].put),
    tokenAuth(pathModel, { count: false }),
    valid('param', z.object({ model: modelName, sha256: hex32, node_id: nodeId })),
    valid('query', z.object({ reservation: z.string().min(1).max(64) }).strict()),
    async function uploadSealedForToken(c) {
      const { model, sha256: inputHash, node_id } = c.req.valid('param');
      const stored = storeSealedInput(c.var.services, {
        holder: tokenHolder(c.var.token.id),
        inputHash,
        nodeId: node_id,
        reservationId: c.req.valid('query').reservation,
        ciphertext: new Uint8Array(await c.req.arrayBuffer()),
        model,
      });
      return ok(c, stored, 201);
    },
  )
  .post(
    '/api/v1/models/:model/infer/sealed',
    defaultLimit,
    doc('inference', paths['/api/v1/models/{model}/infer/sealed'].post),
    tokenAuth(pathModel),
    meterRefusals(pathModel),
    valid('param', z.object({ model: modelName })),
    valid('query', asyncQuery),
    valid('json', sealedInferBody),
    async function inferSealed(c) {
      const s = c.var.services;
      const body = c.req.valid('json');
      if (!hasSealedInput(s.store, tokenHolder(c.var.token.id), body.input_hash))
        throw new ApiError(
          'not_found',
          `this token sealed no input ${body.input_hash} to any node: reserve nodes (POST /api/v1/models/{model}/reservations) and PUT the envelope sealed to each first`,
        );
      const { model, tasks } = await queueSealedRequest(s, c.req.valid('param').model, body.input_hash, body, {
        tokenId: c.var.token.id,
        requestId: c.var.requestId,
      });
      return answerQueued(c, model, tasks[0]!, c.req.valid('query').async);
    },
  );
