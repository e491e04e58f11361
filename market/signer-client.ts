/**
 * What the user needs from the signer: upload an input blob or a model file, follow a task, fetch
 * its result. Uploads and results are signed with the wallet key (protocol/sip018
 * `signRequesterRequest`): the signer serves a result only to the task's requester, and stores
 * blobs only from a signed requester (inputs) or the model's on-chain owner (model files).
 */
import {
  CHAIN_ID,
  isErrorCode,
  requesterAuthHeaders,
  reservationResponse,
  sealedInputPath,
  sha256Hex,
  type ErrorCode,
  type ReservationRequest,
  type ReservationResponse,
  type TaskResultResponse,
} from '../protocol/index.js';
import type { Wallet } from './keys.js';

interface Envelope<T> {
  success: boolean;
  data: T | null;
  error: string | null;
  code?: string;
}

/** One input of a model as the signer lists it: its name, OIP datatype and shape (-1: any size). */
export interface TensorSpec {
  name: string;
  datatype: string;
  shape: number[];
}

/** A settled task's result as the signer serves it to its requester. */
export type TaskResultView = TaskResultResponse;

/**
 * A refusal by the signer, with its HTTP status and stable code (protocol/errors, e.g. `result_not_settled`):
 * callers switch on the code, never on the message. null when the answer carried no code the protocol knows.
 */
export class SignerRefusal extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: ErrorCode | null,
  ) {
    super(message);
    this.name = 'SignerRefusal';
  }
}

/** The signer's task id for an on-chain task id: the same number, in decimal. */
export function chainTaskRef(chainTaskId: bigint | string): string {
  return String(chainTaskId);
}

/** HTTP client of the signer's user-facing routes. */
export class SignerClient {
  /** `chainId`: the chain the signer serves (requester signatures are bound to it). */
  constructor(
    readonly baseUrl: string,
    readonly chainId: number = CHAIN_ID.testnet,
  ) {}

  private async request<T>(
    method: string,
    path: string,
    opts: { body?: Uint8Array; wallet?: Wallet; contentType?: string } = {},
  ): Promise<{ status: number; data: T | null; error: string | null; code: ErrorCode | null }> {
    const headers: Record<string, string> = opts.body
      ? { 'content-type': opts.contentType ?? 'application/octet-stream' }
      : {};
    // Signed last, just before sending: the signature covers the exact path with its query and a fresh timestamp.
    if (opts.wallet) Object.assign(headers, requesterAuthHeaders(method, path, this.chainId, opts.wallet.privateKey));
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), { method, body: opts.body as BodyInit | undefined, headers });
    } catch (e) {
      throw new Error(
        `cannot reach the signer at ${this.baseUrl} (${(e as Error).cause ?? (e as Error).message}); is it running?`,
      );
    }
    if (res.status === 204) return { status: 204, data: null, error: null, code: null };
    const env = (await res.json().catch(() => null)) as Envelope<T> | null;
    const code = isErrorCode(env?.code) ? env.code : null;
    return {
      status: res.status,
      data: env?.data ?? null,
      error: env?.error ?? (res.ok ? null : `HTTP ${res.status}`),
      code,
    };
  }

  /**
   * Uploads an input blob, signed by the requester's wallet; returns its sha256 (what goes on chain as input-hash).
   * `model` names the model it is for, so the signer's policy guard checks it at that model's data level.
   */
  async putInput(bytes: Uint8Array, wallet: Wallet, model?: string): Promise<string> {
    const hash = sha256Hex(bytes);
    const query = model === undefined ? '' : `?model=${encodeURIComponent(model)}`;
    const r = await this.request('PUT', `/api/v1/inputs/${hash}${query}`, { body: bytes, wallet });
    if (r.status >= 300) throw new SignerRefusal(`the signer refused the input: ${r.error}`, r.status, r.code);
    return hash;
  }

  /**
   * Reserves nodes to seal an encrypted input to (requester-signed): their ids and public keys,
   * held until `expires_at`. 503 no_node_available when no online node serves the model.
   */
  async reserve(req: ReservationRequest, wallet: Wallet): Promise<ReservationResponse> {
    const body = new TextEncoder().encode(JSON.stringify(req));
    const r = await this.request('POST', '/api/v1/reservations', { body, wallet, contentType: 'application/json' });
    if (r.status >= 300) throw new SignerRefusal(`the signer reserved no node: ${r.error}`, r.status, r.code);
    const parsed = reservationResponse.safeParse(r.data);
    if (!parsed.success) throw new Error(`the signer's reservation is malformed: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  }

  /** Uploads an input sealed to one reserved node (sealTo's bytes), signed by the requester's wallet. */
  async putSealedInput(
    inputHash: string,
    nodeId: string,
    reservationId: string,
    sealed: Uint8Array,
    wallet: Wallet,
  ): Promise<void> {
    const path = `${sealedInputPath(inputHash, nodeId)}?reservation=${encodeURIComponent(reservationId)}`;
    const r = await this.request('PUT', path, { body: sealed, wallet, contentType: 'application/json' });
    if (r.status >= 300)
      throw new SignerRefusal(`the signer refused the input sealed to ${nodeId}: ${r.error}`, r.status, r.code);
  }

  /**
   * Uploads a model file for nodes to fetch, signed by the wallet that owns `model` on chain; the
   * file must be the artifact of the model's live version (deploy or upgrade it first).
   */
  async putArtifact(bytes: Uint8Array, model: string, wallet: Wallet): Promise<string> {
    const hash = sha256Hex(bytes);
    const r = await this.request('PUT', `/api/v1/models/${hash}/artifact?model=${encodeURIComponent(model)}`, {
      body: bytes,
      wallet,
    });
    if (r.status >= 300) throw new SignerRefusal(`the signer refused the model file: ${r.error}`, r.status, r.code);
    return hash;
  }

  /**
   * The inputs the signer records for a model's live version (Open Inference Protocol metadata,
   * GET /v2/models/{name}: OIP datatypes, -1 for a free dimension), with the artifact they belong
   * to; null when the signer does not serve the model or cannot read its file.
   */
  async modelInputs(model: string): Promise<{ artifactHash: string; inputs: TensorSpec[] } | null> {
    let res: Response;
    try {
      res = await fetch(new URL(`/v2/models/${encodeURIComponent(model)}`, this.baseUrl));
    } catch (e) {
      const why = (e as Error).cause ?? (e as Error).message;
      throw new Error(`cannot reach the signer at ${this.baseUrl} (${why}); is it running?`);
    }
    type Metadata = { inputs?: TensorSpec[]; parameters?: { artifact_hash?: string } };
    const body = (await res.json().catch(() => null)) as Metadata | null;
    const artifactHash = body?.parameters?.artifact_hash;
    if (!res.ok || !artifactHash || !body?.inputs?.length) return null;
    return { artifactHash, inputs: body.inputs };
  }

  /** A task's status, or null when the signer has not seen it yet. */
  async status(taskRef: string): Promise<{ status: string; [k: string]: unknown } | null> {
    const r = await this.request<{ status: string }>('GET', `/api/v1/tasks/${encodeURIComponent(taskRef)}/status`);
    if (r.code === 'task_not_found') return null;
    if (r.status >= 300) throw new SignerRefusal(`status of ${taskRef}: ${r.error}`, r.status, r.code);
    return r.data;
  }

  /**
   * A settled task's signed result, read as its requester (`wallet` must be the key that
   * submitted the task). Throws a SignerRefusal saying why otherwise (not settled yet, never
   * released, another wallet's task, unknown task).
   */
  async result(taskRef: string, wallet: Wallet): Promise<TaskResultView> {
    const r = await this.request<TaskResultView>('GET', `/api/v1/tasks/${encodeURIComponent(taskRef)}/result`, {
      wallet,
    });
    if (r.status >= 300 || !r.data) throw new SignerRefusal(`result of ${taskRef}: ${r.error}`, r.status, r.code);
    return r.data;
  }
}
