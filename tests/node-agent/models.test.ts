/**
 * A model is served only when its sha256 is the artifact hash: a local file that differs from
 * its pinned hash is refused, and so is a download whose bytes do not hash to what was asked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DynamicBatcher,
  ModelRefusedError,
  ModelStore,
  WorkerPool,
  scanModels,
  sha256File,
} from '../../node-agent/index.js';
import { CLS } from './helpers.js';

let dir: string;
let pool: WorkerPool;
let batcher: DynamicBatcher;
const host = () => ({ load: pool.load.bind(pool), register: batcher.register.bind(batcher) });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'agent-models-'));
  pool = await WorkerPool.start({ workers: 1, intraOpThreads: 1, engine: 'onnxruntime' });
  batcher = new DynamicBatcher(pool, { maxBatch: 4, maxQueueDelayMs: 2 });
});
afterAll(async () => {
  batcher.close();
  await pool.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('model files and artifact hashes', () => {
  it('hashes the packaged classifier to its pinned artifact hash', async () => {
    expect(await sha256File(CLS.path)).toBe(CLS.sha256);
  });

  it('refuses a configured model whose file does not match its sha256, and serves the rest', async () => {
    const tampered = join(dir, 'tampered.onnx');
    const bytes = readFileSync(CLS.path);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(tampered, bytes);
    const { models, refused } = await scanModels(
      [
        { name: 'cls', path: CLS.path, sha256: CLS.sha256, warmupShape: {} },
        { name: 'evil', path: tampered, sha256: CLS.sha256, warmupShape: {} },
        { name: 'gone', path: join(dir, 'missing.onnx'), warmupShape: {} },
      ],
      '',
    );
    expect(models.map((m) => m.name)).toEqual(['cls']);
    expect(refused[0]).toEqual({
      path: tampered,
      reason: expect.stringMatching(
        new RegExp(`^sha256 is [0-9a-f]{64}, expected ${CLS.sha256}: the file is not the published artifact$`),
      ),
    });
    expect(refused[1]!.reason).toMatch(/^cannot read model file/);
  });

  it('serves every .onnx of the models folder under its own hash, once per hash', async () => {
    const folder = join(dir, 'folder');
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder);
    copyFileSync(CLS.path, join(folder, 'a.onnx'));
    copyFileSync(CLS.path, join(folder, 'b.onnx'));
    writeFileSync(join(folder, 'notes.txt'), 'not a model');
    const { models } = await scanModels([], folder);
    expect(models).toEqual([{ name: 'a', artifactHash: CLS.sha256, path: join(folder, 'a.onnx'), warmupShape: {} }]);
  });

  it('loads a downloaded artifact only when its bytes hash to the on-chain hash', async () => {
    const good = readFileSync(CLS.path);
    const bad = Buffer.from(good);
    bad[100] ^= 0x01;
    let downloads = 0;
    const cache = join(dir, 'cache');
    const refusing = new ModelStore(host(), [], cache, async () => bad);
    await expect(refusing.ensure(CLS.sha256)).rejects.toThrow(ModelRefusedError);
    await expect(refusing.ensure(CLS.sha256)).rejects.toThrow(
      /downloaded artifact hashes to [0-9a-f]{64}, not the on-chain artifact hash/,
    );
    const store = new ModelStore(host(), [], cache, async () => {
      downloads++;
      return good;
    });
    const [a, b] = await Promise.all([store.ensure(CLS.sha256), store.ensure(CLS.sha256)]);
    expect(a).toBe(b);
    expect(downloads).toBe(1);
    expect(await sha256File(join(cache, `${CLS.sha256}.onnx`))).toBe(CLS.sha256);
    expect(store.served()).toEqual([CLS.sha256]);
    const none = new ModelStore(host(), [], cache);
    await expect(none.ensure('ab'.repeat(32))).rejects.toThrow('is not on this node and downloads are off');
  });
});
