/**
 * The Open Inference Protocol (KServe v2 REST) over direct inference. Its own shapes: no
 * envelope, and errors as `{"error": "..."}`.
 *  - GET /v2: server metadata (name, version, no extensions).
 *  - GET /v2/health/live: 200 while the process serves requests.
 *  - GET /v2/health/ready: 200 when the database is open and at least one node is online;
 *    503 otherwise (the protocol reads any non-200 as "not ready": nothing could run).
 *  - GET /v2/models/{name}: metadata (versions, platform, inputs/outputs as onnxruntime reads them).
 *    Each model path also answers under /v2/models/{name}/versions/{version} for the live version.
 *  - GET /v2/models/{name}/ready: 200 when the model is published and a node serving it is
 *    online, else 503; 404 for an unknown model.
 *  - POST /v2/models/{name}/infer: an API token's inference, waited for; `parameters.priority`
 *    (0-9) and `parameters.timeout_ms` tune it. Not escrowed on chain.
 */
import { createRequire } from 'node:module';
import { Hono, type Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { inferenceNodes } from '../../db/index.js';
import { ApiError } from '../../errors.js';
import { liveModel, onlineNodesServing, outcomeOf } from '../../inference/index.js';
import { queueRequests } from '../../inference/index.js';
import { tokenAuth } from '../../tokens/index.js';
import type { Env } from '../env.js';
import { codeOfStatus } from '../respond.js';
import { doc } from '../openapi-doc.js';
import { inferencePaths } from '../openapi-inference.js';
import {
  inferenceBodyLimit,
  jsonBody,
  meterRefusals,
  modelName,
  oipRequestFields,
  outcomeError,
  requestOptions,
} from './infer.js';

/** The server's name and version for `GET /v2` (the package's). */
const SERVER = createRequire(import.meta.url)('../../../package.json') as { name: string; version: string };

/** The platform string KServe/Triton give ONNX Runtime models. */
const PLATFORM = 'onnxruntime_onnx';

/** Body of POST /v2/models/{name}/infer: the protocol request, options in `parameters`. */
export const oipInferBody = z
  .object({ ...oipRequestFields, parameters: z.object(requestOptions).loose().optional() })
  .strict();

function nameOf(c: Context<Env>): string {
  const parsed = modelName.safeParse(c.req.param('name'));
  if (!parsed.success) throw new ApiError('bad_request', `model name: ${parsed.error.issues[0].message}`);
  return parsed.data;
}

function onlineNodes(c: Context<Env>): number {
  return c.var.services.store.db
    .select({ n: sql<number>`count(*)` })
    .from(inferenceNodes)
    .where(eq(inferenceNodes.status, 'online'))
    .get()!.n;
}

const pathName = (c: Context<Env>) => c.req.param('name') ?? '';

/** The live version of the named model; a `/versions/{version}` path must name that version (only the head is served). */
async function servedModel(c: Context<Env>) {
  const head = await liveModel(c.var.services, nameOf(c));
  const version = c.req.param('version');
  if (version !== undefined && version !== String(head.version)) {
    throw new ApiError(
      'not_found',
      `model "${head.name}" serves only its live version ${head.version}; version ${version} is not served (superseded or retired)`,
    );
  }
  return head;
}

const metadata = async (c: Context<Env>) => {
  const s = c.var.services;
  const head = await servedModel(c);
  const versions = (await s.catalog.versions(head.name)).map((v) => String(v.version));
  const io = await s.inference.io.of(head.artifact_hash);
  return c.json({
    name: head.name,
    versions,
    platform: PLATFORM,
    inputs: io?.inputs ?? [],
    outputs: io?.outputs ?? [],
    parameters: {
      version: String(head.version),
      artifact_hash: head.artifact_hash,
      price: head.price,
      owner: head.owner,
    },
  });
};

const ready = async (c: Context<Env>) => {
  const head = await servedModel(c);
  const serving = onlineNodesServing(c.var.services, head.artifact_hash);
  if (serving === 0)
    return c.json(
      {
        name: head.name,
        ready: false,
        error: `no online node serves model "${head.name}" (artifact ${head.artifact_hash.slice(0, 12)}…)`,
      },
      503,
    );
  return c.json({ name: head.name, ready: true, nodes_online: serving });
};

const inferHandler = async (c: Context<Env>) => {
  const s = c.var.services;
  await servedModel(c);
  const { value: body, bytes } = await jsonBody(c, oipInferBody);
  const { model, tasks } = await queueRequests(
    s,
    nameOf(c),
    [{ inputs: body.inputs, body: bytes }],
    body.parameters ?? {},
    { tokenId: c.var.token.id, requestId: c.var.requestId },
  );
  const outcome = outcomeOf(await s.inference.finished(tasks[0].task_id));
  if (outcome.kind === 'error') throw outcomeError(outcome);
  if (outcome.kind === 'waiting') throw new Error(`task ${tasks[0].task_id} woke its caller while ${outcome.status}`);
  const r = outcome.result;
  return c.json({
    model_name: model.name,
    model_version: String(r.version),
    id: body.id ?? r.task_id,
    parameters: {
      task_id: r.task_id,
      output_hash: r.output_hash,
      node_id: r.node_id,
      signature: r.signature,
      latency_ms: r.latency_ms,
    },
    outputs: r.outputs,
  });
};

const MODEL_PATHS = ['/v2/models/:name', '/v2/models/:name/versions/:version'];

/** Open Inference Protocol routes. */
export const oip = new Hono<Env>()
  .get('/v2', doc('oip', inferencePaths['/v2'].get), (c) =>
    c.json({ name: SERVER.name, version: SERVER.version, extensions: [] }),
  )
  .get('/v2/health/live', doc('oip', inferencePaths['/v2/health/live'].get), (c) => c.json({ live: true }))
  .get('/v2/health/ready', doc('oip', inferencePaths['/v2/health/ready'].get), (c) => {
    const { sqlite } = c.var.services.store;
    if (!sqlite.open) return c.json({ ready: false, error: 'the database is closed' }, 503);
    const nodes = onlineNodes(c);
    if (nodes === 0)
      return c.json(
        { ready: false, error: 'no node is online: inference requests would wait until they time out' },
        503,
      );
    return c.json({ ready: true, nodes_online: nodes });
  })
  .on('GET', MODEL_PATHS, doc('oip', inferencePaths['/v2/models/{name}'].get), metadata)
  .on(
    'GET',
    MODEL_PATHS.map((p) => `${p}/ready`),
    doc('oip', inferencePaths['/v2/models/{name}/ready'].get),
    ready,
  )
  .on(
    'POST',
    MODEL_PATHS.map((p) => `${p}/infer`),
    inferenceBodyLimit,
    doc('oip', inferencePaths['/v2/models/{name}/infer'].post, oipInferBody),
    tokenAuth(pathName),
    meterRefusals(pathName),
    inferHandler,
  )
  // The protocol's error body is {error}; the code (protocol/errors) rides beside it as in the envelope.
  .onError((err, c) => {
    if (err instanceof ApiError)
      return c.json({ error: err.message, code: err.code }, err.status as ContentfulStatusCode);
    if (err instanceof HTTPException) {
      const status = err.status as ContentfulStatusCode;
      return c.json({ error: err.message || 'bad request', code: codeOfStatus(status) }, status);
    }
    c.var.services.log.error({ err, req_id: c.var.requestId, path: c.req.path }, 'unhandled error');
    const bug = `internal error (request ${c.var.requestId}); this is a bug, please report it`;
    return c.json({ error: bug, code: 'internal' }, 500);
  });
