/** GET /api/v1/models/{artifact_hash}/artifact: the .onnx bytes whose sha256 the model registry records. */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { Hono } from 'hono';
import { z } from 'zod';
import { hex32 } from '../../../protocol/index.js';
import { ApiError } from '../../errors.js';
import type { Env } from '../env.js';
import { valid } from '../respond.js';

/** Artifact download route. */
export const models = new Hono<Env>().get('/api/v1/models/:artifact_hash/artifact', valid('param', z.object({ artifact_hash: hex32 })), async (c) => {
  const { artifact_hash } = c.req.valid('param');
  const artifact = await c.var.services.artifacts.find(artifact_hash);
  if (!artifact) throw new ApiError('not_found', `no artifact with sha256 ${artifact_hash} in this signer's models folder; check the model's artifact-hash on chain`);
  const stream = Readable.toWeb(createReadStream(artifact.path)) as ReadableStream<Uint8Array>;
  return c.body(stream, 200, { 'content-type': 'application/octet-stream', 'content-length': String(artifact.size), 'x-content-sha256': artifact.hash });
});
