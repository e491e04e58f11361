/**
 * The console's model API (admin session required, see console/guard.ts): upload an ONNX file
 * (validated in onnxruntime), re-validate, test-run, publish on chain, unpublish, roll back, and
 * the version history of a name. Uploads have their own size limit, `models.max_upload_bytes`.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import {
  getModel,
  listModels,
  publishModel,
  revalidateModel,
  rollbackModel,
  testModel,
  unpublishModel,
  uploadModel,
  MODEL_NAME,
} from '../../console-models/index.js';
import { ApiError } from '../../errors.js';
import type { Env } from '../env.js';
import { defaultLimit, limitBody } from '../limits.js';
import { doc, valid } from '../openapi-doc.js';
import { modelPaths } from '../openapi-models.js';
import { ok } from '../respond.js';

/** Room for a multipart form's boundaries and other fields around the file itself. */
const FORM_OVERHEAD_BYTES = 64 * 1024;

function tooLarge(max: number): ApiError {
  return new ApiError(
    'payload_too_large',
    `model file is larger than ${max} bytes (models.max_upload_bytes); upload a smaller .onnx or raise the limit`,
  );
}

/** The limit of a model upload (here and the console's form): models.max_upload_bytes and room for the form around it. */
export const modelUploadLimit = limitBody(
  (c) => c.var.services.config.models.max_upload_bytes + FORM_OVERHEAD_BYTES,
  (max) => tooLarge(max - FORM_OVERHEAD_BYTES).message,
);

/** The uploaded file and model name of a multipart form (`file`, `name`) or a raw body with `?name=`. */
export async function uploadOf(c: Context<Env>): Promise<{ name: string; bytes: Uint8Array }> {
  const max = c.var.services.config.models.max_upload_bytes;
  let name: string;
  let bytes: Uint8Array;
  if (/^multipart\/form-data/i.test(c.req.header('content-type') ?? '')) {
    const form = await c.req.parseBody();
    const file = form.file;
    if (!(file instanceof File))
      throw new ApiError('bad_request', 'the form has no file: send the .onnx file in the "file" field');
    name = typeof form.name === 'string' && form.name.trim() ? form.name.trim() : file.name.replace(/\.onnx$/i, '');
    if (file.size > max) throw tooLarge(max);
    bytes = new Uint8Array(await file.arrayBuffer());
  } else {
    name = (c.req.query('name') ?? '').trim();
    if (!name)
      throw new ApiError(
        'bad_request',
        'name the model: POST the .onnx bytes with ?name=<model name>, or send a multipart form with "file" and "name"',
      );
    bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.length > max) throw tooLarge(max);
  }
  return { name, bytes };
}

/** Where nodes fetch artifacts this signer publishes: `models.public_url`, else the origin the admin reached it at. */
export function publicBaseUrl(c: Context<Env>): string {
  return c.var.services.config.models.public_url ?? new URL(c.req.url).origin;
}

const idParam = z.object({ id: z.coerce.number().int().min(1, 'must be an upload id (a positive whole number)') });
const nameParam = z.object({
  name: z.string().regex(MODEL_NAME, 'must be a model name (letters, digits, dots, dashes, underscores)'),
});
/** micro-STX: a whole number below 2^128, as a JSON number or a decimal string. */
export const priceSchema = z
  .union([z.number().int().min(0), z.string().regex(/^\d{1,39}$/, 'must be a whole number of micro-STX')])
  .transform((v) => BigInt(v))
  .refine((v) => v < 2n ** 128n, 'must be below 2^128');

/** Model upload, validation, test, publish, unpublish, rollback and versions. */
export const adminModels = new Hono<Env>()
  .get('/api/v1/admin/models', doc('admin', modelPaths['/api/v1/admin/models'].get), (c) =>
    ok(c, listModels(c.var.services)),
  )
  .post('/api/v1/admin/models', modelUploadLimit, doc('admin', modelPaths['/api/v1/admin/models'].post), async (c) => {
    const { name, bytes } = await uploadOf(c);
    return ok(c, await uploadModel(c.var.services, name, bytes), 201);
  })
  .get(
    '/api/v1/admin/models/:id{[0-9]+}',
    doc('admin', modelPaths['/api/v1/admin/models/{id}'].get),
    valid('param', idParam),
    (c) => ok(c, getModel(c.var.services, c.req.valid('param').id)),
  )
  .post(
    '/api/v1/admin/models/:id{[0-9]+}/validate',
    defaultLimit,
    doc('admin', modelPaths['/api/v1/admin/models/{id}/validate'].post),
    valid('param', idParam),
    async (c) => ok(c, await revalidateModel(c.var.services, c.req.valid('param').id)),
  )
  .post(
    '/api/v1/admin/models/:id{[0-9]+}/test',
    defaultLimit,
    doc('admin', modelPaths['/api/v1/admin/models/{id}/test'].post),
    valid('param', idParam),
    async (c) => {
      const text = await c.req.text();
      let inputs: unknown;
      try {
        inputs = text.trim() ? JSON.parse(text) : undefined;
      } catch (e) {
        throw new ApiError(
          'bad_request',
          `body is not valid JSON: ${(e as Error).message}; send {"inputs": [...]} or nothing to use generated inputs`,
        );
      }
      return ok(c, await testModel(c.var.services, c.req.valid('param').id, inputs));
    },
  )
  .post(
    '/api/v1/admin/models/:id{[0-9]+}/publish',
    defaultLimit,
    doc('admin', modelPaths['/api/v1/admin/models/{id}/publish'].post),
    valid('param', idParam),
    valid('json', z.object({ price: priceSchema }).strict()),
    async (c) =>
      ok(c, await publishModel(c.var.services, c.req.valid('param').id, c.req.valid('json').price, publicBaseUrl(c))),
  )
  .get(
    '/api/v1/admin/models/:name/versions',
    doc('admin', modelPaths['/api/v1/admin/models/{name}/versions'].get),
    valid('param', nameParam),
    async (c) => ok(c, await c.var.services.catalog.versions(c.req.valid('param').name)),
  )
  .post(
    '/api/v1/admin/models/:name/unpublish',
    defaultLimit,
    doc('admin', modelPaths['/api/v1/admin/models/{name}/unpublish'].post),
    valid('param', nameParam),
    async (c) => ok(c, await unpublishModel(c.var.services, c.req.valid('param').name)),
  )
  .post(
    '/api/v1/admin/models/:name/rollback',
    defaultLimit,
    doc('admin', modelPaths['/api/v1/admin/models/{name}/rollback'].post),
    valid('param', nameParam),
    valid('json', z.object({ version: z.number().int().min(1) }).strict()),
    async (c) => ok(c, await rollbackModel(c.var.services, c.req.valid('param').name, c.req.valid('json').version)),
  );
