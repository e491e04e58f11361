/**
 * `market submit` checks the input against the model's inputs (as the signer records them for the
 * live artifact) before it uploads or pays: a wrong name, datatype or shape is refused saying what
 * was expected and what was given, and the wallet's nonce and balance do not move. A fitting input
 * goes through; once a node fails the task, `market status` shows why. Real devnet, real signer,
 * the real classifier (input "x", FP32 [?, 3, ?, ?]).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { deployModelArgs, MODEL_REGISTRY } from '../../protocol/contracts/index.js';
import { sha256Hex } from '../../protocol/index.js';
import { loadMarketConfig } from '../../market/config.js';
import { createContext, type Context } from '../../market/context.js';
import { submit } from '../../market/commands/submit.js';
import { submitPrepaid } from '../../market/commands/prepaid.js';
import { status } from '../../market/commands/task.js';
import { startSigner, type RunningSigner } from '../../signer/index.js';
import { StacksApiChain } from '../../signer/chain/stacks-api.js';
import { failAttempt, getTask, transition } from '../../signer/tasks/index.js';
import { classifierPath } from '../../scripts/lib/marketplace.js';
import { addressOf, call, DEPLOYER, ESCROW, keyOf, tempDevnet } from '../devnet/helpers.js';

let devnet: Awaited<ReturnType<typeof tempDevnet>>;
let signer: RunningSigner;
let dir: string;
let ctx: Context;
const MODEL = 'cls-checked';

const input = (name: string, shape: number[], datatype = 'FP32') => {
  const file = join(dir, `${name}-${shape.join('x')}-${datatype}.json`);
  const data = Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i % 7) / 7);
  writeFileSync(file, JSON.stringify({ inputs: [{ name, shape, datatype, data }] }));
  return file;
};

/** The wallet as the chain sees it. */
async function account(): Promise<{ balance: string; nonce: number }> {
  const res = await fetch(`${devnet.devnet.url}/v2/accounts/${addressOf(devnet.devnet, 'wallet_2')}?proof=0`);
  return (await res.json()) as { balance: string; nonce: number };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'market-submit-'));
  devnet = await tempDevnet();
  const file = readFileSync(classifierPath());
  const deployed = await call(
    devnet.devnet,
    keyOf(devnet.devnet, 'wallet_1'),
    `${DEPLOYER}.${MODEL_REGISTRY}`,
    'deploy',
    deployModelArgs({ model: MODEL, artifactHash: sha256Hex(file), format: 'onnx', price: 1000, uri: '' }),
  );
  if ('reason' in deployed.res) throw new Error(`deploy refused: ${JSON.stringify(deployed.res)}`);
  await devnet.devnet.idle();
  mkdirSync(join(dir, 'models'));
  copyFileSync(classifierPath(), join(dir, 'models', 'cls.onnx'));
  const chain = new StacksApiChain({
    apiUrl: devnet.devnet.url,
    network: 'devnet',
    escrowContract: ESCROW,
    privateKey: keyOf(devnet.devnet, 'deployer'),
  });
  signer = await startSigner({
    config: {
      server: { host: '127.0.0.1', port: 0 },
      database: { path: join(dir, 'signer.db') },
      models: { dir: join(dir, 'models') },
      scheduler: { max_attempts: 1 },
      log: { level: 'silent' },
    },
    chain,
    log: pino({ level: 'silent' }),
  });
  const keyFile = join(dir, 'wallet_2.key');
  writeFileSync(keyFile, keyOf(devnet.devnet, 'wallet_2'), { mode: 0o600 });
  ctx = createContext(
    loadMarketConfig(undefined, {
      node_url: devnet.devnet.url,
      signer_url: signer.url,
      key_file: keyFile,
      network: 'devnet',
    }),
    true,
  );
}, 180_000);

afterAll(async () => {
  await signer?.close();
  await devnet?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('market submit checks the input before paying', () => {
  it('refuses a wrong shape, datatype or name saying expected vs got, and sends nothing', async () => {
    const before = await account();
    const refuse = (file: string) => submit(ctx, { model: MODEL, input: file, wait: false });
    await expect(refuse(input('x', [1, 1, 48, 192]))).rejects.toThrow(
      /input "x": expected shape \[\?, 3, \?, \?\].*got \[1, 1, 48, 192\].*nothing was sent/,
    );
    await expect(refuse(input('x', [3, 48, 192]))).rejects.toThrow(
      /input "x": expected shape \[\?, 3, \?, \?\].*got \[3, 48, 192\]/,
    );
    await expect(refuse(input('x', [1, 3, 48, 192], 'INT32'))).rejects.toThrow(
      /input "x": expected datatype FP32, got INT32/,
    );
    await expect(refuse(input('image', [1, 3, 48, 192]))).rejects.toThrow(
      /has no input "image": expected "x" FP32 \[\?, 3, \?, \?\]/,
    );
    expect(await account()).toEqual(before);
  }, 60_000);

  it("refuses a --max-blocks outside the escrow's bounds before uploading or paying (submit-task would abort, its fee spent)", async () => {
    const before = await account();
    const good = input('x', [1, 3, 48, 192]);
    for (const maxBlocks of ['1', '100000'])
      await expect(submit(ctx, { model: MODEL, input: good, maxBlocks, wait: false })).rejects.toThrow(
        new RegExp(
          `--max-blocks must be from 5 to 1000 \\(the escrow's get-config\\), got ${maxBlocks}; nothing was sent`,
        ),
      );
    expect(await account()).toEqual(before);
  }, 60_000);

  it("checks a prepaid request's input too, before asking for a quote or posting anything", async () => {
    const before = await account();
    await expect(submitPrepaid(ctx, { model: MODEL, input: input('x', [1, 1, 48, 192]), wait: false })).rejects.toThrow(
      /input "x": expected shape \[\?, 3, \?, \?\].*got \[1, 1, 48, 192\].*nothing was sent/,
    );
    expect(await account()).toEqual(before);
  }, 60_000);

  it("submits a fitting input (any batch size); market status shows the node's reason once it failed", async () => {
    const before = await account();
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await submit(ctx, { model: MODEL, input: input('x', [2, 3, 48, 192]), wait: false });
      const submitted = JSON.parse(String(out.mock.calls.at(-1)![0])) as { task_id: string };
      expect((await account()).nonce).toBe(before.nonce + 1);
      // The signer's watcher sees the task; a node then reports that it could not run it.
      await expect
        .poll(() => getTask(signer.services.store, submitted.task_id)?.status, { timeout: 30_000, interval: 100 })
        .toBe('pending');
      const id = submitted.task_id;
      transition(
        signer.services.store,
        id,
        'in_progress',
        { reason: 'test: leased', nodeId: 'node-x' },
        { inference_node_id: 'node-x' },
      );
      failAttempt(
        signer.services,
        getTask(signer.services.store, submitted.task_id)!,
        'node node-x reported: out of memory',
      );
      await status(ctx, BigInt(submitted.task_id));
      const shown = JSON.parse(String(out.mock.calls.at(-1)![0])) as { signer_status: string; error: string };
      expect(shown).toMatchObject({ signer_status: 'failed', error: expect.stringMatching(/out of memory/) });
    } finally {
      out.mockRestore();
    }
  }, 90_000);
});
