/** The OpenAPI paths of direct inference (routes/infer.ts, batch-infer.ts, oip.ts), by path and method. */
import { z } from 'zod';
import { envelope } from '../../protocol/index.js';

const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });
const json = (s: z.ZodType) => ({ content: { 'application/json': { schema: schema(s) } } });
const anyEnvelope = envelope(z.unknown());
const oipError = z.object({ error: z.string() });
const path = (name: string, description: string) => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string' },
});
const tokenErrors = {
  400: { description: 'Invalid input; `error` names the field and the fix', ...json(anyEnvelope) },
  401: { description: 'Missing or unknown API token', ...json(anyEnvelope) },
  402: {
    description:
      'Token bound to a prepaid account: allowance_exhausted (the holder signs a higher cap: market account allow <µSTX>) or insufficient_deposit; a batch is refused whole',
    ...json(anyEnvelope),
  },
  403: { description: 'Token paused or expired, address not allowed, or model not allowed', ...json(anyEnvelope) },
  404: { description: 'Model not published', ...json(anyEnvelope) },
  413: { description: 'Body over inference.max_body_bytes', ...json(anyEnvelope) },
  429: { description: 'Monthly quota or per-minute rate spent (Retry-After)', ...json(anyEnvelope) },
  503: { description: 'Direct-inference queue full (Retry-After)', ...json(anyEnvelope) },
};
const outcomeErrors = {
  422: { description: 'The node could not run the input (its reason)', ...json(anyEnvelope) },
  504: { description: 'No node answered within timeout_ms', ...json(anyEnvelope) },
};
const apiToken = [{ apiToken: [] }];
const note =
  "Direct inference for API-token holders: not escrowed on chain; metered in inference_logs. A token bound to a prepaid account pays each call (the model's price) from that account's deposit, within the allowance the account signed.";

/** The bearer scheme of API tokens. */
export const apiTokenScheme = {
  apiToken: { type: 'http', scheme: 'bearer', description: 'API token (sk_...) created by an admin' },
};

/** Paths of direct inference. */
export const inferencePaths = {
  '/api/v1/models/{model}/infer': {
    post: {
      summary: 'Run a published model on one input (sync; ?async=1 answers 202 with a result URL)',
      description: note,
      security: apiToken,
      parameters: [
        path('model', 'Published model name'),
        { name: 'async', in: 'query', required: false, schema: { type: 'string', enum: ['1', '0', 'true', 'false'] } },
      ],
      responses: {
        200: {
          description: '{task_id, model, version, outputs, output_hash, node_id, signature, latency_ms}',
          ...json(anyEnvelope),
        },
        202: { description: '{task_id, status, result_url}; Location header', ...json(anyEnvelope) },
        ...tokenErrors,
        ...outcomeErrors,
      },
    },
  },
  '/api/v1/inference/{task_id}': {
    get: {
      summary: 'Result of an async request (same token)',
      security: apiToken,
      parameters: [path('task_id', 'task_id of the 202 answer')],
      responses: {
        200: { description: 'The result', ...json(anyEnvelope) },
        202: { description: 'Not ready: {task_id, model, status}', ...json(anyEnvelope) },
        ...tokenErrors,
        ...outcomeErrors,
      },
    },
  },
  '/api/v1/models/{model}/batch-infer': {
    post: {
      summary: 'Several inputs for one model; results in order, each with its own success or error',
      description: note,
      security: apiToken,
      parameters: [path('model', 'Published model name')],
      responses: {
        200: { description: '{model, version, results: [{success, data, error, status}]}', ...json(anyEnvelope) },
        ...tokenErrors,
      },
    },
  },
  '/v2': {
    get: { summary: 'OIP server metadata', responses: { 200: { description: '{name, version, extensions}' } } },
  },
  '/v2/health/live': { get: { summary: 'OIP liveness', responses: { 200: { description: '{live: true}' } } } },
  '/v2/health/ready': {
    get: {
      summary: 'OIP readiness: database open and a node online',
      responses: {
        200: { description: '{ready: true, nodes_online}' },
        503: { description: '{ready: false, error}', ...json(oipError) },
      },
    },
  },
  '/v2/models/{name}': {
    get: {
      summary: 'OIP model metadata',
      parameters: [path('name', 'Published model name')],
      responses: {
        200: { description: '{name, versions, platform, inputs, outputs, parameters}' },
        404: { description: 'Not published', ...json(oipError) },
      },
    },
  },
  '/v2/models/{name}/ready': {
    get: {
      summary: 'OIP model readiness: published and served by an online node',
      parameters: [path('name', 'Published model name')],
      responses: {
        200: { description: '{name, ready: true}' },
        503: { description: 'No online node serves it', ...json(oipError) },
        404: { description: 'Not published', ...json(oipError) },
      },
    },
  },
  '/v2/models/{name}/infer': {
    post: {
      summary:
        'OIP inference (parameters.priority, parameters.timeout_ms); also /v2/models/{name}/versions/{version}/infer for the live version',
      description: note,
      security: apiToken,
      parameters: [path('name', 'Published model name')],
      responses: {
        200: { description: '{model_name, model_version, id, parameters, outputs}' },
        400: { description: 'Invalid request', ...json(oipError) },
        401: { description: 'No token', ...json(oipError) },
        402: { description: 'Bound token: allowance or deposit short', ...json(oipError) },
        404: { description: 'Not published', ...json(oipError) },
        422: { description: 'Node could not run it', ...json(oipError) },
        503: { description: 'Queue full', ...json(oipError) },
        504: { description: 'Timed out', ...json(oipError) },
      },
    },
  },
};
