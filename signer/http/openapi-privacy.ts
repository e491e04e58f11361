/** The OpenAPI operations of encrypted tasks' routes (routes/sealed.ts), by path and method. */
import { reservationRequest, reservationResponse } from '../../protocol/index.js';
import { z } from 'zod';
import { path, requesterSecurity } from './openapi-core.js';
import { json, reply } from './openapi-doc.js';

/** Operations by path and method. */
export const privacyPaths = {
  '/api/v1/reservations': {
    post: {
      summary:
        "Offer the nodes an encrypted task's input is to be sealed to (their public keys), held for privacy.reservation_ttl_ms",
      security: requesterSecurity,
      requestBody: { required: true, ...json(reservationRequest) },
      responses: {
        201: reply('The reservation: seal the envelope to each node and PUT each ciphertext', reservationResponse),
        404: reply('code not_found: the model is not published'),
        503: reply('code no_node_available: no online node serves the model'),
      },
    },
  },
  '/api/v1/inputs/{sha256}/sealed/{node_id}': {
    put: {
      summary:
        "Upload an input sealed to one reserved node (ECIES cipher object as JSON); sha256 is the envelope's hash, the task's input hash",
      security: requesterSecurity,
      parameters: [
        path('sha256', "the envelope's sha256 (the task's input hash)"),
        path('node_id', 'the reserved node it is sealed to'),
        { name: 'reservation', in: 'query', required: true, description: 'reservation id', schema: { type: 'string' } },
      ],
      responses: {
        201: reply('Stored'),
        404: reply('code reservation_not_found: unknown, expired or not yours'),
        409: reply('code node_not_reserved: the reservation did not offer this node'),
        429: reply('code upload_cap_exceeded'),
      },
    },
  },
  '/api/v1/inputs/{sha256}/sealed': {
    get: {
      summary: 'The ciphertext of a leased encrypted task sealed to the node that asks (signed by the node)',
      security: [{ nodeSignature: [] }],
      parameters: [path('sha256', "the task's input hash")],
      responses: {
        200: { description: 'The cipher object (JSON bytes)', content: { 'application/json': {} } },
        403: reply('code forbidden: no lease on an encrypted task with this input'),
        404: reply('code not_found: nothing was sealed to this node for it'),
      },
    },
  },
};

const apiToken = [{ bearerAuth: [] }];
const model = path('model', 'Published model name');

/** Encrypted direct inference for API-token holders (routes/sealed-infer.ts). */
export const sealedInferencePaths = {
  '/api/v1/models/{model}/reservations': {
    post: {
      summary: "Offer the nodes a token holder's encrypted input is to be sealed to (as /api/v1/reservations)",
      security: apiToken,
      parameters: [model],
      requestBody: { required: true, ...json(reservationRequest.omit({ model: true })) },
      responses: { 201: reply('The reservation', reservationResponse), 503: reply('code no_node_available') },
    },
  },
  '/api/v1/models/{model}/inputs/{sha256}/sealed/{node_id}': {
    put: {
      summary: 'Upload an input sealed to one reserved node (ECIES cipher object as JSON), as a token holder',
      security: apiToken,
      parameters: [
        model,
        path('sha256', "the envelope's sha256"),
        path('node_id', 'the reserved node it is sealed to'),
        { name: 'reservation', in: 'query', required: true, description: 'reservation id', schema: { type: 'string' } },
      ],
      responses: {
        201: reply('Stored'),
        404: reply('code reservation_not_found'),
        409: reply('code node_not_reserved'),
      },
    },
  },
  '/api/v1/models/{model}/infer/sealed': {
    post: {
      summary:
        "Run a model on an input sealed to reserved nodes (sync; ?async=1 answers 202): the result carries sealed_output (sealed to the envelope's reply_to key) and sealed_signature, never clear outputs",
      security: apiToken,
      parameters: [
        model,
        { name: 'async', in: 'query', required: false, schema: { type: 'string', enum: ['1', '0', 'true', 'false'] } },
      ],
      requestBody: {
        required: true,
        ...json(
          z.object({ input_hash: z.string(), priority: z.number().optional(), timeout_ms: z.number().optional() }),
        ),
      },
      responses: {
        200: reply(
          '{task_id, model, version, sealed_output, sealed_signature, output_hash, node_id, signature, latency_ms}',
        ),
        202: reply('{task_id, status, result_url}'),
        404: reply('code not_found: nothing was sealed under this input hash by this token'),
      },
    },
  },
};
