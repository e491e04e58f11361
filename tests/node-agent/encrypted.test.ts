/**
 * Encrypted tasks on the node (issue 14): the agent opens the input sealed to its key, checks the
 * envelope against the task's input hash, runs the real classifier on the inner bytes, and posts
 * the output sealed to the requester with a commitment and two signatures; a wrong key, an altered
 * ciphertext or another task's envelope is a signed failure report that names its code and
 * quotes no plaintext. Then the same through the real signer on loopback (in-process, no chain):
 * reservation, sealed upload, ciphertext-only pull, sealed completion, and the agent's log lines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { compressPublicKey, getAddressFromPublicKey, privateKeyToPublic, randomPrivateKey } from '@stacks/transactions';
import {
  buildEnvelope,
  errorReport,
  jsonHash,
  outputCommitment,
  privacyCode,
  requesterAuthHeaders,
  sealTo,
  sealedInputPath,
  sha256Hex,
  unseal,
  verifySealedOutput,
  verifyTaskResult,
  type PulledTask,
} from '../../protocol/index.js';
import {
  DynamicBatcher,
  SignerError,
  WorkerPool,
  computeTask,
  resolveConfig,
  startAgent,
  type Feeds,
  type ModelInfo,
  type RunningAgent,
  type TaskContext,
} from '../../node-agent/index.js';
import { startSigner, type RunningSigner } from '../../signer/index.js';
import { ingest } from '../../signer/chain/watcher.js';
import { getTask } from '../../signer/tasks/state.js';
import { consoleModels } from '../../signer/db/index.js';
import { CLS, blob, floats, oip } from './helpers.js';

const limits = { maxInputBytes: 4_000_000, maxInputElements: 200_000 };
const DIMS = [1, 3, 48, 192];
const ESCROW = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.inference-escrow';
const CHAIN = 0x80000000;
/** Text that only the requester and the node may ever see. */
const MARKER = 'MARKER-7f3a-secret';

const keyPair = () => {
  const privateKey = randomPrivateKey();
  return { privateKey, publicKey: compressPublicKey(privateKeyToPublic(privateKey)) };
};
const node = keyPair();
const requester = keyPair();

let pool: WorkerPool;
let info: ModelInfo;
let batcher: DynamicBatcher;

beforeAll(async () => {
  pool = await WorkerPool.start({ workers: 1, intraOpThreads: 1, engine: 'onnxruntime' });
  info = (await pool.load(CLS.sha256, CLS.path, CLS.warmupShape)).info;
  batcher = new DynamicBatcher(pool, { maxBatch: 8, maxQueueDelayMs: 2 });
  batcher.register(CLS.sha256, info);
});
afterAll(async () => {
  batcher.close();
  await pool.close();
});

const task = (inputHash: string): PulledTask => ({
  task_id: '77',
  chain_task_id: '77',
  artifact_hash: CLS.sha256,
  model: 'ppocr-cls',
  input_hash: inputHash,
  input_url: `/api/v1/inputs/${inputHash}/sealed`,
  privacy: 'encrypted',
  priority: 0,
  lease_expires_at: Date.now() + 60_000,
  max_infer_time_ms: 60_000,
  escrow: ESCROW,
  chain_id: CHAIN,
});

/** The agent's task context (as node-agent/index.ts wires it) with the signer's GET answered by `sealed`. */
const context = (sealed: Uint8Array, fetched: string[] = []): TaskContext => ({
  nodeId: 'n-enc',
  privateKey: node.privateKey,
  validate: (b, h, i) => pool.validate(b, h, i, limits),
  model: async () => info,
  input: async (hash, opts) => {
    fetched.push(`${hash}${opts?.sealed ? ' sealed' : ''}`);
    return sealed;
  },
  infer: (hash, feeds: Feeds) => batcher.submit(hash, feeds),
  encode: (outputs, names, precision) => pool.encode(outputs, names, precision),
  openSealed: (bytes, inputHash) => pool.openSealed(node.privateKey, bytes, inputHash),
  sealOutput: (json, salt, replyTo) => pool.sealOutput(json, salt, replyTo),
});

/** Runs a task and returns the body the signer parses from what the client sends, and its whole text. */
const compute = async (t: PulledTask, ctx: TaskContext) => {
  const { request, outputJson } = await computeTask(t, ctx);
  const text = `${JSON.stringify(request).slice(0, -1)},"output":${outputJson ?? 'null'}}`;
  return { body: JSON.parse(text) as typeof request & { output: unknown }, text, outputJson };
};

const resultSigned = (t: PulledTask, outputHash: string, sig: string) =>
  verifyTaskResult({ escrow: ESCROW, taskId: 77n, inputHash: t.input_hash, outputHash }, CHAIN, sig, node.publicKey);

describe('an encrypted task on the node', () => {
  it('opens the sealed input, runs it, and posts the output sealed to the requester with its commitment', async () => {
    const input = blob(oip('x', DIMS, floats(DIMS, 3)));
    const env = buildEnvelope(input, { replyTo: requester.publicKey });
    const t = task(env.inputHash);
    const fetched: string[] = [];
    const { body, text, outputJson } = await compute(t, context(await sealTo(node.publicKey, env.bytes), fetched));

    expect(fetched).toEqual([`${env.inputHash} sealed`]);
    expect(body.error).toBeUndefined();
    // Nothing in clear: the output is a cipher object, and the confidence (a property of the output) is not sent.
    expect(Object.keys(body.output as object).sort()).toEqual([
      'cipherText',
      'cipherTextEncoding',
      'ephemeralPK',
      'iv',
      'mac',
      'wasString',
    ]);
    expect(body.confidence).toBeNull();
    expect(text).not.toContain('softmax');
    // The requester opens it and checks it against the output hash the node signed for the chain.
    const plain = new TextDecoder().decode(await unseal(requester.privateKey, new TextEncoder().encode(outputJson!)));
    const outputs = JSON.parse(plain) as { outputs: { name: string; shape: number[] }[] };
    expect(outputs.outputs[0]).toMatchObject({ name: 'softmax_0.tmp_0', shape: [1, 2] });
    expect(body.output_hash).toBe(outputCommitment(env.envelope.salt, plain));
    expect(resultSigned(t, body.output_hash, body.signature)).toBe(true);
    // The sealed signature covers the exact ciphertext the signer hashes after parsing the body.
    const sealed = { escrow: ESCROW, taskId: 77n, outputHash: body.output_hash, sealedHash: jsonHash(body.output) };
    expect(sha256Hex(outputJson!)).toBe(sealed.sealedHash);
    expect(verifySealedOutput(sealed, CHAIN, body.sealed_signature!, node.publicKey)).toBe(true);
  });

  it('gives the same output hash as a standard run would commit to: the commitment is over the canonical output', async () => {
    const input = blob(oip('x', DIMS, floats(DIMS, 4)));
    const env = buildEnvelope(input, { replyTo: requester.publicKey });
    const { body } = await compute(task(env.inputHash), context(await sealTo(node.publicKey, env.bytes)));
    const clear = await computeTask(
      { ...task(sha256Hex(input)), privacy: 'standard', input_url: `/api/v1/inputs/${sha256Hex(input)}` },
      context(input),
    );
    expect(body.output_hash).toBe(outputCommitment(env.envelope.salt, clear.outputJson!));
  });

  const refusals: [string, () => Promise<{ hash: string; sealed: Uint8Array }>, string][] = [
    [
      'an input sealed to another node',
      async () => {
        const env = buildEnvelope(blob(oip('x', DIMS, floats(DIMS))), { replyTo: requester.publicKey });
        return { hash: env.inputHash, sealed: await sealTo(keyPair().publicKey, env.bytes) };
      },
      'ciphertext_invalid: ',
    ],
    [
      'a ciphertext with one byte flipped',
      async () => {
        const env = buildEnvelope(blob(oip('x', DIMS, floats(DIMS))), { replyTo: requester.publicKey });
        const cipher = JSON.parse(new TextDecoder().decode(await sealTo(node.publicKey, env.bytes)));
        const flipped = Buffer.from(cipher.cipherText, 'base64');
        flipped[17]! ^= 1;
        const altered = JSON.stringify({ ...cipher, cipherText: flipped.toString('base64') });
        return { hash: env.inputHash, sealed: new TextEncoder().encode(altered) };
      },
      'ciphertext_invalid: ',
    ],
    [
      "another task's envelope",
      async () => {
        const mine = buildEnvelope(blob(oip('x', DIMS, floats(DIMS))), { replyTo: requester.publicKey });
        const other = buildEnvelope(blob(oip('x', DIMS, floats(DIMS))), { replyTo: requester.publicKey });
        return { hash: mine.inputHash, sealed: await sealTo(node.publicKey, other.bytes) };
      },
      'ciphertext_mismatch: ',
    ],
    [
      'sealed bytes that are not an envelope',
      async () => {
        const bytes = new TextEncoder().encode(`{"not":"an envelope","note":"${MARKER}"}`);
        return { hash: sha256Hex(bytes), sealed: await sealTo(node.publicKey, bytes) };
      },
      'envelope_invalid: ',
    ],
  ];

  for (const [what, make, prefix] of refusals)
    it(`reports ${what} as a signed failure naming ${prefix.slice(0, -2)}, quoting no plaintext`, async () => {
      const { hash, sealed } = await make();
      const t = task(hash);
      const { body, text } = await compute(t, context(sealed));
      expect(body.output).toBeNull();
      expect(body.sealed_signature).toBeUndefined();
      expect(body.error!.startsWith(prefix)).toBe(true);
      expect(body.output_hash).toBe(jsonHash(errorReport(body.error!)));
      expect(resultSigned(t, body.output_hash, body.signature)).toBe(true);
      expect(text).not.toContain(MARKER);
      expect(text).not.toContain('"inputs"');
    });

  it('reports a task whose signer holds nothing sealed to this node (404), so it is queued again at once', async () => {
    const t = task('ab'.repeat(32));
    const why = `GET ${t.input_url}: HTTP 404: nothing was sealed to node n-enc for input ${t.input_hash}`;
    const ctx = { ...context(new Uint8Array()), input: () => Promise.reject(new SignerError(404, why, 'not_found')) };
    const { body } = await compute(t, ctx);
    expect(body.error).toBe(`no input sealed to this node: ${why}`);
    expect(resultSigned(t, body.output_hash, body.signature)).toBe(true);
    // Other transport trouble stays thrown: the lease runs out and another attempt runs the task.
    const down = { ...ctx, input: () => Promise.reject(new SignerError(0, 'signer unreachable')) };
    await expect(computeTask(t, down)).rejects.toThrow('signer unreachable');
  });

  it('reports an input the model refuses without the check detail, which could quote the input', async () => {
    const input = blob(oip(MARKER, DIMS, floats(DIMS)));
    const env = buildEnvelope(input, { replyTo: requester.publicKey });
    const t = task(env.inputHash);
    const { body, text } = await compute(t, context(await sealTo(node.publicKey, env.bytes)));
    expect(body.error).toMatch(/^the decrypted input does not fit this model/);
    expect(text).not.toContain(MARKER);
    expect(resultSigned(t, body.output_hash, body.signature)).toBe(true);
  });
});

describe('an encrypted task through a real signer on loopback', () => {
  let dir: string;
  let signer: RunningSigner;
  let agent: RunningAgent;
  const logLines: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-encrypted-'));
    mkdirSync(join(dir, 'signer-models'));
    copyFileSync(CLS.path, join(dir, 'signer-models', 'cls.onnx'));
    signer = await startSigner({
      config: {
        server: { host: '127.0.0.1', port: 0, max_wait_seconds: 5 },
        database: { path: join(dir, 'signer.db') },
        models: { dir: join(dir, 'signer-models') },
        scheduler: { max_attempts: 1, prefer_better_node_ms: 0 },
        log: { level: 'silent' },
      },
      chain: null,
      log: pino({ level: 'silent' }),
    });
    // The model a reservation names, published the way the console does on a signer without a chain.
    const now = Date.now();
    signer.services.store.db
      .insert(consoleModels)
      .values({
        name: 'ppocr-cls',
        sha256: CLS.sha256,
        size: 10,
        status: 'published',
        price: '0',
        version: 1,
        created_at: now,
        updated_at: now,
        inputs: JSON.stringify([{ name: 'x', type: 'float32', shape: ['batch', 3, 48, 192] }]),
        outputs: JSON.stringify([{ name: 'softmax_0.tmp_0', type: 'float32', shape: ['batch', 2] }]),
      })
      .run();
    // Every line the agent logs, down to debug: none may quote the input or the output.
    const sink = new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    const config = resolveConfig({
      agent: { signer: signer.url, key_file: join(dir, 'node.key'), node_id: 'enc-node', network: 'devnet' },
      // No chain on either side: the signer registers the node unbonded.
      chain: { api_url: '' },
      runtime: { workers: 1, intra_op_threads: 1, max_batch: 8, max_queue_delay_ms: 5 },
      client: { pull_wait_s: 1, heartbeat_interval_ms: 200, backoff_base_ms: 50, backoff_max_ms: 300 },
      models: [{ builtin: 'classifier' }],
    });
    agent = await startAgent(config, pino({ level: 'debug' }, sink));
    const deadline = Date.now() + 20_000;
    while (!agent.agent.registered && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }, 60_000);

  afterAll(async () => {
    await agent?.close();
    await signer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const chainIdOf = () => signer.services.chainId;
  const requesterAddress = () =>
    getAddressFromPublicKey(requester.publicKey, chainIdOf() === 1 ? 'mainnet' : 'testnet');

  /** What `market submit --privacy encrypted` does: reserve this node, PUT the sealed envelope, and the chain task appears. */
  async function submitSealed(
    taskId: number,
    sealed: (bytes: Uint8Array) => Promise<Uint8Array>,
    inputHash: string,
    bytes: Uint8Array,
  ) {
    const reservePath = '/api/v1/reservations';
    const res = await fetch(signer.url + reservePath, {
      method: 'POST',
      body: JSON.stringify({ model: 'ppocr-cls', nodes: 1 }),
      headers: {
        'content-type': 'application/json',
        ...requesterAuthHeaders('POST', reservePath, chainIdOf(), requester.privateKey),
      },
    });
    expect(res.status).toBe(201);
    const reservation = (
      (await res.json()) as { data: { reservation_id: string; nodes: { node_id: string; public_key: string }[] } }
    ).data;
    expect(reservation.nodes).toEqual([{ node_id: 'enc-node', public_key: agent.key.publicKey }]);
    const putPath = `${sealedInputPath(inputHash, 'enc-node')}?reservation=${reservation.reservation_id}`;
    const put = await fetch(signer.url + putPath, {
      method: 'PUT',
      body: Buffer.from(await sealed(bytes)),
      headers: {
        'content-type': 'application/json',
        ...requesterAuthHeaders('PUT', putPath, chainIdOf(), requester.privateKey),
      },
    });
    expect(put.status).toBe(201);
    ingest(
      signer.services,
      [
        {
          chainTaskId: BigInt(taskId),
          requester: requesterAddress(),
          modelOutput: 1n,
          model: 'ppocr-cls',
          artifactHash: CLS.sha256,
          inputHash,
          fee: 1000n,
          deadline: 1_000_000n,
          privacy: privacyCode('encrypted'),
          priority: 0,
          security: 1,
          precision: 0,
          sampleBps: 0,
          txid: `0x${String(taskId).padStart(64, '0')}`,
          blockHeight: 1,
          eventIndex: taskId,
        },
      ],
      null,
    );
    await expect
      .poll(() => getTask(signer.services.store, String(taskId))?.status, { timeout: 30_000, interval: 50 })
      .toMatch(/^(completed|failed)$/);
    return getTask(signer.services.store, String(taskId))!;
  }

  it('runs a task sealed to it and posts the output sealed to the requester; its logs quote neither', async () => {
    const input = blob(oip('x', DIMS, floats(DIMS, 11)));
    const env = buildEnvelope(input, { replyTo: requester.publicKey });
    const row = await submitSealed(901, (b) => sealTo(agent.key.publicKey, b), env.inputHash, env.bytes);
    expect(row).toMatchObject({ status: 'completed', privacy: 'encrypted', confidence: null, error: null });
    const cipher = JSON.parse(row.output!) as unknown;
    const plain = new TextDecoder().decode(await unseal(requester.privateKey, new TextEncoder().encode(row.output!)));
    expect(JSON.parse(plain).outputs[0]).toMatchObject({ name: 'softmax_0.tmp_0', shape: [1, 2] });
    expect(row.output_hash).toBe(outputCommitment(env.envelope.salt, plain));
    const sealed = {
      escrow: signer.services.escrow,
      taskId: 901n,
      outputHash: row.output_hash!,
      sealedHash: jsonHash(cipher),
    };
    expect(verifySealedOutput(sealed, chainIdOf(), row.sealed_signature!, agent.key.publicKey)).toBe(true);
    // The agent logs the task once the signer's answer to its result reaches it, which can be after
    // the database says completed: wait for that line, then check nothing it logged quotes the data.
    await expect.poll(() => logLines.join(''), { timeout: 10_000, interval: 50 }).toContain('"task_id":"901"');
    const logs = logLines.join('');
    expect(logs).not.toContain('softmax');
    expect(logs).not.toContain('"inputs"');
    expect(logs).not.toContain(plain.slice(0, 40));
  });

  it('reports a ciphertext altered on the way as a signed failure led by its code', async () => {
    const input = blob(oip('x', DIMS, floats(DIMS, 12)));
    const env = buildEnvelope(input, { replyTo: requester.publicKey });
    const flip = async (b: Uint8Array) => {
      const cipher = JSON.parse(new TextDecoder().decode(await sealTo(agent.key.publicKey, b)));
      const bytes = Buffer.from(cipher.cipherText, 'base64');
      bytes[5]! ^= 1;
      return new TextEncoder().encode(JSON.stringify({ ...cipher, cipherText: bytes.toString('base64') }));
    };
    const row = await submitSealed(902, flip, env.inputHash, env.bytes);
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(/\bciphertext_invalid: the sealed data does not open/);
    expect(row.sealed_signature).toBeNull();
  });
});
