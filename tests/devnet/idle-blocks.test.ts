/**
 * A chain whose heights move only with transactions never reaches a deadline nobody pays a
 * transaction for: `market reclaim` and a prepaid withdrawal would wait forever on an idle
 * `npm start`. With `idle_block_ms` the devnet also mines an empty block after that long without
 * one, as a real chain keeps producing blocks; without it, heights stay put (tests rely on that).
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startDevnet } from '../../devnet/index.js';
import { snapshotProject, tempDevnet } from './helpers.js';

async function tip(url: string): Promise<number> {
  const info = (await (await fetch(`${url}/v2/info`)).json()) as { stacks_tip_height: number };
  return info.stacks_tip_height;
}

describe('idle blocks', () => {
  it('mines empty blocks on an idle chain with idle_block_ms, and none without it', async () => {
    const idle = await tempDevnet({ idleBlockMs: 150 });
    const still = await tempDevnet();
    try {
      const [a0, b0] = [await tip(idle.devnet.url), await tip(still.devnet.url)];
      await new Promise((r) => setTimeout(r, 1500));
      expect(await tip(idle.devnet.url)).toBeGreaterThanOrEqual(a0 + 3);
      expect(await tip(still.devnet.url)).toBe(b0);
    } finally {
      await idle.cleanup();
      await still.cleanup();
    }
  }, 60_000);

  it('keeps the idle blocks across a restart: heights replay from the log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'devnet-idle-'));
    const manifestPath = snapshotProject();
    try {
      const first = await startDevnet({ dataDir: dir, idleBlockMs: 100, manifestPath });
      await new Promise((r) => setTimeout(r, 800));
      await first.close();
      const height = first.replay.blocks;
      const again = await startDevnet({ dataDir: dir, manifestPath });
      try {
        const mined = await tip(again.url);
        expect(mined).toBeGreaterThan(2);
        expect(again.replay.blocks).toBeGreaterThan(height);
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(dirname(manifestPath), { recursive: true, force: true });
    }
  }, 60_000);
});
