/**
 * Encrypted tasks on the node (issue 14): the agent opens the input sealed to its key, checks the
 * envelope against the task's input hash, runs the real classifier on the inner bytes, and posts
 * the output sealed to the requester with a commitment and two signatures; a wrong key, an altered
 * ciphertext or another task's envelope is a signed failure report that names its code and
 * quotes no plaintext.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compressPublicKey, privateKeyToPublic, randomPrivateKey } from '@stacks/transactions';
import {
  buildEnvelope,
  errorReport,
  jsonHash,
  outputCommitment,
  sealTo,
  sha256Hex,
  unseal,
  verifySealedOutput,
  verifyTaskResult,
  type PulledTask,
} from '../../protocol/index.js';
import {
  DynamicBatcher,
  WorkerPool,
  computeTask,
  type Feeds,
  type ModelInfo,
  type TaskContext,
} from '../../node-agent/index.js';
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
