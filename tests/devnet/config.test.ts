/** config/devnet.toml: documented defaults, environment overrides, clear errors. */
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDevnetConfig } from '../../devnet/index.js';

afterEach(() => {
  delete process.env.DEVNET_PORT;
  delete process.env.DEVNET_BLOCK_TIME_MS;
});

describe('devnet configuration', () => {
  it('reads the shipped file: loopback, port 3999, a block per transaction, no idle blocks', () => {
    expect(loadDevnetConfig('config/devnet.toml')).toEqual({
      host: '127.0.0.1',
      port: 3999,
      data_dir: './.devnet',
      block_time_ms: 0,
      max_block_txs: 500,
      idle_block_ms: 0,
      manifest: './Clarinet.toml',
    });
  });

  it('lets environment variables, then flags, override the file', () => {
    process.env.DEVNET_PORT = '4100';
    process.env.DEVNET_BLOCK_TIME_MS = '2000';
    expect(loadDevnetConfig('config/devnet.toml')).toMatchObject({ port: 4100, block_time_ms: 2000 });
    expect(loadDevnetConfig('config/devnet.toml', { port: '0' })).toMatchObject({ port: 0, block_time_ms: 2000 });
  });

  it('names the key that is wrong, including unknown keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'devnet-config-'));
    writeFileSync(join(dir, 'a.toml'), 'port = -1\n');
    expect(() => loadDevnetConfig(join(dir, 'a.toml'))).toThrow(/port/);
    writeFileSync(join(dir, 'b.toml'), 'blocktime = 5\n');
    expect(() => loadDevnetConfig(join(dir, 'b.toml'))).toThrow(/blocktime/);
  });
});
