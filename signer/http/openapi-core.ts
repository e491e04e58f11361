/** The OpenAPI operations of the node, task, input, artifact, health and metrics routes, by path and method (routes/*.ts). */
import { z } from 'zod';
import {
  MAX_TASKS_PER_CALL,
  pulledTask,
  pulledTasks,
  registerNodeRequest,
  completeBatchResponse,
  taskResultResponse,
  taskStatusResponse,
} from '../../protocol/index.js';
import { json, reply } from './openapi-doc.js';

const errors = {
  400: reply('Invalid input; `error` names the field and the fix'),
  404: reply('Unknown task, node or route'),
  413: reply('Body over the configured limit'),
};
const signedErrors = {
  ...errors,
  401: reply('Missing, stale, replayed or invalid node signature'),
  409: reply('Conflict with the task or node state'),
};
const nodeSecurity = [{ nodeSignature: [] }];
/** Security of a route signed by a requester's wallet (REQUESTER_AUTH_HEADERS). */
export const requesterSecurity = [{ requesterSignature: [] }];
/** A required string path parameter. */
export const path = (name: string, description: string) => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string' },
});
const binary = { content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } };

/** Operations by path and method. */
export const corePaths = {
  '/health': { get: { summary: 'Liveness', responses: { 200: reply('{status: "healthy", timestamp}') } } },
  '/api/v1/nodes/register': {
    post: {
      summary: 'Register a node (signed by the key being registered)',
      security: nodeSecurity,
      requestBody: json(registerNodeRequest),
      responses: { 201: reply('Registered'), 200: reply('Updated'), ...signedErrors },
    },
  },
  '/api/v1/nodes/heartbeat': {
    post: { summary: 'Heartbeat', security: nodeSecurity, responses: { 200: reply('Recorded'), ...signedErrors } },
  },
  '/api/v1/nodes/{node_id}/tasks': {
    get: {
      summary:
        'Pull one task, or up to ?max= tasks as a list (long-poll with ?wait=seconds; ?inline=true carries small inputs)',
      security: nodeSecurity,
      parameters: [
        path('node_id', 'The signing node'),
        { name: 'wait', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } },
        {
          name: 'max',
          in: 'query',
          required: false,
          description: 'Lease up to this many tasks; data is then a list',
          schema: { type: 'integer', minimum: 1, maximum: MAX_TASKS_PER_CALL },
        },
        {
          name: 'inline',
          in: 'query',
          required: false,
          description:
            'Put small inputs inside the tasks (input or input_base64); with Accept: application/octet-stream the answer is one JSON line followed by the raw inputs (input_range)',
          schema: { type: 'string', enum: ['true', 'false'] },
        },
      ],
      responses: {
        200: reply('A leased task (a list of them with ?max=)', z.union([pulledTask, pulledTasks])),
        204: { description: 'No task for this node now' },
        ...signedErrors,
      },
    },
  },
  '/api/v1/tasks/complete': {
    post: {
      summary: 'Post a signed result or an error report',
      security: nodeSecurity,
      responses: { 200: reply('Accepted'), ...signedErrors },
    },
  },
  '/api/v1/tasks/complete-batch': {
    post: {
      summary: 'Post up to 64 signed results; each is accepted or refused on its own',
      security: nodeSecurity,
      responses: { 200: reply('One outcome per result, in order', completeBatchResponse), ...signedErrors },
    },
  },
  '/api/v1/tasks/{task_id}/status': {
    get: {
      summary: 'Task status (?history=true adds its transitions)',
      parameters: [path('task_id', 'On-chain task id')],
      responses: { 200: reply('Status', taskStatusResponse), ...errors },
    },
  },
  '/api/v1/tasks/{task_id}/result': {
    get: {
      summary:
        "A settled task's result with the node signature, for its requester only (a requester request signed by the wallet that submitted it)",
      security: requesterSecurity,
      parameters: [path('task_id', 'On-chain task id')],
      responses: {
        200: reply('Result', taskResultResponse),
        401: reply('code requester_signature_required (unsigned) or requester_signature_invalid'),
        403: reply('code not_requester: signed by another principal than the requester'),
        409: reply('code result_not_settled: released once the settlement is confirmed on chain'),
        410: reply('code result_withheld: timed out, failed or refunded; never released'),
        ...errors,
      },
    },
  },
  '/api/v1/stats': {
    get: {
      summary: 'Queue and settlement statistics',
      responses: { 200: reply('pending_tasks, processing_tasks, completed_tasks, total_tasks and more') },
    },
  },
  '/api/v1/nodes': { get: { summary: 'Registered nodes', responses: { 200: reply('Nodes') } } },
  '/api/v1/inputs/{sha256}': {
    put: {
      summary:
        'Upload an input blob under the sha256 of its bytes: for a task on chain that names it (no signature), or signed by the requester before its task exists (within its cap)',
      security: [{}, ...requesterSecurity],
      parameters: [
        path('sha256', 'sha256 of the body, hex'),
        {
          name: 'model',
          in: 'query',
          required: false,
          description: "the model the input is for: the policy guard checks it at that model's data level",
          schema: { type: 'string' },
        },
      ],
      requestBody: binary,
      responses: {
        201: reply('Stored'),
        200: reply('Already stored'),
        401: reply(
          'code upload_signature_required (no task names it and the request is unsigned) or requester_signature_invalid',
        ),
        422: reply(
          'code policy_refused (personal data: the input hash is fixed, so it is refused, not masked) or policy_needs_encryption (an L2 input in clear text)',
        ),
        429: reply("code upload_cap_exceeded: the requester's inputs no task names yet are at its cap"),
        503: reply(
          "code uploads_full: the signer's limit of inputs no task names yet is reached; or policy_needs_trusted_node: an L2 model's input, and no trusted node serving it is online",
        ),
        ...errors,
      },
    },
    get: {
      summary: 'Fetch an input (the node leasing a task with it)',
      security: nodeSecurity,
      parameters: [path('sha256', 'input hash')],
      responses: {
        200: { description: 'The bytes' },
        403: reply('No lease on a task with this input'),
        ...signedErrors,
      },
    },
  },
  '/api/v1/models/{artifact_hash}/artifact': {
    get: {
      summary: 'Download a model artifact (.onnx)',
      parameters: [path('artifact_hash', 'sha256 of the .onnx')],
      responses: { 200: { description: 'The bytes' }, ...errors },
    },
    put: {
      summary:
        "Upload the model file of the live version of ?model=NAME, signed by the model's on-chain owner (deploy or upgrade first), or from an admin session",
      security: [...requesterSecurity, { adminSession: [] }],
      parameters: [
        path('artifact_hash', 'sha256 of the body, hex'),
        {
          name: 'model',
          in: 'query',
          required: false,
          description: 'The model whose live version names this file (required for a signed upload)',
          schema: { type: 'string' },
        },
      ],
      requestBody: binary,
      responses: {
        201: reply('Stored'),
        200: reply('Already stored'),
        401: reply('code upload_signature_required or requester_signature_invalid'),
        403: reply('code not_model_owner'),
        409: reply('code artifact_not_registered: the live version names another file, or there is none'),
        ...errors,
      },
    },
  },
  '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'Text exposition format' } } } },
  '/api/v1/admin/dashboard': {
    get: {
      summary:
        'The console dashboard: models, usage per model and token, tasks by status, throughput, latency p50/p95, node earnings, settlements (docs/api.md, "Dashboard")',
      security: [{ adminSession: [] }],
      responses: { 200: reply('The snapshot'), 401: reply('Not logged in or the session expired') },
    },
  },
};
