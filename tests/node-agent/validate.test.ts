/**
 * Bad tensors fail the task with a reason (never reaching onnxruntime, never crashing), and
 * both results and failure reports are signed over exactly what is posted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeBinaryInputs,
  errorReport,
  jsonHash,
  sha256Hex,
  verifyTaskResult,
  type PulledTask,
} from '../../protocol/index.js';
import {
  DynamicBatcher,
  WorkerPool,
  computeTask,
  encodeOutputs,
  validateInput,
  type Feeds,
  type ModelInfo,
} from '../../node-agent/index.js';
import { compressPublicKey, privateKeyToPublic, randomPrivateKey } from '@stacks/transactions';
import { CLS, blob, floats, oip } from './helpers.js';

const limits = { maxInputBytes: 4_000_000, maxInputElements: 200_000 };
const DIMS = [1, 3, 48, 192];
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

const reason = (bytes: Uint8Array) => {
  const v = validateInput(bytes, info, limits);
  if (v.ok) throw new Error('expected a failure');
  return v.reason;
};

describe('input validation against the model metadata', () => {
  it('accepts the binary form, decoding to exactly the same feeds as the JSON form', () => {
    const data = floats(DIMS, 9);
    const fromJson = validateInput(blob(oip('x', DIMS, data)), info, limits);
    const fromBinary = validateInput(
      encodeBinaryInputs([{ name: 'x', datatype: 'FP32', shape: DIMS, data }]),
      info,
      limits,
    );
    expect(fromBinary.ok && fromJson.ok).toBe(true);
    if (fromBinary.ok && fromJson.ok) expect(fromBinary.feeds.x).toEqual(fromJson.feeds.x);
  });

  it('checks a binary input against the model like a JSON one', () => {
    const wrong = [1, 4, 48, 192];
    expect(reason(encodeBinaryInputs([{ name: 'x', datatype: 'FP32', shape: wrong, data: floats(wrong) }]))).toMatch(
      /dimension 1 must be 3/,
    );
    expect(reason(encodeBinaryInputs([{ name: 'y', datatype: 'FP32', shape: DIMS, data: floats(DIMS) }]))).toMatch(
      /unknown input "y"/,
    );
    const truncated = encodeBinaryInputs([{ name: 'x', datatype: 'FP32', shape: DIMS, data: floats(DIMS) }]);
    expect(reason(truncated.subarray(0, truncated.length - 4))).toMatch(/ends before its/);
  });

  it('accepts a well-formed input and decodes it', () => {
    const v = validateInput(blob(oip('x', DIMS, floats(DIMS))), info, limits);
    expect(v.ok).toBe(true);
    if (v.ok) expect(v.feeds.x!.data).toBeInstanceOf(Float32Array);
  });

  it('fails a wrong dtype, rank, fixed dim, or size with a reason', () => {
    expect(reason(blob(oip('x', DIMS, new Array(3 * 48 * 192).fill(0), 'INT32')))).toBe(
      'input "x" must be FP32, got INT32',
    );
    expect(reason(blob(oip('x', [3, 48, 192], floats([3, 48, 192]))))).toBe(
      'input "x" must have rank 4 [?,3,?,?], got rank 3 [3,48,192]',
    );
    expect(reason(blob(oip('x', [1, 4, 48, 192], floats([1, 4, 48, 192]))))).toBe(
      'input "x" dimension 1 must be 3 (shape [?,3,?,?]), got 4',
    );
    expect(reason(blob(oip('x', [4, 3, 128, 192], [0])))).toBe(
      "input has more than 200000 elements in total, over this node's limit",
    );
    expect(reason(new Uint8Array(4_000_001))).toBe("input is 4000001 bytes, over this node's limit of 4000000 bytes");
  });

  it('fails names, shapes and JSON that do not fit', () => {
    expect(reason(blob(oip('image', DIMS, floats(DIMS))))).toBe('unknown input "image"; this model takes "x"');
    expect(reason(blob(oip('x', DIMS, floats(DIMS)), oip('x', DIMS, floats(DIMS))))).toBe('input "x" is given twice');
    expect(reason(blob(oip('x', DIMS, [1, 2, 3])))).toBe(
      'tensor "x": shape [1,3,48,192] needs 27648 elements but data has 3',
    );
    expect(reason(blob(oip('x', [1, 3, 0, 192], [])))).toBe('input "x" dimension 2 is 0: an empty tensor cannot run');
    expect(reason(new TextEncoder().encode('{"inputs": ['))).toMatch(/^input is not valid JSON/);
    expect(reason(new TextEncoder().encode('{"tensors": []}'))).toMatch(/Open Inference Protocol form.*inputs/);
  });
});

describe('validation on a pool worker', () => {
  it('gives the same verdicts as in-process and hands the decoded tensors back', async () => {
    const good = blob(oip('x', DIMS, floats(DIMS, 9)));
    const onWorker = await pool.validate(good, sha256Hex(good), info, limits);
    const here = validateInput(good, info, limits);
    expect(onWorker.ok && here.ok).toBe(true);
    if (onWorker.ok && here.ok) {
      expect(onWorker.feeds.x!.data).toBeInstanceOf(Float32Array);
      expect(Array.from(onWorker.feeds.x!.data as Float32Array)).toEqual(
        Array.from(here.feeds.x!.data as Float32Array),
      );
    }
    const bad = blob(oip('x', [1, 4, 48, 192], floats([1, 4, 48, 192])));
    expect(await pool.validate(bad, sha256Hex(bad), info, limits)).toEqual(validateInput(bad, info, limits));
    expect(await pool.validate(good, sha256Hex(bad), info, limits)).toEqual({
      ok: false,
      reason: `input bytes hash to ${sha256Hex(good)}, not the task's input_hash ${sha256Hex(bad)}`,
    });
  });
});

describe('output encoding', () => {
  it('is the canonical JSON the signer hashes, and refuses NaN outputs with a reason', () => {
    const outputs: Feeds = { y: { datatype: 'FP32', dims: [1, 2], data: Float32Array.from([0.25, 0.75]) } };
    const encoded = encodeOutputs(outputs, ['y']);
    expect(encoded.json).toBe('{"outputs":[{"data":[0.25,0.75],"datatype":"FP32","name":"y","shape":[1,2]}]}');
    expect(encoded.hash).toBe(jsonHash(JSON.parse(encoded.json)));
    expect(encoded.confidence).toBe(0.75);
    const nan: Feeds = { y: { datatype: 'FP32', dims: [1, 2], data: Float32Array.from([NaN, 1]) } };
    expect(() => encodeOutputs(nan, ['y'])).toThrow(
      'model produced non-finite values (NaN or Infinity) in output "y" for this input',
    );
  });
});

describe('computing a task', () => {
  const key = randomPrivateKey();
  const publicKey = compressPublicKey(privateKeyToPublic(key));
  const escrow = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.inference-escrow';
  const task = (inputHash: string, extra: Partial<PulledTask> = {}): PulledTask => ({
    task_id: '42',
    chain_task_id: '42',
    artifact_hash: CLS.sha256,
    model: 'ppocr-cls',
    input_hash: inputHash,
    input_url: `/api/v1/inputs/${inputHash}`,
    privacy: 'standard',
    priority: 0,
    lease_expires_at: Date.now() + 60_000,
    max_infer_time_ms: 60_000,
    escrow,
    chain_id: 0x80000000,
    ...extra,
  });
  const ctx = (bytes: Uint8Array) => ({
    nodeId: 'n1',
    privateKey: key,
    validate: (b: Uint8Array, h: string, i: ModelInfo) => pool.validate(b, h, i, limits),
    model: async () => info,
    input: async () => bytes,
    infer: (hash: string, feeds: Parameters<DynamicBatcher['submit']>[1]) => batcher.submit(hash, feeds),
    encode: (outputs: Feeds, names: string[]) => pool.encode(outputs, names),
    openSealed: (sealed: Uint8Array, inputHash: string) => pool.openSealed(key, sealed, inputHash),
    sealOutput: (json: string, salt: string, replyTo: string) => pool.sealOutput(json, salt, replyTo),
  });
  /** The body as the signer parses it from what the client sends. */
  const compute = async (t: PulledTask, bytes: Uint8Array) => {
    const { request, outputJson } = await computeTask(t, ctx(bytes));
    return { ...request, output: outputJson === null ? null : (JSON.parse(outputJson) as unknown) };
  };
  const verifies = (t: PulledTask, outputHash: string, sig: string) =>
    verifyTaskResult({ escrow, taskId: 42n, inputHash: t.input_hash, outputHash }, 0x80000000, sig, publicKey);

  it('signs the output it computed: output_hash is the hash of the posted output', async () => {
    const bytes = blob(oip('x', DIMS, floats(DIMS, 5)));
    const t = task(sha256Hex(bytes));
    const body = await compute(t, bytes);
    expect(body.error).toBeUndefined();
    const output = body.output as { outputs: { name: string; shape: number[]; data: number[] }[] };
    expect(output.outputs[0]).toMatchObject({ name: 'softmax_0.tmp_0', shape: [1, 2], datatype: 'FP32' });
    expect(body.output_hash).toBe(jsonHash(body.output));
    expect(verifies(t, body.output_hash, body.signature)).toBe(true);
    expect(body.confidence).toBeCloseTo(Math.max(...output.outputs[0]!.data), 6);
  });

  it('turns a bad tensor into a signed failure report, not a crash', async () => {
    const bytes = blob(oip('x', [1, 3, 48], floats([1, 3, 48])));
    const t = task(sha256Hex(bytes));
    const body = await compute(t, bytes);
    expect(body).toMatchObject({
      task_id: '42',
      output: null,
      confidence: null,
      error: 'input "x" must have rank 4 [?,3,?,?], got rank 3 [1,3,48]',
    });
    expect(body.output_hash).toBe(jsonHash(errorReport(body.error!)));
    expect(verifies(t, body.output_hash, body.signature)).toBe(true);
  });

  it("refuses input bytes that are not the task's input hash, and runs a federated task as a standard one", async () => {
    const bytes = blob(oip('x', DIMS, floats(DIMS)));
    const wrong = await compute(task(sha256Hex('something else')), bytes);
    expect(wrong.error).toMatch(/^input bytes hash to [0-9a-f]{64}, not the task's input_hash/);
    // Encrypted tasks: tests/node-agent/encrypted.test.ts.
    const federated = await compute(task(sha256Hex(bytes), { privacy: 'federated' }), bytes);
    expect(federated.error).toBeUndefined();
  });
});
