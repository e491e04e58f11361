/**
 * Model owners' commands refuse, before any fee is paid, what the chain would take and nobody
 * could use: a file onnxruntime cannot load (the name would be spent on it for good), a name that
 * exists already, and an upgrade or retirement by a wallet that does not own the model. And
 * `market result` of a task that does not exist says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMarketConfig } from '../../market/config.js';
import { createContext, type Context } from '../../market/context.js';
import { deployModel, retireModel, upgradeModel } from '../../market/commands/models.js';
import { result } from '../../market/commands/task.js';
import { classifierPath } from '../../scripts/lib/marketplace.js';
import { keyOf } from '../devnet/helpers.js';
import { chainFixture, type ChainFixture } from '../signer/devnet-fixture.js';

let fx: ChainFixture;
let dir: string;

beforeAll(async () => {
  fx = await chainFixture();
  dir = mkdtempSync(join(tmpdir(), 'market-models-'));
}, 120_000);
afterAll(async () => {
  await fx?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** A market context for a dev account (no signer: nothing here may get that far). */
function ctxOf(account: string): Context {
  const keyFile = join(dir, `${account}.key`);
  writeFileSync(keyFile, keyOf(fx.devnet, account), { mode: 0o600 });
  return createContext(
    loadMarketConfig(undefined, {
      node_url: fx.devnet.url,
      signer_url: 'http://127.0.0.1:1',
      key_file: keyFile,
      network: 'devnet',
    }),
    true,
  );
}

async function tip(): Promise<number> {
  return ((await (await fetch(`${fx.devnet.url}/v2/info`)).json()) as { stacks_tip_height: number }).stacks_tip_height;
}

describe('model commands check before they pay', () => {
  it('refuses to deploy a file onnxruntime cannot load, sending nothing', async () => {
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, 'hello\n');
    const before = await tip();
    await expect(deployModel(ctxOf('wallet_3'), junk, 'junk', '100')).rejects.toThrow(
      /not a model onnxruntime can load.*nothing was sent/,
    );
    expect(await tip()).toBe(before);
  }, 60_000);

  it('refuses to deploy under a name that exists already', async () => {
    const before = await tip();
    await expect(deployModel(ctxOf('wallet_3'), classifierPath(), 'mnist', '100')).rejects.toThrow(
      /"mnist" exists already .*owner ST/,
    );
    expect(await tip()).toBe(before);
  }, 60_000);

  it("refuses to upgrade or retire a model this wallet does not own (mnist is wallet_1's)", async () => {
    const before = await tip();
    await expect(upgradeModel(ctxOf('wallet_3'), classifierPath(), 'mnist', undefined)).rejects.toThrow(
      /owned by ST.*only its owner can upgrade it/,
    );
    await expect(retireModel(ctxOf('wallet_3'), 'mnist')).rejects.toThrow(/only its owner can retire it/);
    expect(await tip()).toBe(before);
  }, 60_000);

  it('market result of a task that does not exist says so (the chain is asked, not the signer)', async () => {
    await expect(result(ctxOf('wallet_3'), 999n)).rejects.toThrow(/there is no task 999 in the escrow/);
  }, 60_000);
});
