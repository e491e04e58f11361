/**
 * Which marketplace `market` talks to: config/market.toml, then a marketplace `npm start` runs
 * (its marketplace.json, when its process lives and its signer answers), then env, then flags.
 * The live case is tests/e2e/start.test.ts; here, files that must be ignored, and precedence.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMarketCliConfig, loadMarketConfig } from '../../market/config.js';
import { RUNNING_FILE, type RunningMarketplace } from '../../protocol/config/index.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(info: Partial<RunningMarketplace>): string {
  const dir = mkdtempSync(join(tmpdir(), 'market-discovery-'));
  dirs.push(dir);
  const full: RunningMarketplace = {
    devnet_url: 'http://127.0.0.1:1',
    signer_url: 'http://127.0.0.1:1',
    pid: process.pid,
    contracts_address: 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG',
    data_dir: dir,
    started_at: new Date().toISOString(),
    ...info,
  };
  writeFileSync(join(dir, RUNNING_FILE), JSON.stringify(full));
  return dir;
}

/** A pid no process has: a child that already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

/** A stand-in signer that answers /health (only its health is asked here). */
async function healthy(): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => res.end('{"success":true}'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

const defaults = { node_url: 'http://127.0.0.1:3999', signer_url: 'http://127.0.0.1:8080' };

describe('market finds a running marketplace', () => {
  it('uses the file when its process lives and its signer answers, below env and flags', async () => {
    const { url, server } = await healthy();
    try {
      const dir = dataDir({ signer_url: url, devnet_url: 'http://127.0.0.1:4999' });
      const notes: string[] = [];
      const found = await loadMarketCliConfig(
        'config/market.toml',
        {},
        { env: {}, dataDir: dir, note: (t) => notes.push(t) },
      );
      expect(found).toMatchObject({
        node_url: 'http://127.0.0.1:4999',
        signer_url: url,
        contracts_address: 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG',
      });
      expect(notes).toEqual([]);
      const env = { MARKET_NODE_URL: 'http://env:1' };
      expect(
        await loadMarketCliConfig(undefined, { signer_url: 'http://flag:2' }, { env, dataDir: dir }),
      ).toMatchObject({ node_url: 'http://env:1', signer_url: 'http://flag:2' });
      // Another network than the devnet never takes a local marketplace's URLs.
      expect(await loadMarketCliConfig(undefined, { network: 'testnet' }, { env: {}, dataDir: dir })).toMatchObject(
        defaults,
      );
    } finally {
      server.close();
    }
  });

  it('ignores, with a note, a file whose process is gone, whose signer does not answer, or that is not one', async () => {
    const cases: [string, RegExp][] = [
      [dataDir({ pid: await deadPid() }), /is stale \(npm start process \d+ is gone\); ignoring it/],
      [
        dataDir({ signer_url: 'http://127.0.0.1:1' }),
        /names a signer at http:\/\/127\.0\.0\.1:1 that does not answer \/health; ignoring it/,
      ],
    ];
    const junk = mkdtempSync(join(tmpdir(), 'market-discovery-'));
    dirs.push(junk);
    writeFileSync(join(junk, RUNNING_FILE), '{"pid": "x"}');
    cases.push([junk, /is not a marketplace description; ignoring it/]);
    for (const [dir, note] of cases) {
      const notes: string[] = [];
      expect(
        await loadMarketCliConfig('config/market.toml', {}, { env: {}, dataDir: dir, note: (t) => notes.push(t) }),
      ).toMatchObject(defaults);
      expect(notes).toEqual([expect.stringMatching(note)]);
    }
  });

  it('names the source of a bad value: the file, the variable or the flag', () => {
    expect(() => loadMarketConfig(undefined, { network: 'moon' }, {})).toThrow(/^flag --network: network: /m);
    expect(() => loadMarketConfig(undefined, {}, { MARKET_SIGNER_URL: 'nope' })).toThrow(
      /^environment MARKET_SIGNER_URL="nope": signer_url: /m,
    );
    expect(() => loadMarketConfig('config/nope.toml')).toThrow(/cannot read config file config\/nope\.toml/);
  });
});
