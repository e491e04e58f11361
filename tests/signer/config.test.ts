import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, resolveConfig } from '../../signer/index.js';

const dir = mkdtempSync(join(tmpdir(), 'signer-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('signer configuration', () => {
  it('config/signer.toml is valid and equals the built-in defaults', () => {
    expect(loadConfig('config/signer.toml', {}, {})).toEqual(resolveConfig({}));
    expect(resolveConfig({})).toMatchObject({
      server: { port: 8080, host: '127.0.0.1' },
      network: { heartbeat_interval_ms: 30_000, max_nodes: 100, default_privacy_mode: 'standard' },
    });
  });

  it('environment overrides the file and flags override both', () => {
    const path = join(dir, 'a.toml');
    writeFileSync(path, '[server]\nport = 9000\n[database]\npath = "/tmp/from-file.db"\n');
    const env = { SIGNER_PORT: '9100', SIGNER_DB: '/tmp/from-env.db', SIGNER_PRIVATE_KEY: 'ab'.repeat(32) };
    const c = loadConfig(path, {}, env);
    expect(c.server.port).toBe(9100);
    expect(c.database.path).toBe('/tmp/from-env.db');
    expect(c.chain.private_key).toBe('ab'.repeat(32));
    const f = loadConfig(path, { apiPort: 0, database: '/tmp/flag.db', apiHost: '0.0.0.0', debug: true }, env);
    expect(f).toMatchObject({
      server: { port: 0, host: '0.0.0.0' },
      database: { path: '/tmp/flag.db' },
      log: { level: 'debug' },
    });
  });

  it('database.url: a file or a postgres:// URL, from the file (or its older key path), DATABASE_URL, SIGNER_DB or --database', () => {
    expect(resolveConfig({}).database).toEqual({ url: './data/inference.db', path: './data/inference.db' });
    expect(resolveConfig({ database: { path: '/tmp/old.db' } }).database.url).toBe('/tmp/old.db');
    const pg = 'postgres://signer:s3cret@db:5432/signer';
    expect(resolveConfig({ database: { url: pg, path: '/tmp/old.db' } }).database).toEqual({ url: pg, path: pg });
    expect(resolveConfig({}, {}, { DATABASE_URL: pg }).database.url).toBe(pg);
    expect(resolveConfig({}, {}, { DATABASE_URL: pg, SIGNER_DB: '/tmp/env.db' }).database.url).toBe('/tmp/env.db');
    expect(resolveConfig({ database: { url: pg } }, { database: '/tmp/flag.db' }).database.url).toBe('/tmp/flag.db');
    expect(() => resolveConfig({ database: { url: '' } })).toThrow(/database\.url/);
  });

  it('names the key and the problem for bad values, unknown keys and broken TOML', () => {
    const bad = join(dir, 'bad.toml');
    writeFileSync(bad, '[submitter]\nbatch_size = 500\n[server]\nprot = 1\n');
    expect(() => loadConfig(bad, {}, {})).toThrow(ConfigError);
    expect(() => loadConfig(bad, {}, {})).toThrow(/submitter\.batch_size.*200/s);
    expect(() => loadConfig(bad, {}, {})).toThrow(/prot/);
    writeFileSync(bad, '[server\nport = 1');
    expect(() => loadConfig(bad, {}, {})).toThrow(/not valid TOML/);
    expect(() => loadConfig(join(dir, 'missing.toml'), {}, {})).toThrow(/cannot read config file/);
    expect(() => resolveConfig({}, {}, { SIGNER_PORT: 'eighty' })).toThrow(/SIGNER_PORT="eighty" is not a number/);
  });
});

describe('signer CLI', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'signer/cli.ts', ...args], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, SIGNER_PRIVATE_KEY: '' },
    });

  it('prints usage for a missing command and for bad flags, exit code 2', () => {
    const none = cli();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/usage: signer run/);
    const bad = cli('run', '--api-port', 'http');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--api-port must be a port number/);
    expect(cli('run', '--nope').stderr).toMatch(/Unknown option '--nope'/);
  });

  it('refuses an invalid config file with the key named, exit code 1', () => {
    const path = join(dir, 'cli.toml');
    writeFileSync(path, '[network]\ndefault_privacy_mode = "public"\n');
    const res = cli('run', '--config', path);
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/network\.default_privacy_mode/);
  });
});
