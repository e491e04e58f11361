/**
 * Who may read results and store model files, against a running signer and the real devnet
 * (issue 12). Attack 3: a result the node computed is withheld until its settlement is confirmed
 * on chain, served then to the wallet that submitted the task and to nobody else, and never
 * released for a task that was not settled by its deadline (whose fee the requester gets back
 * instead). Attack 6: a model file is stored only for the owner of the model whose live version
 * on chain names it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Cl, compressPublicKey, privateKeyToPublic } from '@stacks/transactions';
import { MODEL_REGISTRY, bondNodeArgs, deployModelArgs } from '../../protocol/contracts/index.js';
import { jsonHash, sha256Hex } from '../../protocol/index.js';
import { startSigner, type RunningSigner } from '../../signer/index.js';
import { DEPLOYER, call, keyOf } from '../devnet/helpers.js';
import { ESCROW, chainFixture, until, type ChainFixture } from './devnet-fixture.js';
import { TestNode, TestRequester } from './helpers.js';

/** A node whose key is a funded dev account, so that it can bond its own stake. */
class BondedNode extends TestNode {
  override readonly key: string;
  override readonly publicKey: string;
  constructor(nodeId: string, models: string[], key: string) {
    super(nodeId, models);
    this.key = key;
    this.publicKey = compressPublicKey(privateKeyToPublic(key));
  }
}

/** A mined contract call, or a thrown refusal. */
async function mined(key: string, contract: string, fn: string, args: Parameters<typeof call>[4]): Promise<void> {
  const { res } = await call(fx.devnet, key, contract, fn, args);
  if ('reason' in res) throw new Error(`${fn} refused: ${JSON.stringify(res)}`);
  await fx.devnet.idle();
}

let fx: ChainFixture;
let signer: RunningSigner;
let dir: string;
let node: BondedNode;
/** wallet_2 submits the fixture's tasks; wallet_3 never does. */
let requester: TestRequester;
let stranger: TestRequester;

beforeAll(async () => {
  fx = await chainFixture();
  // One node serves here: make a spot check (a second run of a level-1 task) practically never drawn.
  await mined(keyOf(fx.devnet, 'deployer'), ESCROW, 'set-sample-bps', [Cl.uint(1)]);
  node = new BondedNode('access-node', [fx.artifactHash], keyOf(fx.devnet, 'wallet_5'));
  await mined(node.key, ESCROW, 'bond-node', bondNodeArgs(node.publicKey, 1_000_000n));
  dir = mkdtempSync(join(tmpdir(), 'signer-access-'));
  signer = await startSigner({
    config: {
      server: { port: 0 },
      database: { path: join(dir, 'signer.db') },
      models: { dir: join(dir, 'models') },
      chain: { poll_interval_ms: 100 },
      scheduler: { sweep_interval_ms: 100, prefer_better_node_ms: 0 },
      // Settles only in pairs (never on a timer, nor early for a near deadline), so a lone completed task stays unsettled while the test looks at it.
      submitter: {
        batch_size: 2,
        max_wait_ms: 600_000,
        urgent_blocks: 0,
        confirm_poll_ms: 100,
        reclaim_for_users: true,
      },
    },
    chain: fx.chain(),
    log: pino({ level: 'silent' }),
  });
  requester = new TestRequester(keyOf(fx.devnet, 'wallet_2'));
  stranger = new TestRequester(keyOf(fx.devnet, 'wallet_3'));
  expect((await http('POST', '/api/v1/nodes/register', node.registration())).status).toBe(201);
}, 60_000);
afterAll(async () => {
  await signer?.close();
  await fx?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function http(method: string, path: string, body?: unknown) {
  const [p, init] = node.request(method, path, body);
  const res = await fetch(signer.url + p, init);
  return {
    status: res.status,
    json: res.status === 204 ? null : ((await res.json()) as { data: any; error: string | null; code?: string }),
  };
}

/** GET the result, signed by `who` (or unsigned): status and code. */
async function result(id: bigint, who?: TestRequester) {
  const path = `/api/v1/tasks/${id}/result`;
  const res = await fetch(signer.url + path, { headers: who ? who.headers('GET', path) : {} });
  const b = (await res.json()) as { data: any; error: string | null; code?: string };
  return { status: res.status, code: b.code, data: b.data };
}

const status = async (id: bigint) =>
  ((await (await fetch(`${signer.url}/api/v1/tasks/${id}/status`)).json()) as { data: { status: string } | null }).data
    ?.status;

/** An input uploaded by the requester, a task for it on chain, pulled and computed by the node: returns its id. */
async function computedTask(value: number, maxBlocks: number): Promise<bigint> {
  const bytes = new TextEncoder().encode(
    JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [value] }] }),
  );
  const hash = sha256Hex(bytes);
  const path = `/api/v1/inputs/${hash}`;
  expect(
    (await fetch(signer.url + path, { method: 'PUT', body: bytes, headers: requester.headers('PUT', path) })).status,
  ).toBe(201);
  await fx.submitTask(hash, maxBlocks);
  const pulled = await until('task leased', async () => {
    const r = await http('GET', '/api/v1/nodes/access-node/tasks?wait=1');
    return r.status === 200 ? r.json!.data : null;
  });
  expect(pulled.input_hash).toBe(hash);
  const done = await http(
    'POST',
    '/api/v1/tasks/complete',
    node.result(pulled, { outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [value * 2] }] }),
  );
  expect(done.json).toMatchObject({ data: { status: 'completed' } });
  return BigInt(pulled.task_id);
}

describe('results belong to whoever paid, once paid', () => {
  it('a computed result is withheld before settlement; when the deadline passes first it is never released and the fee is refunded', async () => {
    const id = await computedTask(1, 5);
    expect(await result(id)).toMatchObject({ status: 401, code: 'requester_signature_required' });
    expect(await result(id, requester)).toMatchObject({ status: 409, code: 'result_not_settled', data: null });
    await fx.advance(7);
    await until('timeout', async () => (await status(id)) === 'timeout');
    expect(await result(id, requester)).toMatchObject({ status: 410, code: 'result_withheld', data: null });
    // The signer reclaims for the user (submitter.reclaim_for_users): refunded on chain, still withheld.
    await until('refunded on chain', async () => (await fx.task(id))?.status === 'refunded');
    expect(await result(id, requester)).toMatchObject({ status: 410, code: 'result_withheld' });
  }, 60_000);

  it('a settled result is served to the wallet that submitted the task, and to no other', async () => {
    const ids = [await computedTask(2, 100), await computedTask(3, 100)];
    for (const id of ids) await until(`task ${id} settled`, async () => (await status(id)) === 'settled');
    expect((await fx.task(ids[0]!))?.status).toBe('paid');
    const r = await result(ids[0]!, requester);
    expect(r.status).toBe(200);
    expect(r.data.output).toEqual({ outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [4] }] });
    expect(r.data.output_hash).toBe(jsonHash(r.data.output));
    expect(await result(ids[0]!, stranger)).toMatchObject({ status: 403, code: 'not_requester' });
    expect(await result(ids[1]!)).toMatchObject({ status: 401, code: 'requester_signature_required' });
  }, 60_000);
});

describe('model files are stored for their on-chain owner only', () => {
  const file = new TextEncoder().encode(`not really onnx ${Date.now()}`);
  const hash = sha256Hex(file);
  const artifactPath = (model?: string, h = hash) =>
    `/api/v1/models/${h}/artifact${model === undefined ? '' : `?model=${encodeURIComponent(model)}`}`;
  const put = async (p: string, bytes: Uint8Array, who?: TestRequester) => {
    const res = await fetch(signer.url + p, {
      method: 'PUT',
      body: bytes as BodyInit,
      headers: who ? who.headers('PUT', p) : {},
    });
    return { status: res.status, ...((await res.json()) as { data: any; error: string; code?: string }) };
  };
  let owner: TestRequester;

  beforeAll(async () => {
    owner = new TestRequester(keyOf(fx.devnet, 'wallet_4'));
    // Deployed first, as `market deploy-model` does: the registry names the file before the signer stores it.
    await mined(
      owner.key,
      `${DEPLOYER}.${MODEL_REGISTRY}`,
      'deploy',
      deployModelArgs({
        model: 'owned',
        artifactHash: hash,
        format: 'onnx',
        price: 1000,
        uri: `${signer.url}${artifactPath()}`,
      }),
    );
  });

  it('refuses an anonymous upload, another key, a file the live version does not name and an undeployed model, each with its code', async () => {
    expect(await put(artifactPath('owned'), file)).toMatchObject({ status: 401, code: 'upload_signature_required' });
    const other = await put(artifactPath('owned'), file, stranger);
    expect(other).toMatchObject({ status: 403, code: 'not_model_owner' });
    expect(other.error).toContain(owner.address);
    const junk = new TextEncoder().encode('64 MiB of anything');
    expect(await put(artifactPath('owned', sha256Hex(junk)), junk, owner)).toMatchObject({
      status: 409,
      code: 'artifact_not_registered',
    });
    expect(await put(artifactPath('never-deployed'), file, owner)).toMatchObject({
      status: 409,
      code: 'artifact_not_registered',
    });
    expect(await put(artifactPath(), file, owner)).toMatchObject({ status: 400, code: 'bad_request' });
    expect((await fetch(signer.url + artifactPath())).status).toBe(404);
  });

  it("stores the file of the model's live version from its owner, and serves it to nodes", async () => {
    expect(await put(artifactPath('owned'), file, owner)).toMatchObject({
      status: 201,
      data: { artifact_hash: hash, stored: true },
    });
    const got = await fetch(signer.url + artifactPath());
    expect(got.status).toBe(200);
    expect(sha256Hex(new Uint8Array(await got.arrayBuffer()))).toBe(hash);
  });
});
