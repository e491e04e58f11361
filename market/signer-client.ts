/**
 * What the user needs from the signer: upload an input blob, follow a task, fetch its result.
 */
import { sha256Hex } from '../protocol/index.js';

interface Envelope<T> {
  success: boolean;
  data: T | null;
  error: string | null;
}

/** A settled or completed task's result as the signer serves it. */
export interface TaskResultView {
  task_id: string;
  status: string;
  output: unknown;
  output_hash: string;
  signature: string;
  node_public_key: string;
  inference_node_id: string | null;
  settlement_txid: string | null;
}

/** The signer's task id for an on-chain task id: the same number, in decimal. */
export function chainTaskRef(chainTaskId: bigint | string): string {
  return String(chainTaskId);
}

/** HTTP client of the signer's user-facing routes. */
export class SignerClient {
  constructor(readonly baseUrl: string) {}

  private async request<T>(method: string, path: string, body?: Uint8Array): Promise<{ status: number; data: T | null; error: string | null }> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), { method, body: body as BodyInit | undefined, headers: body ? { 'content-type': 'application/octet-stream' } : undefined });
    } catch (e) {
      throw new Error(`cannot reach the signer at ${this.baseUrl} (${(e as Error).cause ?? (e as Error).message}); is it running?`);
    }
    if (res.status === 204) return { status: 204, data: null, error: null };
    const env = (await res.json().catch(() => null)) as Envelope<T> | null;
    return { status: res.status, data: env?.data ?? null, error: env?.error ?? (res.ok ? null : `HTTP ${res.status}`) };
  }

  /** Uploads an input blob; returns its sha256 (what goes on chain as input-hash). */
  async putInput(bytes: Uint8Array): Promise<string> {
    const hash = sha256Hex(bytes);
    const r = await this.request('PUT', `/api/v1/inputs/${hash}`, bytes);
    if (r.status >= 300) throw new Error(`the signer refused the input: ${r.error}`);
    return hash;
  }

  /** Uploads a model artifact (content-addressed by sha256) for nodes to fetch. */
  async putArtifact(bytes: Uint8Array): Promise<string> {
    const hash = sha256Hex(bytes);
    const r = await this.request('PUT', `/api/v1/models/${hash}/artifact`, bytes);
    if (r.status >= 300) throw new Error(`the signer refused the model file: ${r.error}`);
    return hash;
  }

  /** A task's status, or null when the signer has not seen it yet. */
  async status(taskRef: string): Promise<{ status: string; [k: string]: unknown } | null> {
    const r = await this.request<{ status: string }>('GET', `/api/v1/tasks/${encodeURIComponent(taskRef)}/status`);
    if (r.status === 404) return null;
    if (r.status >= 300) throw new Error(`status of ${taskRef}: ${r.error}`);
    return r.data;
  }

  /** A task's signed result, or null while there is none. */
  async result(taskRef: string): Promise<TaskResultView | null> {
    const r = await this.request<TaskResultView>('GET', `/api/v1/tasks/${encodeURIComponent(taskRef)}/result`);
    if (r.status === 404 || r.status === 202) return null;
    if (r.status >= 300) throw new Error(`result of ${taskRef}: ${r.error}`);
    return r.data;
  }
}
