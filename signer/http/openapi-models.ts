/** The OpenAPI operations of the console's model API (routes/admin-models.ts), by path and method. */
import { z } from 'zod';
import { envelope, inferenceInputsSchema } from '../../protocol/index.js';

const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });
const json = (s: z.ZodType) => ({ content: { 'application/json': { schema: schema(s) } } });
const reply = (description: string) => ({ description, ...json(envelope(z.unknown())) });
const security = [{ adminSession: [] }];
const description = 'Admin session; state-changing calls need header x-csrf-token.';
const guarded = { 401: reply('Not logged in or the session expired'), 403: reply('Missing or wrong x-csrf-token') };
const id = [
  { name: 'id', in: 'path', required: true, description: 'Upload id', schema: { type: 'integer', minimum: 1 } },
];
const name = [{ name: 'name', in: 'path', required: true, description: 'Model name', schema: { type: 'string' } }];
const onChain = {
  409: reply('Needs the chain (chain.enabled), not owned by the signer, or the contract refused (error named)'),
  504: reply('Not mined within models.publish_timeout_ms'),
};

/** Paths of model upload, validation, test, publish, unpublish, rollback and versions. */
export const modelPaths = {
  '/api/v1/admin/models': {
    get: {
      summary: 'Console uploads, newest first, with status, inputs/outputs and what was published',
      security,
      responses: { 200: reply('Uploads'), ...guarded },
    },
    post: {
      summary: 'Upload an ONNX model (multipart `file` + `name`, or raw bytes with ?name=); validated in onnxruntime',
      description,
      security,
      parameters: [
        {
          name: 'name',
          in: 'query',
          required: false,
          description: 'Model name (raw uploads)',
          schema: { type: 'string' },
        },
      ],
      requestBody: {
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              properties: { file: { type: 'string', format: 'binary' }, name: { type: 'string' } },
            },
          },
          'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
        },
      },
      responses: {
        201: reply('Stored and validated'),
        400: reply('No file, empty file or bad name'),
        413: reply('Over models.max_upload_bytes'),
        422: reply('onnxruntime cannot load it (row marked invalid, nothing stored)'),
        ...guarded,
      },
    },
  },
  '/api/v1/admin/models/{id}': {
    get: {
      summary: 'One upload',
      security,
      parameters: id,
      responses: { 200: reply('Upload'), 404: reply('No such upload'), ...guarded },
    },
  },
  '/api/v1/admin/models/{id}/validate': {
    post: {
      summary: 'Load the stored file in onnxruntime again',
      description,
      security,
      parameters: id,
      responses: {
        200: reply('Upload, validated or invalid'),
        404: reply('No such upload'),
        409: reply('File not stored'),
        ...guarded,
      },
    },
  },
  '/api/v1/admin/models/{id}/test': {
    post: {
      summary:
        'One inference in onnxruntime: on the OIP body, or (no body) on inputs generated from the declared shapes with dynamic dimensions 1',
      description,
      security,
      parameters: id,
      requestBody: { required: false, ...json(inferenceInputsSchema) },
      responses: {
        200: reply('{inputs, outputs, fed, outputs_summary, load_ms, infer_ms}'),
        400: reply('Bad input'),
        409: reply('Upload is invalid or its file is gone'),
        422: reply('The run failed in onnxruntime'),
        ...guarded,
      },
    },
  },
  '/api/v1/admin/models/{id}/publish': {
    post: {
      summary:
        "Deploy the upload's name on chain, or upgrade its live version, at `price` micro-STX; waits until mined",
      description,
      security,
      parameters: id,
      requestBody: json(z.object({ price: z.union([z.number().int(), z.string()]) })),
      responses: { 200: reply('Upload, now published'), ...onChain, ...guarded },
    },
  },
  '/api/v1/admin/models/{name}/versions': {
    get: {
      summary: 'Versions on chain, newest first (live, retired, spent)',
      security,
      parameters: name,
      responses: { 200: reply('Versions'), ...guarded },
    },
  },
  '/api/v1/admin/models/{name}/unpublish': {
    post: {
      summary: 'Retire the live version (the name can never be deployed again)',
      description,
      security,
      parameters: name,
      responses: { 200: reply('{name, txid, version, artifact_hash}'), 404: reply('Not live'), ...onChain, ...guarded },
    },
  },
  '/api/v1/admin/models/{name}/rollback': {
    post: {
      summary: "Make an earlier version's file live again, as a new version",
      description,
      security,
      parameters: name,
      requestBody: json(z.object({ version: z.number().int().min(1) })),
      responses: {
        200: reply('{name, txid, version, artifact_hash}'),
        404: reply('Not live, or no such version'),
        ...onChain,
        ...guarded,
      },
    },
  },
};
