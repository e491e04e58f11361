/**
 * GET /api/v1/models/{artifact_hash}/artifact: the .onnx bytes whose sha256 the model registry
 * records. PUT stores a model file under the sha256 of its bytes (so nothing can be replaced),
 * bounded by `models.max_upload_bytes`, and only from someone who answers for it:
 * - the model's on-chain owner, in a requester request signed by the key whose principal owns the
 *   live version of the model named by `?model=`, when that version's artifact hash is this
 *   file's: deploy (or upgrade) first, then upload, as `market deploy-model` does. Every file
 *   stored this way is named on chain by a deployment its owner paid for, so there is nothing to
 *   cap and nothing to collect;
 * - or an admin (console session and CSRF token), who can also upload through the console.
 * Anyone else was able to store 64 MiB of anything as `.onnx` (issue 12, attack 6).
 */
import { createReadStream, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { hex32, sha256Hex } from '../../../protocol/index.js';
import { authenticateRequester, hasRequesterHeaders } from '../../auth/index.js';
import { consoleGuard } from '../../console/index.js';
import { sessionCookie } from '../../console/index.js';
import { ApiError } from '../../errors.js';
import type { Env } from '../env.js';
import { limitBody } from '../limits.js';
import { corePaths } from '../openapi-core.js';
import { doc, valid } from '../openapi-doc.js';
import { ok } from '../respond.js';

const param = z.object({ artifact_hash: hex32 });
const query = z.object({ model: z.string().min(1).max(64).optional() });

/** A model file's limit: models.max_upload_bytes. */
const artifactLimit = limitBody(
  (c) => c.var.services.config.models.max_upload_bytes,
  (max) => `model file is larger than ${max} bytes (models.max_upload_bytes)`,
);

const UNSIGNED_HINT =
  "a model file is stored only for the model's on-chain owner (deploy or upgrade the model first, then PUT the file with ?model=NAME in a request signed by the owner's key, as `market deploy-model` does) or for an admin (console session, or upload it in the console)";

/**
 * Checks that `principal` owns the live version of `model` and that its artifact is `hash`; the
 * cached head is read again once when it does not match (a deploy confirmed a moment ago).
 */
async function checkOwner(c: Context<Env>, model: string, hash: string, principal: string): Promise<void> {
  const catalog = c.var.services.catalog;
  if (!catalog.chain)
    throw new ApiError(
      'artifact_not_registered',
      `this signer reads no chain (chain.enabled = false), so it cannot check who owns "${model}": upload the model file through the console`,
    );
  const matches = (h: Awaited<ReturnType<typeof catalog.head>>) =>
    h !== null && h.owner === principal && h.artifact_hash === hash;
  let head = await catalog.head(model);
  if (!matches(head)) {
    catalog.invalidate(model);
    head = await catalog.head(model);
  }
  if (!head)
    throw new ApiError(
      'artifact_not_registered',
      `model "${model}" has no live version on chain: deploy it first (its artifact-hash ${hash}), then upload the file`,
    );
  if (head.owner !== principal)
    throw new ApiError(
      'not_model_owner',
      `model "${model}" is owned by ${head.owner}, not by ${principal} (the key that signed); only its owner may upload its file`,
    );
  if (head.artifact_hash !== hash) {
    throw new ApiError(
      'artifact_not_registered',
      `the live version (v${head.version}) of "${model}" names artifact ${head.artifact_hash}, not ${hash}: upgrade the model to this file on chain first, then upload it`,
    );
  }
}

/** Artifact upload and download routes. */
export const models = new Hono<Env>()
  .put(
    '/api/v1/models/:artifact_hash/artifact',
    doc('models', corePaths['/api/v1/models/{artifact_hash}/artifact'].put),
    valid('param', param),
    valid('query', query),
    artifactLimit,
    // Who answers for the file is settled before its bytes are read.
    async (c, next) => {
      if (hasRequesterHeaders(c)) {
        const { artifact_hash } = c.req.valid('param');
        const { model } = c.req.valid('query');
        const requester = await authenticateRequester(c, { code: 'upload_signature_required', hint: UNSIGNED_HINT });
        if (!model)
          throw new ApiError(
            'bad_request',
            'query parameter model: name the model whose live version on chain has this file as its artifact (?model=NAME), and sign the request with its owner key',
          );
        await checkOwner(c, model, artifact_hash, requester.principal);
        return next();
      }
      // The console's guard: a live session, the origin check and the CSRF token.
      if (sessionCookie(c)) return consoleGuard(c, next);
      throw new ApiError('upload_signature_required', UNSIGNED_HINT);
    },
    async (c) => {
      const s = c.var.services;
      const { artifact_hash } = c.req.valid('param');
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      if (bytes.length === 0)
        throw new ApiError('bad_request', 'body is empty: send the .onnx bytes whose sha256 is in the path');
      const actual = sha256Hex(bytes);
      if (actual !== artifact_hash)
        throw new ApiError(
          'bad_request',
          `body sha256 is ${actual}, not ${artifact_hash}: PUT the model file under the sha256 of its exact bytes`,
        );
      if (await s.artifacts.find(artifact_hash)) return ok(c, { artifact_hash, size: bytes.length, stored: false });
      mkdirSync(s.config.models.dir, { recursive: true });
      const file = join(s.config.models.dir, `${artifact_hash}.onnx`);
      writeFileSync(`${file}.part`, bytes);
      renameSync(`${file}.part`, file);
      await s.artifacts.scan();
      return ok(c, { artifact_hash, size: bytes.length, stored: true }, 201);
    },
  )
  .get(
    '/api/v1/models/:artifact_hash/artifact',
    doc('models', corePaths['/api/v1/models/{artifact_hash}/artifact'].get),
    valid('param', param),
    async (c) => {
      const { artifact_hash } = c.req.valid('param');
      const artifact = await c.var.services.artifacts.find(artifact_hash);
      if (!artifact)
        throw new ApiError(
          'not_found',
          `no artifact with sha256 ${artifact_hash} in this signer's models folder; check the model's artifact-hash on chain`,
        );
      const stream = Readable.toWeb(createReadStream(artifact.path)) as ReadableStream<Uint8Array>;
      return c.body(stream, 200, {
        'content-type': 'application/octet-stream',
        'content-length': String(artifact.size),
        'x-content-sha256': artifact.hash,
      });
    },
  );
