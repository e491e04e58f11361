/**
 * The model catalog: on the real devnet it is the model-registry (heads, versions walked through
 * parent links, names found by scanning outputs, the escrow's shares, signed registry calls from
 * the signer's account); without a chain it is the console's published uploads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateKeyToAddress, randomPrivateKey } from '@stacks/transactions';
import {
  deployModelArgs,
  retireModelArgs,
  rollbackModelArgs,
  upgradeModelArgs,
} from '../../protocol/contracts/index.js';
import { sha256Hex } from '../../protocol/index.js';
import { ApiError, openDatabase, type SignerDatabase } from '../../signer/index.js';
import { Catalog } from '../../signer/catalog/index.js';
import { sendRegistryCall } from '../../signer/catalog/publish.js';
import { consoleModels } from '../../signer/db/index.js';
import { StacksApiChain } from '../../signer/chain/stacks-api.js';
import { chainFixture, type ChainFixture } from './devnet-fixture.js';
import { ESCROW, addTasks, makeSigner, testDatabaseLocation } from './helpers.js';
import { addressOf } from '../devnet/helpers.js';

describe('catalog on the devnet', () => {
  let fx: ChainFixture;
  let chain: StacksApiChain;
  let store: SignerDatabase;
  let catalog: Catalog;
  const send = (fn: string, args: Parameters<typeof sendRegistryCall>[2]) =>
    sendRegistryCall(chain, fn, args, { timeoutMs: 20_000, pollMs: 20 });

  beforeAll(async () => {
    fx = await chainFixture();
    chain = fx.chain();
    store = openDatabase(testDatabaseLocation());
    // A long cache: every change below is seen only because the catalog is told (invalidate).
    catalog = new Catalog({ store, chain, cacheMs: 600_000 });
  });
  afterAll(async () => {
    store?.close();
    await fx?.cleanup();
  });

  it('reads a model deployed by another account, and lists it without a task naming it', async () => {
    const head = await catalog.head('mnist');
    expect(head).toEqual({
      name: 'mnist',
      output_id: '1',
      artifact_hash: fx.artifactHash,
      version: 1,
      price: '1000',
      owner: addressOf(fx.devnet, 'wallet_1'),
      format: 'onnx',
      uri: 'https://models.example/mnist.onnx',
      source: 'chain',
    });
    expect(await catalog.head('never-deployed')).toBeNull();
    // Names the registry cannot hold are simply not there (not a failed read).
    expect(await catalog.head('modèle')).toBeNull();
    expect(await catalog.head('m'.repeat(65))).toBeNull();
    expect((await catalog.list()).map((m) => m.name)).toEqual(['mnist']);
    expect(await catalog.versions('mnist')).toMatchObject([
      { output_id: '1', version: 1, live: true, retired: false, spent: false },
    ]);
  });

  it("reads the escrow's revenue shares", async () => {
    expect(await catalog.shares()).toEqual({ owner_bps: 1000, treasury_bps: 500 });
  });

  it("follows deploy, upgrade, rollback and retire from the signer's own account", async () => {
    const v1 = sha256Hex('cat v1');
    const v2 = sha256Hex('cat v2');
    await send(
      'deploy',
      deployModelArgs({ model: 'cat', artifactHash: v1, format: 'onnx', price: 50, uri: 'http://signer/v1' }),
    );
    catalog.invalidate('cat');
    const first = await catalog.head('cat');
    expect(first).toMatchObject({
      version: 1,
      artifact_hash: v1,
      price: '50',
      owner: privateKeyToAddress(fx.signerKey, 'testnet'),
    });
    expect(first!.owner).toBe(chain.address);

    await send(
      'upgrade',
      upgradeModelArgs({
        outputId: BigInt(first!.output_id),
        artifactHash: v2,
        format: 'onnx',
        price: 70,
        uri: 'http://signer/v2',
      }),
    );
    catalog.invalidate('cat');
    const second = await catalog.head('cat');
    expect(second).toMatchObject({ version: 2, artifact_hash: v2, price: '70' });

    await send('rollback', rollbackModelArgs(BigInt(second!.output_id), BigInt(first!.output_id)));
    catalog.invalidate('cat');
    const third = await catalog.head('cat');
    expect(third).toMatchObject({ version: 3, artifact_hash: v1, price: '70', uri: 'http://signer/v1' });
    expect((await catalog.list()).map((m) => m.name)).toEqual(['cat', 'mnist']);

    await send('retire', retireModelArgs(BigInt(third!.output_id)));
    catalog.invalidate('cat');
    expect(await catalog.head('cat')).toBeNull();
    expect((await catalog.list()).map((m) => m.name)).toEqual(['mnist']);
    expect(
      (await catalog.versions('cat')).map((v) => ({
        version: v.version,
        artifact_hash: v.artifact_hash,
        retired: v.retired,
        live: v.live,
      })),
    ).toEqual([
      { version: 3, artifact_hash: v1, retired: true, live: false },
      { version: 2, artifact_hash: v2, retired: false, live: false },
      { version: 1, artifact_hash: v1, retired: false, live: false },
    ]);
  });

  it('names the contract error when a registry call fails', async () => {
    await expect(
      send(
        'deploy',
        deployModelArgs({ model: 'mnist', artifactHash: sha256Hex('x'), format: 'onnx', price: 1, uri: '' }),
      ),
    ).rejects.toThrow(/ERR_MODEL_EXISTS: this name was deployed before/);
    await expect(send('retire', retireModelArgs(1n))).rejects.toThrow(/ERR_NOT_OWNER/);
  });
});

describe('catalog with a chain it cannot reach', () => {
  it('answers 503 naming the call, and reads again once asked again', async () => {
    const store = openDatabase(testDatabaseLocation());
    try {
      const chain = new StacksApiChain({
        apiUrl: 'http://127.0.0.1:9',
        network: 'devnet',
        escrowContract: ESCROW,
        privateKey: randomPrivateKey(),
      });
      const catalog = new Catalog({ store, chain, cacheMs: 600_000 });
      for (let i = 0; i < 2; i++) {
        const err = await catalog.head('mnist').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ApiError);
        expect(err).toMatchObject({
          status: 503,
          message: expect.stringMatching(/^cannot read model-registry.get-head from the chain \(chain.api_url\): /),
        });
      }
    } finally {
      store.close();
    }
  });
});

describe('catalog without a chain', () => {
  it('is the latest published console upload of each name', async () => {
    const t = makeSigner();
    try {
      const row = (name: string, sha: string, status: string, version: number | null, price: string | null) =>
        t.s.store.db
          .insert(consoleModels)
          .values({
            name,
            sha256: sha256Hex(sha),
            size: 10,
            status,
            version,
            price,
            output_id: null,
            created_at: 1,
            updated_at: 1,
          })
          .run();
      row('ocr', 'ocr v1', 'unpublished', 1, '5');
      row('ocr', 'ocr v2', 'published', 2, '9');
      row('ocr', 'ocr v3', 'validated', null, null);
      row('draft', 'draft', 'uploaded', null, null);
      addTasks(t, { model: 'seen-on-chain-only' });
      const { catalog } = t.s;

      expect(await catalog.head('ocr')).toEqual({
        name: 'ocr',
        output_id: 'console:2',
        artifact_hash: sha256Hex('ocr v2'),
        version: 2,
        price: '9',
        owner: '',
        format: 'onnx',
        uri: `/api/v1/models/${sha256Hex('ocr v2')}/artifact`,
        source: 'console',
      });
      expect(await catalog.head('draft')).toBeNull();
      expect(await catalog.shares()).toBeNull();
      expect((await catalog.list()).map((m) => m.name)).toEqual(['ocr']);
      expect((await catalog.versions('ocr')).map((v) => [v.version, v.live, v.retired])).toEqual([
        [2, true, false],
        [1, false, false],
      ]);
    } finally {
      t.close();
    }
  });
});
