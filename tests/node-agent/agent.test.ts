/**
 * The agent against the real signer (in-process, SQLite in a temp folder, loopback HTTP): it
 * bonds its key on the devnet (funded by the shared helper), registers, pulls, computes on the
 * real models, signs and posts; bad inputs fail with their reason; heartbeats keep their
 * interval under inference load; a signer restart is survived.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import { randomPrivateKey } from '@stacks/transactions';
import { requesterAuthHeaders, sha256Hex, verifyTaskResult, jsonHash, type PulledTask } from '../../protocol/index.js';
import { ModelStore, SignerClient, resolveConfig, startAgent, type RunningAgent } from '../../node-agent/index.js';
import { chainIdOf } from '../../node-agent/config/index.js';
import { syntheticInput } from '../../node-agent/bench/index.js';
import { CLS, DET, blob, floats, oip } from './helpers.js';
import { fundNodeKey } from '../../scripts/lib/funding.js';
import { tempDevnet } from '../devnet/helpers.js';

type TaskRow = {
  task_id: string;
  status: string;
  input_hash: string;
  output: string | null;
  output_hash: string | null;
  signature: string | null;
  error: string | null;
};

/** The real signer running on its own thread (see signer-thread.ts). */
class SignerThread {
  private next = 1;
  private waiting = new Map<number, (v: unknown) => void>();
  private constructor(
    private worker: Worker,
    readonly url: string,
    readonly escrow: string,
    readonly chainId: number,
  ) {
    worker.on('message', (m: { id: number; result: unknown }) => this.waiting.get(m.id)?.(m.result));
  }

  static start(config: Record<string, unknown>): Promise<SignerThread> {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/\.cjs$/, '.mjs');
    const entry = new URL('./signer-thread.ts', import.meta.url).href;
    const worker = new Worker(
      `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`,
      { eval: true, workerData: config },
    );
    return new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (m: { ready: { url: string; escrow: string; chainId: number } }) =>
        resolve(new SignerThread(worker, m.ready.url, m.ready.escrow, m.ready.chainId)),
      );
    });
  }

  private call(msg: Record<string, unknown>): Promise<unknown> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.postMessage({ id, ...msg });
    });
  }

  ingest(chainTaskId: string, artifactHash: string, inputHash: string) {
    return this.call({ op: 'ingest', chainTaskId, artifactHash, inputHash });
  }

  task(taskId: string) {
    return this.call({ op: 'task', taskId }) as Promise<TaskRow>;
  }

  async close() {
    await this.call({ op: 'close' });
    await this.worker.terminate();
  }
}

const silent = pino({ level: 'silent' });
let dir: string;
let signer: SignerThread;
let port = 0;
let agent: RunningAgent;
let nextTask = 1;
let devnet: Awaited<ReturnType<typeof tempDevnet>>;

function bootSigner(db = 'signer.db') {
  return SignerThread.start({
    server: { host: '127.0.0.1', port, max_wait_seconds: 5, body_limit_bytes: 16 * 1024 * 1024 },
    database: { path: join(dir, db) },
    models: { dir: join(dir, 'signer-models') },
    scheduler: { max_attempts: 1, prefer_better_node_ms: 0 },
    log: { level: 'silent' },
  });
}

/** The wallet of the user who uploads the inputs. */
const REQUESTER_KEY = randomPrivateKey();

/** Uploads an input blob and adds a task for it, as a user and the chain watcher would. */
async function submit(bytes: Uint8Array, artifactHash = CLS.sha256): Promise<string> {
  const inputHash = sha256Hex(bytes);
  // Before its task exists, an input is stored only from a signed requester request.
  const path = `/api/v1/inputs/${inputHash}`;
  const put = await fetch(signer.url + path, {
    method: 'PUT',
    body: Buffer.from(bytes),
    headers: {
      'content-type': 'application/json',
      ...requesterAuthHeaders('PUT', path, signer.chainId, REQUESTER_KEY),
    },
  });
  expect(put.status).toBeLessThan(300);
  const id = String(nextTask++);
  await signer.ingest(id, artifactHash, inputHash);
  return id;
}

const settled = (id: string) =>
  expect.poll(async () => (await signer.task(id)).status, { timeout: 30_000, interval: 50 });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'agent-e2e-'));
  mkdirSync(join(dir, 'signer-models'));
  copyFileSync(CLS.path, join(dir, 'signer-models', 'cls.onnx'));
  signer = await bootSigner();
  port = Number(new URL(signer.url).port);
  // The agent bonds its key at start, from its own address: the shared helper funds it.
  devnet = await tempDevnet();
  await fundNodeKey(devnet.devnet.url, join(dir, 'node.key'));
  const config = resolveConfig({
    agent: { signer: signer.url, key_file: join(dir, 'node.key'), node_id: 'agent-under-test', network: 'devnet' },
    chain: { api_url: devnet.devnet.url },
    runtime: { workers: 1, intra_op_threads: 1, max_batch: 8, max_queue_delay_ms: 5 },
    client: { pull_wait_s: 1, heartbeat_interval_ms: 100, backoff_base_ms: 50, backoff_max_ms: 300 },
    models: [{ builtin: 'classifier' }, { builtin: 'detector', warmup_shape: { x: [1, 3, 64, 64] } }],
  });
  agent = await startAgent(config, silent);
  const deadline = Date.now() + 20_000;
  while (!agent.agent.registered && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
});

afterAll(async () => {
  await agent?.close();
  await signer?.close();
  await devnet?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('node agent with the real signer', () => {
  it('bonds its key in the escrow before registering', async () => {
    expect(agent.bond).toMatchObject({ status: 'active', stake: 1_000_000n, operator: agent.key.address });
  });

  it('registers its key, models and capabilities', async () => {
    const res = await fetch(`${signer.url}/api/v1/nodes`);
    const nodes = (
      (await res.json()) as {
        data: { node_id: string; public_key: string; supported_models: string[] }[] | { nodes: unknown[] };
      }
    ).data;
    const list = (Array.isArray(nodes) ? nodes : (nodes as { nodes: unknown[] }).nodes) as {
      node_id: string;
      public_key: string;
      supported_models: string[];
    }[];
    const me = list.find((n) => n.node_id === 'agent-under-test')!;
    expect(me.public_key).toBe(agent.key.publicKey);
    expect(me.supported_models).toEqual([CLS.sha256, DET.sha256]);
  });

  it('computes, signs and posts tasks: the signer verifies and completes them', async () => {
    const dims = [1, 3, 48, 192];
    const inputs = [1, 2, 3, 4, 5].map((s) => blob(oip('x', dims, floats(dims, s))));
    const ids = await Promise.all(inputs.map((b) => submit(b)));
    for (const id of ids) await settled(id).toBe('completed');
    const row = await signer.task(ids[0]!);
    const output = JSON.parse(row.output!) as { outputs: { name: string; shape: number[]; data: number[] }[] };
    expect(output.outputs[0]).toMatchObject({ name: 'softmax_0.tmp_0', shape: [1, 2] });
    expect(row.output_hash).toBe(jsonHash(output));
    expect(
      verifyTaskResult(
        { escrow: signer.escrow, taskId: BigInt(ids[0]!), inputHash: row.input_hash, outputHash: row.output_hash! },
        signer.chainId,
        row.signature!,
        agent.key.publicKey,
      ),
    ).toBe(true);
    const rows = await Promise.all(ids.map((id) => signer.task(id)));
    expect(new Set(rows.map((r) => r.output_hash)).size).toBe(5);
  });

  it('computes many tasks that share one input, fetched or inline: identical requests are never refused as replays', async () => {
    const dims = [1, 3, 48, 192];
    const shared = blob(oip('x', dims, floats(dims, 42)));
    const ids = await Promise.all(Array.from({ length: 24 }, () => submit(shared)));
    for (const id of ids) await settled(id).toBe('completed');
    const client = new SignerClient({
      baseUrl: signer.url,
      nodeId: 'agent-under-test',
      privateKey: agent.key.privateKey,
      chainId: signer.chainId,
      timeoutMs: 5_000,
    });
    // The same request 20 times in one millisecond: each is signed with its own timestamp. The status is
    // one the running agent never sends, so its own heartbeat (same key, same body, every 100 ms) cannot
    // share a timestamp with one of these and be refused as their replay; its next beat restores 'online'.
    await expect(Promise.all(Array.from({ length: 20 }, () => client.heartbeat('maintenance')))).resolves.toHaveLength(
      20,
    );
  });

  it('fails a task with a bad tensor, with the reason in the signer', async () => {
    const id = await submit(blob(oip('x', [1, 4, 48, 192], floats([1, 4, 48, 192]))));
    await settled(id).toBe('failed');
    expect((await signer.task(id)).error).toContain('input "x" dimension 1 must be 3 (shape [?,3,?,?]), got 4');
  });

  it('keeps heartbeats on their interval while inference runs', async () => {
    const dims = [1, 3, 48, 192];
    const det = [1, 3, 320, 320];
    const small = Array.from({ length: 24 }, (_, s) => blob(oip('x', dims, floats(dims, 100 + s))));
    const large = [1, 2].map((s) => blob(oip('x', det, floats(det, s))));
    const from = Date.now();
    const ids = await Promise.all([...small.map((b) => submit(b)), ...large.map((b) => submit(b, DET.sha256))]);
    for (const id of ids) await settled(id).toBe('completed');
    const elapsed = Date.now() - from;
    const beats = agent.agent.heartbeatTimes.filter((t) => t >= from);
    const gaps = beats
      .slice(1)
      .map((t, i) => t - beats[i]!)
      .sort((a, b) => a - b);
    // Interval 100 ms. On a shared 2-core box one tick may be late (CPU starvation, GC), so the
    // check is on the whole window: nearly every tick happened, and the typical one on time.
    expect(beats.length).toBeGreaterThanOrEqual(Math.floor((0.6 * elapsed) / 100));
    expect(gaps[Math.floor(gaps.length / 2)]!).toBeLessThan(150);
  });

  it('never posts a task twice, and drops a result whose lease is gone', async () => {
    const id = await submit(blob(oip('x', [1, 3, 48, 192], floats([1, 3, 48, 192], 77))));
    await settled(id).toBe('completed');
    const before = { ...agent.agent.counts };
    const row = await signer.task(id);
    const pulled: PulledTask = {
      task_id: id,
      chain_task_id: id,
      artifact_hash: CLS.sha256,
      model: 'ppocr',
      input_hash: row.input_hash,
      input_url: '',
      privacy: 'standard',
      priority: 0,
      lease_expires_at: Date.now() + 60_000,
      max_infer_time_ms: 60_000,
      escrow: signer.escrow,
      chain_id: signer.chainId,
    };
    await agent.agent.handle(pulled);
    expect(agent.agent.counts).toEqual(before);
    const expired = { ...pulled, task_id: 'never-leased', chain_task_id: '999', lease_expires_at: Date.now() - 1 };
    await agent.agent.handle(expired);
    expect(agent.agent.counts).toEqual({ ...before, dropped: before.dropped + 1 });
  });

  it('runs a task again when the signer leases it again after refusing its result, also when the new lease came during the run', async () => {
    const bytes = blob(oip('x', [1, 3, 48, 192], floats([1, 3, 48, 192], 78)));
    // A task the signer does not know: it refuses each result (404), as it refuses one whose lease
    // ran out during the signature check, with the task gone back to the queue and to this node.
    const lease = (ms: number): PulledTask => ({
      task_id: 'leased-again',
      chain_task_id: '998',
      artifact_hash: CLS.sha256,
      model: 'ppocr',
      input_hash: sha256Hex(bytes),
      input_url: '',
      input: Buffer.from(bytes).toString('utf8'),
      privacy: 'standard',
      priority: 0,
      lease_expires_at: Date.now() + ms,
      max_infer_time_ms: 60_000,
      escrow: signer.escrow,
      chain_id: signer.chainId,
    });
    const before = agent.agent.counts.dropped;
    await agent.agent.handle(lease(60_000));
    expect(agent.agent.counts.dropped).toBe(before + 1);
    await agent.agent.handle(lease(61_000));
    expect(agent.agent.counts.dropped).toBe(before + 2);
    // The second lease arrives while the first is computed: it is run once the first is refused.
    await Promise.all([agent.agent.handle(lease(62_000)), agent.agent.handle(lease(63_000))]);
    await expect.poll(() => agent.agent.counts.dropped).toBe(before + 4);
  });

  it('downloads a model from the signer artifact endpoint and checks it', async () => {
    const client = new SignerClient({
      baseUrl: signer.url,
      nodeId: agent.nodeId,
      privateKey: agent.key.privateKey,
      chainId: chainIdOf('devnet'),
      timeoutMs: 10_000,
    });
    const host = { load: agent.pool.load.bind(agent.pool), register: agent.batcher.register.bind(agent.batcher) };
    const store = new ModelStore(host, [], join(dir, 'downloads'), (h) => client.artifact(h));
    const info = await store.ensure(CLS.sha256);
    expect(info.inputs[0]!.name).toBe('x');
    await expect(
      new ModelStore(host, [], join(dir, 'downloads'), (h) => client.artifact(h)).ensure('cd'.repeat(32)),
    ).rejects.toThrow(/HTTP 404/);
  });

  it('survives the signer going away: backs off, re-registers, and serves again', async () => {
    await signer.close();
    await new Promise((r) => setTimeout(r, 700));
    // A fresh database: the signer forgot the node, so only a new registration lets work through.
    signer = await bootSigner('signer-2.db');
    const dims = [1, 3, 48, 192];
    const id = await submit(blob(oip('x', dims, syntheticInput(dims))));
    await settled(id).toBe('completed');
  });
});
