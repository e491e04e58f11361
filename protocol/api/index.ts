/**
 * zod schemas of the signer's HTTP API, shared by the signer (validation, OpenAPI) and the
 * node agent (what it sends and expects). Paths and field names are the seed service's.
 */
import { z } from 'zod';
import { NODE_STATUSES, TASK_STATUSES, PRIVACY_MODES } from '../status/index.js';

/** Every response body: the seed service's envelope; a refusal adds `code`, a stable machine-readable reason (protocol/errors). */
export const envelope = <T extends z.ZodTypeAny>(data: T) =>
  z.object({ success: z.boolean(), data: data.nullable(), error: z.string().nullable(), code: z.string().optional() });

export const hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 as 64 lowercase hex characters');
export const compressedPublicKey = z
  .string()
  .regex(/^0[23][0-9a-f]{64}$/, 'must be a compressed secp256k1 public key: 66 hex characters starting with 02 or 03');
export const rsvSignature = z
  .string()
  .regex(/^[0-9a-f]{130}$/, 'must be a 65-byte RSV signature as 130 lowercase hex characters');
export const nodeId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, 'may contain only letters, digits, ".", "_" and "-" (1..64 characters)');

/** What a node can run with, reported at registration. */
export const capabilitiesSchema = z
  .object({
    cpu_cores: z.number().int().min(1).max(4096),
    memory_mb: z.number().int().min(1),
    gpu_memory_mb: z.number().int().min(0).default(0),
    max_batch: z.number().int().min(1).max(1024).default(1),
  })
  .strict();

/** POST /api/v1/nodes/register */
export const registerNodeRequest = z
  .object({
    node_id: nodeId,
    endpoint: z.string().max(512).default(''),
    public_key: compressedPublicKey,
    /** Artifact hashes (sha256 of the .onnx) of the models this node serves. */
    supported_models: z.array(hex32).max(256),
    performance_score: z.number().min(0).max(1000),
    capabilities: capabilitiesSchema.optional(),
  })
  .strict();
export type RegisterNodeRequest = z.infer<typeof registerNodeRequest>;

/** POST /api/v1/nodes/heartbeat */
export const heartbeatRequest = z.object({ node_id: nodeId, status: z.enum(NODE_STATUSES) }).strict();
export type HeartbeatRequest = z.infer<typeof heartbeatRequest>;

/** A task as a node receives it from a pull. */
export const pulledTask = z.object({
  task_id: z.string(),
  chain_task_id: z.string().nullable(),
  artifact_hash: hex32,
  model: z.string(),
  input_hash: hex32,
  /** Where to fetch the input blob: `/api/v1/inputs/{input_hash}`. */
  input_url: z.string(),
  privacy: z.enum(PRIVACY_MODES),
  priority: z.number().int(),
  /** Significant digits to round float outputs to before hashing and signing (0 = exact): protocol/tensor canonicalOutputs. */
  precision: z.number().int().min(0).max(9).optional(),
  lease_expires_at: z.number().int(),
  max_infer_time_ms: z.number().int(),
  /** Contract principal the result signature is bound to. */
  escrow: z.string(),
  chain_id: z.number().int(),
  /** The input blob's exact bytes as UTF-8 text, sent with the task when a pull asks `inline=true` and the blob is small valid UTF-8. */
  input: z.string().optional(),
  /** The same for a small input that is not UTF-8 (a binary tensor blob), base64-encoded. */
  input_base64: z.string().optional(),
  /** In a framed pull answer: [offset, length] of the input's bytes after the JSON line. */
  input_range: z.tuple([z.number().int().min(0), z.number().int().min(0)]).optional(),
});
export type PulledTask = z.infer<typeof pulledTask>;

/** Accept header (and content type) of the framed pull answer: one line of envelope JSON, a newline, then the inline inputs' raw bytes. */
export const FRAMED_TASKS = 'application/octet-stream';

/** Most tasks one pull (`?max=`) or one batch completion carries. */
export const MAX_TASKS_PER_CALL = 64;

/** GET /api/v1/nodes/{id}/tasks?max=N: the leased tasks (1..N), or 204 when none. */
export const pulledTasks = z.array(pulledTask).max(MAX_TASKS_PER_CALL);

/** POST /api/v1/tasks/complete */
export const completeTaskRequest = z
  .object({
    task_id: z.string().min(1).max(64),
    /** Open Inference Protocol output tensors, or an error report when `error` is set. */
    output: z.unknown(),
    confidence: z.number().min(0).max(1).nullable().default(null),
    inference_node_id: nodeId,
    output_hash: hex32,
    signature: rsvSignature,
    /** Set instead of a result when the model could not run the input. */
    error: z.string().max(2000).optional(),
    /**
     * Encrypted tasks: the node's SIP-018 signature over {escrow, task id, output hash, sha256 of the
     * output's ciphertext} (protocol/sip018 signSealedOutput); `output` is then the ECIES cipher object.
     */
    sealed_signature: rsvSignature.optional(),
  })
  .strict();
export type CompleteTaskRequest = z.infer<typeof completeTaskRequest>;

/** POST /api/v1/tasks/complete-batch: several results in one signed request; each is checked and accepted on its own. */
export const completeBatchRequest = z
  .object({ results: z.array(completeTaskRequest).min(1, 'results: send at least one result').max(MAX_TASKS_PER_CALL) })
  .strict();
export type CompleteBatchRequest = z.infer<typeof completeBatchRequest>;

/**
 * One result's outcome in a batch: accepted (with the task's new status) or refused (with the HTTP status,
 * code and reason a single complete would have given).
 */
export const completeOutcome = z.union([
  z.object({ task_id: z.string(), success: z.literal(true), status: z.enum(TASK_STATUSES) }),
  z.object({
    task_id: z.string(),
    success: z.literal(false),
    http_status: z.number().int(),
    code: z.string(),
    error: z.string(),
  }),
]);
export type CompleteOutcome = z.infer<typeof completeOutcome>;
export const completeBatchResponse = z.object({ results: z.array(completeOutcome) });

/** GET /api/v1/tasks/{task_id}/status */
export const taskStatusResponse = z.object({
  task_id: z.string(),
  status: z.enum(TASK_STATUSES),
  inference_node_id: z.string().nullable(),
  settlement_txid: z.string().nullable(),
  updated_at: z.number().int(),
  /** Encrypted tasks: the nodes its requester sealed the input to. */
  sealed_nodes: z.array(z.string()).optional(),
  /** Encrypted tasks: true when it waits and none of those nodes can run it; the requester's client seals it to new ones. */
  needs_reseal: z.boolean().optional(),
});

/** Headers a node agent signs every request with (see protocol/sip018 `signNodeRequest`). */
export const NODE_AUTH_HEADERS = {
  node: 'x-node-id',
  timestamp: 'x-node-timestamp',
  signature: 'x-node-signature',
} as const;

/**
 * Headers a requester (a wallet) signs a request with: to read its task's result, or to upload an
 * input or, as a model's owner, its model file (see protocol/sip018 `signRequesterRequest`).
 */
export const REQUESTER_AUTH_HEADERS = {
  publicKey: 'x-requester-public-key',
  timestamp: 'x-requester-timestamp',
  signature: 'x-requester-signature',
} as const;

/** GET /api/v1/tasks/{task_id}/result: a settled task's output, served to its requester only. */
export const taskResultResponse = z.object({
  task_id: z.string(),
  status: z.enum(TASK_STATUSES),
  output: z.unknown(),
  output_hash: hex32,
  confidence: z.number().nullable(),
  inference_node_id: z.string().nullable(),
  node_public_key: compressedPublicKey,
  signature: rsvSignature,
  completed_at: z.number().int().nullable(),
  settlement_txid: z.string().nullable(),
  /** Encrypted tasks: the node's signature over the sealed output (`output` is then an ECIES cipher object). */
  sealed_signature: rsvSignature.nullable().optional(),
});
export type TaskResultResponse = z.infer<typeof taskResultResponse>;

/** Most nodes one reservation offers (a level-5 task runs on five). */
export const MAX_RESERVED_NODES = 5;

/**
 * POST /api/v1/reservations: the nodes an encrypted input is to be sealed to, held for a short
 * while. A requester signs it (REQUESTER_AUTH_HEADERS); a token holder sends its bearer token.
 */
export const reservationRequest = z
  .object({
    model: z.string().min(1).max(128),
    /** How many distinct nodes to offer: the task's security level (1, 3, 5), or 2 so a level-1 task can be spot-checked. */
    nodes: z.number().int().min(1).max(MAX_RESERVED_NODES).default(2),
    /** Nodes not to offer again (those a task was sealed to and that went away). */
    exclude: z.array(nodeId).max(64).default([]),
  })
  .strict();
export type ReservationRequest = z.infer<typeof reservationRequest>;

/** A reservation: seal the envelope to each node's key and PUT each ciphertext before `expires_at`. */
export const reservationResponse = z.object({
  reservation_id: z.string(),
  model: z.string(),
  artifact_hash: hex32,
  nodes: z.array(z.object({ node_id: nodeId, public_key: compressedPublicKey })).min(1),
  expires_at: z.number().int(),
});
export type ReservationResponse = z.infer<typeof reservationResponse>;

/** Where a requester PUTs, and a leased node GETs, an input sealed to one node. */
export function sealedInputPath(inputHash: string, nodeIdOrNone?: string): string {
  return `/api/v1/inputs/${inputHash}/sealed${nodeIdOrNone ? `/${nodeIdOrNone}` : ''}`;
}
