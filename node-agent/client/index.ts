/**
 * Signed HTTP to the signer. Every request carries NODE_AUTH_HEADERS: the node id, a timestamp
 * and a SIP-018 signature over {method, path with query, sha256 of the exact body, timestamp}.
 * Responses are the seed service's envelope; failures become SignerError, which carries the
 * body's code (protocol/errors) and says whether trying again can help.
 */
import {
  NODE_AUTH_HEADERS,
  completeBatchResponse,
  envelope,
  FRAMED_TASKS,
  pulledTask,
  pulledTasks,
  sealedInputPath,
  sha256Hex,
  signNodeRequest,
  type CompleteOutcome,
  type CompleteTaskRequest,
  type ErrorCode,
  isErrorCode,
  type HeartbeatRequest,
  type NodeStatus,
  type PulledTask,
  type RegisterNodeRequest,
} from '../../protocol/index.js';
import { Pool } from 'undici';
import { z } from 'zod';

export { backoffDelay, sleep } from './backoff.js';

/**
 * A failed call: `status` 0 means the signer could not be reached; `code` is the signer's code for the
 * refusal (null when the answer had none: unreachable, or not the signer's envelope).
 */
export class SignerError extends Error {
  override name = 'SignerError';
  constructor(
    readonly status: number,
    message: string,
    readonly code: ErrorCode | null = null,
  ) {
    super(message);
  }

  /** Network failures, timeouts, 429 and 5xx may pass if tried again later; other 4xx will not. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** The code of an error body, when it is one of the protocol's. */
export function codeOf(code: unknown): ErrorCode | null {
  return isErrorCode(code) ? code : null;
}

/** Where and as whom to call. */
export interface ClientOptions {
  baseUrl: string;
  nodeId: string;
  privateKey: string;
  /** Chain id node requests are signed for (the signer's). */
  chainId: number;
  timeoutMs: number;
}

const anyEnvelope = envelope(z.unknown());

/** A pulled task, with its input's bytes when they came inside the pull's answer. */
export type PulledWithInput = PulledTask & { inputBytes?: Uint8Array };

/** A whole answer: status, content type and body bytes. */
interface Reply {
  status: number;
  ok: boolean;
  contentType: string | undefined;
  body: Uint8Array;
}

/** The body as text (a view, not a copy, of its bytes). */
function textOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** One signer, one node identity. */
export class SignerClient {
  /**
   * Keep-alive connections to the signer through undici's request API: a fraction of fetch's
   * per-call CPU (no WHATWG streams, Headers or Response objects), which the agent pays a few
   * times per result. One connection per request in flight, so a long-poll never holds up a post.
   */
  private readonly pool: Pool;

  constructor(readonly opts: ClientOptions) {
    this.pool = new Pool(new URL(opts.baseUrl).origin, { keepAliveTimeout: 30_000 });
  }

  /** Closes the connections (requests in flight finish first). */
  async close(): Promise<void> {
    await this.pool.close();
  }

  /** POST /api/v1/nodes/register */
  async register(body: RegisterNodeRequest): Promise<unknown> {
    return (await this.call('POST', '/api/v1/nodes/register', body)).data;
  }

  /** POST /api/v1/nodes/heartbeat */
  async heartbeat(status: NodeStatus): Promise<unknown> {
    const body: HeartbeatRequest = { node_id: this.opts.nodeId, status };
    return (await this.call('POST', '/api/v1/nodes/heartbeat', body)).data;
  }

  /** GET /api/v1/nodes/{id}/tasks?wait=: one leased task, or null after `waitS` seconds without one. */
  async pull(waitS: number, signal?: AbortSignal): Promise<PulledTask | null> {
    const path = `/api/v1/nodes/${encodeURIComponent(this.opts.nodeId)}/tasks?wait=${waitS}`;
    const { status, data } = await this.call('GET', path, undefined, waitS * 1000 + this.opts.timeoutMs, signal);
    if (status === 204 || data === null) return null;
    const parsed = pulledTask.safeParse(data);
    if (!parsed.success)
      throw new SignerError(
        502,
        `the signer sent a task this agent cannot read: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
      );
    return parsed.data;
  }

  /**
   * GET /api/v1/nodes/{id}/tasks?wait=&max=&inline=true, framed: up to `max` leased tasks, each
   * small input as raw bytes in `inputBytes`; empty after `waitS` seconds without one.
   */
  async pullMany(max: number, waitS: number, signal?: AbortSignal): Promise<PulledWithInput[]> {
    const path = `/api/v1/nodes/${encodeURIComponent(this.opts.nodeId)}/tasks?wait=${waitS}&max=${max}&inline=true`;
    const res = await this.send('GET', path, undefined, waitS * 1000 + this.opts.timeoutMs, signal, {
      accept: FRAMED_TASKS,
    });
    if (res.status === 204) return [];
    if (res.contentType !== FRAMED_TASKS) {
      const { data } = this.envelopeOf('GET', path, res);
      return this.tasksOf(data, null);
    }
    const bytes = res.body;
    const end = bytes.indexOf(0x0a);
    if (end < 0) throw new SignerError(502, `GET ${path}: a framed answer without its JSON line`);
    const { data } = this.envelopeOf('GET', path, res, textOf(bytes.subarray(0, end)));
    return this.tasksOf(data, bytes.subarray(end + 1));
  }

  private tasksOf(data: unknown, body: Uint8Array | null): PulledWithInput[] {
    const parsed = pulledTasks.safeParse(data);
    if (!parsed.success)
      throw new SignerError(
        502,
        `the signer sent tasks this agent cannot read: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
      );
    return parsed.data.map((task) => {
      if (!task.input_range || !body) return task;
      const [offset, length] = task.input_range;
      if (offset + length > body.length)
        throw new SignerError(502, `the signer's framed answer is shorter than task ${task.task_id}'s input range`);
      // A view into the answer: the pool copies it only when it sends it to a worker thread.
      return { ...task, inputBytes: body.subarray(offset, offset + length) };
    });
  }

  /** POST /api/v1/tasks/complete-batch with each output spliced in as the exact JSON that was hashed; one outcome per result, in order. */
  async completeBatch(
    items: { request: Omit<CompleteTaskRequest, 'output'>; outputJson: string | null }[],
  ): Promise<CompleteOutcome[]> {
    const text = `{"results":[${items.map(({ request, outputJson }) => `${JSON.stringify(request).slice(0, -1)},"output":${outputJson ?? 'null'}}`).join(',')}]}`;
    const { data } = await this.call(
      'POST',
      '/api/v1/tasks/complete-batch',
      undefined,
      this.opts.timeoutMs,
      undefined,
      text,
    );
    const parsed = completeBatchResponse.safeParse(data);
    if (!parsed.success || parsed.data.results.length !== items.length)
      throw new SignerError(
        502,
        'the signer answered a batch of results with something other than one outcome per result',
      );
    return parsed.data.results;
  }

  /** POST /api/v1/tasks/complete */
  async complete(body: CompleteTaskRequest): Promise<unknown> {
    return (await this.call('POST', '/api/v1/tasks/complete', body)).data;
  }

  /**
   * GET the raw bytes of a content-addressed input blob; with `sealed`, the ciphertext of an encrypted
   * task's input sealed to this node (the path follows from the hash, whatever input_url a task names).
   */
  async input(inputHash: string, opts?: { sealed: boolean }): Promise<Uint8Array> {
    return this.bytes(opts?.sealed ? sealedInputPath(inputHash) : `/api/v1/inputs/${inputHash}`);
  }

  /** GET the raw bytes of a model artifact. */
  async artifact(artifactHash: string): Promise<Uint8Array> {
    return this.bytes(`/api/v1/models/${artifactHash}/artifact`);
  }

  /** Timestamp of the last signed request: two requests never share one, so two identical requests never share a signature (the signer refuses replays). */
  private lastTimestamp = 0;

  private headers(method: string, path: string, body: string): Record<string, string> {
    const timestamp = (this.lastTimestamp = Math.max(Date.now(), this.lastTimestamp + 1));
    const signature = signNodeRequest(
      { method, path, bodyHash: sha256Hex(body), timestamp },
      this.opts.chainId,
      this.opts.privateKey,
    );
    return {
      [NODE_AUTH_HEADERS.node]: this.opts.nodeId,
      [NODE_AUTH_HEADERS.timestamp]: String(timestamp),
      [NODE_AUTH_HEADERS.signature]: signature,
    };
  }

  private async send(
    method: string,
    path: string,
    body: string | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
    extra: Record<string, string> = {},
  ): Promise<Reply> {
    const headers = { ...this.headers(method, path, body ?? ''), ...extra };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const all = signal ? AbortSignal.any([timeout, signal]) : timeout;
      const res = await this.pool.request({ method: method as 'GET' | 'POST', path, headers, body, signal: all });
      const type = res.headers['content-type'];
      // The whole body, under the same deadline: a signer that stalls mid-answer fails the call too.
      const bytes = await res.body.bytes();
      const status = res.statusCode;
      const contentType = Array.isArray(type) ? type[0] : type;
      return { status, ok: status >= 200 && status < 300, contentType, body: bytes };
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
      throw new SignerError(0, `signer ${this.opts.baseUrl} unreachable (${method} ${path}): ${cause}`);
    }
  }

  private async call(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = this.opts.timeoutMs,
    signal?: AbortSignal,
    raw?: string,
  ): Promise<{ status: number; data: unknown }> {
    const res = await this.send(
      method,
      path,
      raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      timeoutMs,
      signal,
    );
    if (res.status === 204) return { status: 204, data: null };
    return this.envelopeOf(method, path, res);
  }

  /** The envelope of a response (its text, or `text` when the caller already read the body); failures become SignerError. */
  private envelopeOf(method: string, path: string, res: Reply, text?: string): { status: number; data: unknown } {
    const json = text ?? textOf(res.body);
    let parsed: z.infer<typeof anyEnvelope> | undefined;
    try {
      parsed = anyEnvelope.parse(JSON.parse(json));
    } catch {
      throw new SignerError(
        res.ok ? 502 : res.status,
        `${method} ${path}: HTTP ${res.status} without the {success,data,error} envelope: ${json.slice(0, 200)}`,
      );
    }
    if (!res.ok || !parsed.success) {
      const why = `${method} ${path}: HTTP ${res.status}: ${parsed.error ?? 'no error message'}`;
      throw new SignerError(res.ok ? 502 : res.status, why, codeOf(parsed.code));
    }
    return { status: res.status, data: parsed.data };
  }

  private async bytes(path: string): Promise<Uint8Array> {
    const res = await this.send('GET', path, undefined, this.opts.timeoutMs);
    if (!res.ok) {
      const text = textOf(res.body);
      let message = text.slice(0, 200);
      let code: ErrorCode | null = null;
      try {
        const env = anyEnvelope.parse(JSON.parse(text));
        message = env.error ?? message;
        code = codeOf(env.code);
      } catch {
        // Not an envelope: keep the raw text.
      }
      throw new SignerError(res.status, `GET ${path}: HTTP ${res.status}: ${message}`, code);
    }
    return res.body;
  }
}
