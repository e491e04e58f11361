/**
 * GET /api/v1/models/{artifact_hash}/artifact: the .onnx bytes whose sha256 the model registry
 * records. PUT stores a model file under the sha256 of its bytes (so nothing can be replaced),
 * for `market deploy-model`; its size is bounded by `models.max_upload_bytes`.
 */
import { createReadStream, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bodyLimit } from 'hono/body-limit';
import { Readable } from 'node:stream';
import { Hono } from 'hono';
import { z } from 'zod';
import { hex32, sha256Hex } from '../../../protocol/index.js';
import { ApiError } from '../../errors.js';
import type { Env } from '../env.js';
import { ok, valid } from '../respond.js';

const param = z.object({ artifact_hash: hex32 });

/** Artifact upload and download routes. */
export const models = new Hono<Env>()
  .put(
    '/api/v1/models/:artifact_hash/artifact',
    valid('param', param),
    (c, next) =>
      bodyLimit({
        maxSize: c.var.services.config.models.max_upload_bytes,
        onError: () => {
          throw new ApiError('payload_too_large', `model file is larger than ${c.var.services.config.models.max_upload_bytes} bytes (models.max_upload_bytes)`);
        },
      })(c, next),
    async (c) => {
      const s = c.var.services;
      const { artifact_hash } = c.req.valid('param');
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      if (bytes.length === 0) throw new ApiError('bad_request', 'body is empty: send the .onnx bytes whose sha256 is in the path');
      const actual = sha256Hex(bytes);
      if (actual !== artifact_hash) throw new ApiError('bad_request', `body sha256 is ${actual}, not ${artifact_hash}: PUT the model file under the sha256 of its exact bytes`);
      if (await s.artifacts.find(artifact_hash)) return ok(c, { artifact_hash, size: bytes.length, stored: false });
      mkdirSync(s.config.models.dir, { recursive: true });
      const file = join(s.config.models.dir, `${artifact_hash}.onnx`);
      writeFileSync(`${file}.part`, bytes);
      renameSync(`${file}.part`, file);
      await s.artifacts.scan();
      return ok(c, { artifact_hash, size: bytes.length, stored: true }, 201);
    },
  )
  .get('/api/v1/models/:artifact_hash/artifact', valid('param', param), async (c) => {
  const { artifact_hash } = c.req.valid('param');
  const artifact = await c.var.services.artifacts.find(artifact_hash);
  if (!artifact) throw new ApiError('not_found', `no artifact with sha256 ${artifact_hash} in this signer's models folder; check the model's artifact-hash on chain`);
  const stream = Readable.toWeb(createReadStream(artifact.path)) as ReadableStream<Uint8Array>;
  return c.body(stream, 200, { 'content-type': 'application/octet-stream', 'content-length': String(artifact.size), 'x-content-sha256': artifact.hash });
});
