/** The OpenAPI 3.1 document, listed by hand from the protocol's zod schemas (z.toJSONSchema). */
import { z } from 'zod';
import { modelPaths } from './openapi-models.js';
import { adminSessionScheme, consolePaths } from './openapi-console.js';
import { apiTokenScheme, inferencePaths } from './openapi-inference.js';
import { accountsPaths } from './openapi-accounts.js';
import { periodPaths } from './openapi-periods.js';
import { completeBatchRequest, completeBatchResponse, completeTaskRequest, envelope, heartbeatRequest, MAX_TASKS_PER_CALL, pulledTask, pulledTasks, registerNodeRequest, taskResultResponse, taskStatusResponse, NODE_AUTH_HEADERS, REQUESTER_AUTH_HEADERS } from '../../protocol/index.js';

const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });
const json = (s: z.ZodType) => ({ content: { 'application/json': { schema: schema(s) } } });
const anyEnvelope = envelope(z.unknown());
const errors = {
  400: { description: 'Invalid input; `error` names the field and the fix', ...json(anyEnvelope) },
  404: { description: 'Unknown task, node or route', ...json(anyEnvelope) },
  413: { description: 'Body over the configured limit', ...json(anyEnvelope) },
};
const signedErrors = { ...errors, 401: { description: 'Missing, stale, replayed or invalid node signature', ...json(anyEnvelope) }, 409: { description: 'Conflict with the task or node state', ...json(anyEnvelope) } };
const nodeSecurity = [{ nodeSignature: [] }];
const requesterSecurity = [{ requesterSignature: [] }];
const path = (name: string, description: string, s: z.ZodType = z.string()) => ({ name, in: 'path', required: true, description, schema: schema(s) });

/** The OpenAPI document for /openapi.json. */
export function openApiDocument() {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Signer API',
      version: '1',
      description: `Coordinator of the inference marketplace. Node calls carry ${Object.values(NODE_AUTH_HEADERS).join(', ')}: a SIP-018 signature (protocol/sip018 signNodeRequest) over method, path with query, sha256 of the body and the timestamp. Every body is {success, data, error}.`,
    },
    components: {
      securitySchemes: { ...adminSessionScheme, ...apiTokenScheme, nodeSignature: { type: 'apiKey', in: 'header', name: NODE_AUTH_HEADERS.signature, description: `with ${NODE_AUTH_HEADERS.node} and ${NODE_AUTH_HEADERS.timestamp}` },
        requesterSignature: {
          type: 'apiKey',
          in: 'header',
          name: REQUESTER_AUTH_HEADERS.signature,
          description: `with ${REQUESTER_AUTH_HEADERS.publicKey} and ${REQUESTER_AUTH_HEADERS.timestamp}: a SIP-018 signature by the wallet key (protocol/sip018 signRequesterRequest) over method, path with query, the public key and the timestamp`,
        },
      },
    },
    paths: {
      '/health': { get: { summary: 'Liveness', responses: { 200: { description: '{status: "healthy", timestamp}', ...json(anyEnvelope) } } } },
      '/api/v1/nodes/register': {
        post: { summary: 'Register a node (signed by the key being registered)', security: nodeSecurity, requestBody: json(registerNodeRequest), responses: { 201: { description: 'Registered', ...json(anyEnvelope) }, 200: { description: 'Updated', ...json(anyEnvelope) }, ...signedErrors } },
      },
      '/api/v1/nodes/heartbeat': { post: { summary: 'Heartbeat', security: nodeSecurity, requestBody: json(heartbeatRequest), responses: { 200: { description: 'Recorded', ...json(anyEnvelope) }, ...signedErrors } } },
      '/api/v1/nodes/{node_id}/tasks': {
        get: {
          summary: 'Pull one task, or up to ?max= tasks as a list (long-poll with ?wait=seconds; ?inline=true carries small inputs)',
          security: nodeSecurity,
          parameters: [
            path('node_id', 'The signing node'),
            { name: 'wait', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } },
            { name: 'max', in: 'query', required: false, description: 'Lease up to this many tasks; data is then a list', schema: { type: 'integer', minimum: 1, maximum: MAX_TASKS_PER_CALL } },
            { name: 'inline', in: 'query', required: false, description: 'Put small inputs inside the tasks (input or input_base64); with Accept: application/octet-stream the answer is one JSON line followed by the raw inputs (input_range)', schema: { type: 'string', enum: ['true', 'false'] } },
          ],
          responses: { 200: { description: 'A leased task (a list of them with ?max=)', ...json(envelope(z.union([pulledTask, pulledTasks]))) }, 204: { description: 'No task for this node now' }, ...signedErrors },
        },
      },
      '/api/v1/tasks/complete': { post: { summary: 'Post a signed result or an error report', security: nodeSecurity, requestBody: json(completeTaskRequest), responses: { 200: { description: 'Accepted', ...json(anyEnvelope) }, ...signedErrors } } },
      '/api/v1/tasks/complete-batch': { post: { summary: 'Post up to 64 signed results; each is accepted or refused on its own', security: nodeSecurity, requestBody: json(completeBatchRequest), responses: { 200: { description: 'One outcome per result, in order', ...json(envelope(completeBatchResponse)) }, ...signedErrors } } },
      '/api/v1/tasks/{task_id}/status': { get: { summary: 'Task status (?history=true adds its transitions)', parameters: [path('task_id', 'On-chain task id')], responses: { 200: { description: 'Status', ...json(envelope(taskStatusResponse)) }, ...errors } } },
      '/api/v1/tasks/{task_id}/result': {
        get: {
          summary: "A settled task's result with the node signature, for its requester only (a requester request signed by the wallet that submitted it)",
          security: requesterSecurity,
          parameters: [path('task_id', 'On-chain task id')],
          responses: {
            200: { description: 'Result', ...json(envelope(taskResultResponse)) },
            401: { description: 'code requester_signature_required (unsigned) or requester_signature_invalid', ...json(anyEnvelope) },
            403: { description: 'code not_requester: signed by another principal than the requester', ...json(anyEnvelope) },
            409: { description: 'code result_not_settled: released once the settlement is confirmed on chain', ...json(anyEnvelope) },
            410: { description: 'code result_withheld: timed out, failed or refunded; never released', ...json(anyEnvelope) },
            ...errors,
          },
        },
      },
      '/api/v1/stats': { get: { summary: 'Queue and settlement statistics', responses: { 200: { description: 'pending_tasks, processing_tasks, completed_tasks, total_tasks and more', ...json(anyEnvelope) } } } },
      '/api/v1/nodes': { get: { summary: 'Registered nodes', responses: { 200: { description: 'Nodes', ...json(anyEnvelope) } } } },
      '/api/v1/inputs/{sha256}': {
        put: {
          summary: 'Upload an input blob under the sha256 of its bytes: for a task on chain that names it (no signature), or signed by the requester before its task exists (within its cap)',
          security: [{}, ...requesterSecurity],
          parameters: [path('sha256', 'sha256 of the body, hex')],
          requestBody: { content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          responses: {
            201: { description: 'Stored', ...json(anyEnvelope) },
            200: { description: 'Already stored', ...json(anyEnvelope) },
            401: { description: 'code upload_signature_required (no task names it and the request is unsigned) or requester_signature_invalid', ...json(anyEnvelope) },
            429: { description: "code upload_cap_exceeded: the requester's inputs no task names yet are at its cap", ...json(anyEnvelope) },
            503: { description: "code uploads_full: the signer's limit of inputs no task names yet is reached", ...json(anyEnvelope) },
            ...errors,
          },
        },
        get: { summary: 'Fetch an input (the node leasing a task with it)', security: nodeSecurity, parameters: [path('sha256', 'input hash')], responses: { 200: { description: 'The bytes' }, 403: { description: 'No lease on a task with this input', ...json(anyEnvelope) }, ...signedErrors } },
      },
      '/api/v1/models/{artifact_hash}/artifact': {
        get: { summary: 'Download a model artifact (.onnx)', parameters: [path('artifact_hash', 'sha256 of the .onnx')], responses: { 200: { description: 'The bytes' }, ...errors } },
        put: {
          summary: "Upload the model file of the live version of ?model=NAME, signed by the model's on-chain owner (deploy or upgrade first), or from an admin session",
          security: [...requesterSecurity, { adminSession: [] }],
          parameters: [path('artifact_hash', 'sha256 of the body, hex'), { name: 'model', in: 'query', required: false, description: 'The model whose live version names this file (required for a signed upload)', schema: { type: 'string' } }],
          requestBody: { content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          responses: {
            201: { description: 'Stored', ...json(anyEnvelope) },
            200: { description: 'Already stored', ...json(anyEnvelope) },
            401: { description: 'code upload_signature_required or requester_signature_invalid', ...json(anyEnvelope) },
            403: { description: 'code not_model_owner', ...json(anyEnvelope) },
            409: { description: 'code artifact_not_registered: the live version names another file, or there is none', ...json(anyEnvelope) },
            ...errors,
          },
        },
      },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'Text exposition format' } } } },
      '/api/v1/admin/dashboard': {
        get: {
          summary: 'The console dashboard: models, usage per model and token, tasks by status, throughput, latency p50/p95, node earnings, settlements (docs/api.md, "Dashboard")',
          security: [{ adminSession: [] }],
          responses: { 200: { description: 'The snapshot', ...json(anyEnvelope) }, 401: { description: 'Not logged in or the session expired', ...json(anyEnvelope) } },
        },
      },
      ...modelPaths,
      ...consolePaths,
      ...inferencePaths,
      ...accountsPaths,
      ...periodPaths,
    },
  };
}
